"""``generate-candidates`` over a harvested catalog, through Prefect and Dask, against the
scripted server: the monthly flow with an endpoint, an unchanged rerun, and a real SIGKILL in
the middle of a ``stormborn generate`` process followed by a restart."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.io.llm.cache import entries_in
from tasks.io.storage import Lake, query
from tests.flows.test_harvest import run_flow
from tests.llm_server import Script, ScriptedLLM

pytestmark = pytest.mark.usefixtures("prefect_api")

CONTENT = ("candidate_id, paper_id, target_expr, precondition_exprs, query, answer, answer_evidence, "
           "question_evidence, question, verdict, verdict_rationale, grounded_score, answer_span, stage_reached, "
           "status, reason, prompt_versions, models")
"""Every analyst column except run_id, updated_at and spend (a resumed run pays only for what it
had not asked yet, so its per-candidate spend differs by design)."""


def run_generate(settings, **kwargs):
    from flows.generate import generate_candidates
    from flows.runtime import dask_task_runner, prefect_api

    with prefect_api(settings):
        return generate_candidates.with_options(task_runner=dask_task_runner(settings))(settings=settings, **kwargs)


def with_llm(settings, server, **llm):
    base = dict(base_url=server.base_url, retries=8, backoff_s=0.01, backoff_max_s=0.05, timeout_s=5.0)
    return settings.model_copy(update={"llm": settings.llm.model_copy(update=base | llm)})


def candidates(settings):
    return query(settings, f"SELECT {CONTENT} FROM candidates ORDER BY candidate_id").to_json(orient="records")


def test_monthly_flow_generates_and_an_unchanged_rerun_calls_nothing(settings):
    from tasks.harvest.sources.snapshot import SnapshotSource

    since, until = SnapshotSource(settings).default_window
    with ScriptedLLM() as server:
        settings = with_llm(settings, server)
        run = run_flow(settings, since=since, until=until, source="snapshot")
        assert run.papers_extracted == 2 and run.candidates > 10 and 0 < run.candidates_kept < run.candidates
        assert run.llm_calls == server.log.requests and run.cost_usd > 0
        counts = query(settings, "SELECT status, count(*) AS n FROM candidates GROUP BY ALL")
        assert counts.n.sum() == run.candidates
        no_reason = query(settings, "SELECT count(*) AS n FROM candidates WHERE status <> 'done' AND reason IS NULL")
        assert no_reason.n[0] == 0
        ledger = query(settings, "SELECT count(*) AS n, sum(cost_usd) AS usd FROM llm_calls")
        assert ledger.n[0] == run.llm_calls and ledger.usd[0] == pytest.approx(run.cost_usd, abs=1e-6)
        before = candidates(settings)

        requests = server.log.requests
        again = run_generate(settings)
        assert (again.status, again.llm_calls, server.log.requests) == ("completed", 0, requests)
        assert candidates(settings) == before
        funnel = query(settings, "SELECT candidates, candidates_kept, llm_calls FROM run_funnel "
                                 "WHERE run_id = '%s'" % run.run_id)
        assert funnel.candidates[0] == run.candidates


def test_killed_generate_resumes_to_the_same_tables(settings, tmp_path):
    from prefect.settings import get_current_settings

    from tasks.core.settings import load_settings
    from tasks.harvest.sources.snapshot import SnapshotSource

    since, until = SnapshotSource(settings).default_window
    run_flow(settings, since=since, until=until, source="snapshot")  # harvest + expressions, no LLM
    killed_home = tmp_path / "killed"
    shutil.copytree(settings.home, killed_home)

    with ScriptedLLM(Script(latency_s=0.05)) as server:
        whole = run_generate(with_llm(settings, server))
    expected = candidates(settings)
    assert whole.candidates > 10

    env = {**os.environ, "PREFECT_API_URL": get_current_settings().api.url, "STORMBORN_HOME": str(killed_home),
           "STORMBORN_LLM__CONCURRENCY": "4", "STORMBORN_LLM__RETRIES": "8", "STORMBORN_LLM__BACKOFF_S": "0.01"}
    cli = [sys.executable, "-m", "flows.cli", "generate"]
    cwd = Path(__file__).resolve().parents[2]
    with ScriptedLLM(Script(latency_s=0.4)) as server:
        log = tmp_path / "killed.log"
        process = subprocess.Popen(cli + ["--base-url", server.base_url], env=env, cwd=cwd,
                                   stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 240
        while sum(server.log.served_ok.values()) < whole.llm_calls // 2:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "generation did not get half way"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)  # the CLI, its Dask nanny and workers
        process.wait()
        completed = entries_in(Lake(str(killed_home / "lake")))
        assert 0 < completed < whole.llm_calls
        served_before = server.log.requests

        resumed = subprocess.run(cli + ["--base-url", server.base_url], env=env, cwd=cwd, capture_output=True,
                                 text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
        # no call that had completed (its reply in the cache) was made again; only the ones the
        # kill interrupted (at most the concurrency, 4) were asked twice
        assert server.log.requests - served_before == whole.llm_calls - completed
        assert sum(n - 1 for n in server.log.served_ok.values()) <= 4

    killed = load_settings(home=str(killed_home))
    assert candidates(killed) == expected  # same rows, no duplicates
    dupes = query(killed, "SELECT count(*) - count(DISTINCT candidate_id) AS n FROM candidates")
    assert dupes.n[0] == 0
