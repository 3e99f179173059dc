"""A failed flow run tells ops: the on_failure hook POSTs to a webhook on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

TOKEN = "hooks-token-5e3f1a"


class Receiver:
    """A loopback webhook receiver: answers each POST with the next status of ``statuses``
    (200 once they run out) and keeps the bodies it got."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.bodies: list[dict] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's name
                receiver.attempts += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.bodies.append(body)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch, settings):
    r = Receiver()
    monkeypatch.setenv("STORMBORN_OPS__WEBHOOK_URL", r.url)
    monkeypatch.setenv("STORMBORN_OPS__UI_URL", "http://127.0.0.1:4200")
    yield r
    r.close()


def run_failing(url_in_error: str):
    from prefect import flow

    from tasks.io.notify import notify_failure

    @flow(name="doomed-harvest", on_failure=[notify_failure])
    def doomed():
        raise RuntimeError(f"listing failed: GET {url_in_error}\nsecond line of the traceback")

    state = doomed(return_state=True)
    assert state.is_failed()
    return state


def test_a_failed_run_posts_one_message_with_the_secret_redacted(prefect_api, receiver):
    state = run_failing(receiver.url)
    (body,) = receiver.bodies
    assert body["flow"] == "doomed-harvest" and body["state"] == "Failed"
    assert "RuntimeError: listing failed: GET" in body["message"] and "second line" not in body["message"]
    assert TOKEN not in json.dumps(body)  # the webhook URL is a secret: never echoed, even back to itself
    assert body["flow_run_id"] and body["url"] == f"http://127.0.0.1:4200/runs/flow-run/{body['flow_run_id']}"
    assert "doomed-harvest" in body["text"] and body["url"] in body["text"]
    assert "listing failed" in str(state.message)  # the run's own error is untouched


def test_a_receiver_error_is_retried(prefect_api, receiver, monkeypatch):
    monkeypatch.setenv("STORMBORN_OPS__WEBHOOK_ATTEMPTS", "3")
    receiver.statuses = [503, 500]
    run_failing("http://svc/")
    assert receiver.attempts == 3 and len(receiver.bodies) == 1


def test_a_receiver_that_stays_down_is_logged_and_the_run_stays_failed(prefect_api, monkeypatch, settings, caplog):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("STORMBORN_OPS__WEBHOOK_URL", f"http://127.0.0.1:{port}/hooks/{TOKEN}")
    monkeypatch.setenv("STORMBORN_OPS__WEBHOOK_ATTEMPTS", "2")
    with caplog.at_level("WARNING", logger="tasks.io.notify"):
        state = run_failing("http://svc/")
    assert "listing failed" in str(state.message)
    warnings = [r.getMessage() for r in caplog.records if r.name == "tasks.io.notify"]
    assert warnings == ["failure notification not delivered: ConnectError"]


def test_a_refused_message_is_logged_by_status_without_the_url_from_a_secret_block(
        prefect_api, receiver, monkeypatch, caplog):
    from prefect.blocks.system import Secret

    Secret(value=receiver.url).save("ops-webhook-test", overwrite=True)
    monkeypatch.setenv("STORMBORN_OPS__WEBHOOK_URL", "prefect-secret:ops-webhook-test")
    receiver.statuses = [404]
    with caplog.at_level("WARNING", logger="tasks.io.notify"):
        run_failing(receiver.url)
    assert receiver.attempts == 1 and receiver.bodies == []  # a 4xx is not retried
    warnings = [r.getMessage() for r in caplog.records if r.name == "tasks.io.notify"]
    assert warnings == ["failure notification not delivered: HTTP 404"]
    receiver.statuses = []
    run_failing(receiver.url)  # the Secret block's URL, resolved; redacted from the message
    assert TOKEN not in str(receiver.bodies[-1]) and "[redacted]" in receiver.bodies[-1]["message"]


def test_no_webhook_configured_sends_nothing(prefect_api, settings):
    from tasks.core.settings import load_settings

    assert load_settings().ops.webhook_url is None
    run_failing("http://svc/")  # and nothing raised by the hook


def test_the_pipeline_flows_notify_on_failure():
    from flows.evaluate import evaluate_models
    from flows.extract import extract_expressions
    from flows.generate import generate_candidates
    from flows.harvest import monthly_harvest
    from flows.refine import refine_candidates
    from tasks.io.notify import notify_failure

    for flow in (monthly_harvest, extract_expressions, generate_candidates, refine_candidates, evaluate_models):
        assert notify_failure in flow.on_failure_hooks and notify_failure in flow.on_crashed_hooks, flow.name
