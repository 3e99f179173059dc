"""A run on a real cluster: the monthly flow deployed to the PostgreSQL-backed Prefect server of
``stormborn stack`` and run by its worker, tasks on the stack's Dask scheduler (workers started in
their own working directories), the lake on ``s3://`` (moto's server). One Dask worker is
SIGKILLed while it runs tasks: the run completes and its tables equal a LocalCluster run's on the
same recorded snapshot, row for row. The Prefect UI shows the run; a failed run notifies ops."""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from tasks.core.settings import load_settings
from tests.factories import recorded_snapshot
from tests.flows.test_stack import free_ports
from tests.tasks.io.test_notify import Receiver

PAPERS = 160
WINDOW = {"since": "2024-05-01", "until": "2024-05-31"}
TABLES = ("papers", "reviews", "paper_filters", "documents", "extractions", "sections", "expressions",
          "expression_edges", "candidates", "rejects", "quarantine")
RUN_SPECIFIC = re.compile(r"(^|_)(run_id|lake|uri|at|seconds|path|prefect_flow_run_id)$|_at$")
"""Columns that name the run, its lake or its clock: they differ between two runs by design."""
CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.timeout(900)  # the stack's start, two runs of 160 papers and a browser


@pytest.fixture(scope="module")
def cluster():
    """The stack with 2 Dask workers, a recorded snapshot, the webhook receiver ops would have."""
    from flows.stack import down, stack_settings, up

    home = Path(tempfile.mkdtemp(prefix="stormborn-cluster-"))  # PostgreSQL (its own user) reaches it
    receiver = Receiver()
    names = ["postgres_port", "prefect_port", "dask_port", "dask_dashboard_port", "s3_port", "review_port",
             "dashboard_port"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        mp.setenv("STORMBORN_HOME", str(home))
        for key, port in zip(names, free_ports(len(names))):
            mp.setenv(f"STORMBORN_STACK__{key.upper()}", str(port))
        # inherited by every stack process: small batches (many tasks to kill one of), the ops webhook
        mp.setenv("STORMBORN_BATCH_SIZE", "8")
        mp.setenv("STORMBORN_OPS__WEBHOOK_URL", receiver.url)
        settings = load_settings()
        snapshot = recorded_snapshot(home / "snapshot", PAPERS, fetch_latency_s=0.03)
        try:
            layout = up(settings, workers=2, emit=lambda _line: None)
            yield stack_settings(settings, layout), layout, snapshot, receiver
        finally:
            down(settings, emit=lambda _line: None)
            receiver.close()
            shutil.rmtree(home, ignore_errors=True)


def _deploy_and_start(layout, parameters: dict):
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deploy import deploy_monthly_harvest

    with temporary_settings(updates={PREFECT_API_URL: layout.api_url}):
        deploy_monthly_harvest()
        return run_deployment("monthly-harvest/monthly-harvest", parameters=parameters, timeout=0)


def _wait_final(layout, flow_run_id, timeout_s: float = 420):
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    deadline = time.monotonic() + timeout_s
    with temporary_settings(updates={PREFECT_API_URL: layout.api_url}), get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            run = client.read_flow_run(flow_run_id)
            if run.state and run.state.is_final():
                return run
            time.sleep(1)
    raise AssertionError(f"flow run {flow_run_id} did not finish in {timeout_s:.0f}s")


def _kill_a_busy_worker(layout, timeout_s: float = 240) -> tuple[str, list[str]]:
    """SIGKILL the process of a Dask worker while it runs tasks; returns its address and tasks."""
    from distributed import Client

    deadline = time.monotonic() + timeout_s
    with Client(layout.dask_address, timeout=30) as client:
        while time.monotonic() < deadline:
            busy = {worker: keys for worker, keys in client.processing().items() if keys}
            if busy:
                worker, keys = next(iter(busy.items()))
                pid = client.run(os.getpid, workers=[worker])[worker]
                os.kill(pid, signal.SIGKILL)
                return worker, [str(k) for k in keys]
            time.sleep(0.05)
    raise AssertionError("no Dask worker ever ran a task")


def _local_run(tmp: Path, snapshot: Path):
    """The same flow on a LocalCluster (2 worker processes) into a local lake."""
    from flows.harvest import monthly_harvest
    from flows.runtime import dask_task_runner, prefect_api

    settings = load_settings(home=str(tmp / "local"), dask_workers=2, batch_size=8)
    with prefect_api(settings):
        flow = monthly_harvest.with_options(task_runner=dask_task_runner(settings))
        flow(settings=settings, source="snapshot", path=str(snapshot),
             since=date.fromisoformat(WINDOW["since"]), until=date.fromisoformat(WINDOW["until"]))
    return settings


def _rows(settings, table: str) -> list[tuple]:
    """A table as the analysts see it, less the columns that name the run, lake or clock."""
    from tasks.io.storage import query

    frame = query(settings, f"SELECT * FROM {table}")
    frame = frame[[c for c in frame.columns if not RUN_SPECIFIC.search(c)]]
    return sorted(tuple(str(v) for v in row) for row in frame.itertuples(index=False))


def _raw_rows(settings, table: str) -> int:
    """Rows in every Parquet part of the table, before the catalog's de-duplication by key: a task
    that ran twice and wrote its rows under a new part would show here."""
    import pyarrow.parquet as pq

    from tasks.io.storage import Lake

    lake = Lake.from_settings(settings)
    total = 0
    for path in lake.table_files(table):
        with lake.fs.open(path, "rb") as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total


def test_the_deployed_monthly_flow_survives_a_killed_worker_and_equals_a_local_run(
        cluster, prefect_api, tmp_path):
    settings, layout, snapshot, _ = cluster
    flow_run = _deploy_and_start(layout, {"source": "snapshot", "path": str(snapshot), **WINDOW})
    _kill_a_busy_worker(layout)  # it had tasks in flight: the scheduler reschedules them
    finished = _wait_final(layout, flow_run.id)
    assert finished.state.is_completed(), finished.state

    # the flow ran where it was sent: the stack's worker, the external scheduler, the s3 lake
    from tasks.io.storage import query

    run = query(settings, "SELECT * FROM runs WHERE prefect_flow_run_id = $id", {"id": str(flow_run.id)})
    assert len(run) == 1 and run.status[0] == "completed" and run.lake[0].startswith("s3://")
    assert run.listed[0] == PAPERS

    local = _local_run(tmp_path, snapshot)
    for table in TABLES:
        assert _rows(settings, table) == _rows(local, table), table
        assert _raw_rows(settings, table) == _raw_rows(local, table), f"{table}: rows duplicated or lost"
    assert len(_rows(settings, "documents")) == 2 * PAPERS  # an e-print and a (missing) PDF each

    # the stack's dashboard (its own process) shows this run from the catalog the flow published
    dashboard = f"http://127.0.0.1:{layout.dashboard_port}"
    for page in ("/funnel", "/validation", "/spend", "/candidates", "/review"):
        response = httpx.get(dashboard + page, timeout=60)
        assert response.status_code == 200 and "No catalog yet" not in response.text, page
    assert f">{PAPERS}<" in httpx.get(dashboard + "/funnel", timeout=60).text.replace(",", "")
    docs = httpx.get(dashboard + "/data-docs/index.html", timeout=60)  # built into the s3 lake at the run's end
    assert docs.status_code == 200 and "papers" in docs.text

    _screenshot_of_the_run_in_the_prefect_ui(layout, finished, tmp_path)


def _screenshot_of_the_run_in_the_prefect_ui(layout, flow_run, tmp_path):
    from playwright.sync_api import expect, sync_playwright
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests.reviewapp.test_browser import CHROMIUM_ARGS

    assert shutil.which(CHROMIUM), "Chromium is missing: `scripts/bootstrap --dev` installs Debian's chromium"
    with temporary_settings(updates={PREFECT_API_URL: layout.api_url}), get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
    assert {"harvest-funnel", "harvest-rejects", "harvest-summary"} <= {a.key for a in artifacts}
    ui = layout.api_url.removesuffix("/api")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{ui}/runs/flow-run/{flow_run.id}")
        expect(page.get_by_text(flow_run.name).first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Completed").first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(tmp_path / "prefect-ui-run.png"))
        page.get_by_role("tab", name="Artifacts").or_(page.get_by_text("Artifacts", exact=True)).first.click()
        expect(page.get_by_text("harvest-summary").first).to_be_visible(timeout=60_000)
        page.screenshot(path=str(tmp_path / "prefect-ui-artifacts.png"))
        browser.close()
    if os.environ.get("STORMBORN_SCREENSHOTS"):  # regenerate the README's pictures
        target = Path(__file__).resolve().parents[2] / "docs" / "stack"
        target.mkdir(parents=True, exist_ok=True)
        for name in ("prefect-ui-run.png", "prefect-ui-artifacts.png"):
            shutil.copy(tmp_path / name, target / name)


def test_a_failed_deployed_run_notifies_ops(cluster):
    _, layout, _, receiver = cluster
    before = len(receiver.bodies)
    flow_run = _deploy_and_start(layout, {"source": "no-such-source", **WINDOW})
    finished = _wait_final(layout, flow_run.id, timeout_s=240)
    assert finished.state.is_failed()
    deadline = time.monotonic() + 30
    while len(receiver.bodies) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    body = receiver.bodies[-1]
    assert body["flow"] == "monthly-harvest" and body["flow_run_id"] == str(flow_run.id)
    assert body["state"] == "Failed" and body["deployment_id"] and body["message"]
    # the link opens the run in this server's UI (the page the other test photographs)
    assert body["url"] == f"{layout.api_url.removesuffix('/api')}/runs/flow-run/{flow_run.id}"
