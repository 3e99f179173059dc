"""THE ops notification boundary: a failed flow run POSTs a message to a webhook.

Every flow lists ``notify_failure`` as its ``on_failure`` and ``on_crashed`` hook (Prefect calls
it in the flow's own process once the run has failed or crashed, whether the CLI, a deployment's
worker or a test ran it).
The webhook is ``ops.webhook_url`` (a secret: incoming-webhook URLs carry their token); unset,
nothing is sent. The message is redacted with every secret of the settings before it leaves,
retried with back-off (tenacity), and a receiver that stays down is logged: the hook never
raises, so the run's own failure stays the error ops see in the Prefect UI.

Input: the flow, its flow run and the failed state (Prefect's hook signature).
Output: one JSON POST: ``text`` (one line for chat webhooks), ``flow``, ``flow_run_id``,
``flow_run_name``, ``state``, ``message``, ``deployment_id``, ``url`` (the run in the Prefect UI).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from tasks.core.settings import Settings, load_settings, redact, reveal

log = logging.getLogger(__name__)


def failure_message(settings: Settings, flow_name: str, flow_run: Any, state: Any) -> dict[str, Any]:
    """The JSON body for one failed run; every configured secret redacted from the state's text."""
    secrets = settings.secret_values() + [reveal(settings.ops.webhook_url)]  # a Secret block's value too
    detail = redact(str(getattr(state, "message", "") or ""), secrets).splitlines()
    message = detail[0][:500] if detail else ""
    run_id = str(getattr(flow_run, "id", ""))
    ui = _ui_url(settings)
    url = f"{ui}/runs/flow-run/{run_id}" if ui and run_id else ""
    name = getattr(flow_run, "name", "") or ""
    return {
        "text": f"stormborn: flow run {flow_name}/{name} {getattr(state, 'name', 'Failed')}: {message}"
                + (f" ({url})" if url else ""),
        "flow": flow_name, "flow_run_id": run_id, "flow_run_name": name,
        "state": getattr(state, "name", "Failed"), "message": message,
        "deployment_id": str(getattr(flow_run, "deployment_id", "") or ""), "url": url,
    }


def _ui_url(settings: Settings) -> str:
    if settings.ops.ui_url:
        return settings.ops.ui_url.rstrip("/")
    from prefect.settings import get_current_settings

    api = get_current_settings().api.url or ""
    return api.removesuffix("/").removesuffix("/api")


class NotDelivered(Exception):
    """The receiver refused the message (4xx): its text names the status only, never the URL,
    which is a secret that ``redact`` cannot know when it comes from a Prefect Secret block."""


class TryAgain(NotDelivered):
    """A network error, a 5xx or a 429: worth another try."""


def post(settings: Settings, body: dict[str, Any]) -> None:
    """POST ``body`` to the webhook, with ``ops.webhook_attempts`` tries on network errors and 5xx."""
    url = reveal(settings.ops.webhook_url)

    @retry(stop=stop_after_attempt(max(1, settings.ops.webhook_attempts)),
           wait=wait_exponential(multiplier=0.5, max=8), retry=retry_if_exception_type(TryAgain), reraise=True)
    def send() -> None:
        try:
            response = httpx.post(url, json=body, timeout=settings.ops.webhook_timeout_s)
        except httpx.HTTPError as exc:  # its message may quote the URL: keep the class only
            raise TryAgain(type(exc).__name__) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TryAgain(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise NotDelivered(f"HTTP {response.status_code}")

    send()


def notify_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect ``on_failure`` hook: tell ops, never raise."""
    try:
        settings = load_settings()
        if settings.ops.webhook_url is None:
            return
        post(settings, failure_message(settings, getattr(flow, "name", "flow"), flow_run, state))
    except NotDelivered as exc:
        log.warning("failure notification not delivered: %s", exc)
    except Exception as exc:  # noqa: BLE001 — a notification must not replace the run's own error
        log.warning("failure notification not delivered: %s", type(exc).__name__)
