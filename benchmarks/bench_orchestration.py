"""Orchestration overhead per paper: the harvest flow (Prefect + 2 Dask workers) vs the same
task functions called one after another in one process, on a 2,000-paper recorded listing (the
harvest stage and the expressions stage, as the monthly flow runs them).

    .venv/bin/python -m benchmarks.bench_orchestration [--papers 2000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, ensure_prefect, make_snapshot, run_cli


def plain(snapshot: str, home: str) -> None:
    """The flow's work without orchestration: each task's function, sequentially."""
    from tasks.core.settings import load_settings
    from tasks.extract.steps import extract_papers, plan_extraction
    from tasks.harvest.steps import (
        DocumentBatch,
        Found,
        SourceSpec,
        document_batches,
        fetch_venue,
        join_reviews,
        land_papers,
        list_window,
        process_papers,
        run_scope,
    )
    from tasks.io.runs import land_rejects, publish
    from tasks.io.storage import Lake
    from tasks.io.validate import land_validated

    settings = load_settings(home=home)
    spec = SourceSpec("snapshot", snapshot)
    src = spec.build(settings)
    since, until = src.default_window
    scope, run_id = run_scope(spec, since, until), "plain"
    found = Found.of([list_window.fn(settings, spec, w, run_id) for w in src.windows(since, until)],
                     [fetch_venue.fn(settings, spec, r, run_id) for r in src.venues()])
    joined = join_reviews(found.papers, found.submissions, src.venues(), settings, run_id)
    papers, _ = land_validated.fn(settings, "papers", joined.papers, scope, run_id, land=False)
    land_validated.fn(settings, "reviews", joined.reviews, scope, run_id)
    lake = Lake.from_settings(settings)
    documents = DocumentBatch.merge([process_papers(settings, src, lake, *batch.value, run_id)
                                     for batch in document_batches(papers, joined, settings.batch_size)])
    land_papers.fn(settings, documents.licensed(papers), scope)
    land_validated.fn(settings, "documents", documents.documents, scope, run_id)
    land_validated.fn(settings, "paper_filters", joined.failed_filters + documents.filters, scope, run_id)
    land_rejects.fn(settings, found.rejects + joined.rejects + documents.rejects, scope)
    publish.fn(settings, run_id)
    # The monthly flow goes on to the expressions stage: so does the plain path, or the
    # comparison would charge extraction to orchestration.
    extract_papers(settings, lake, plan_extraction(settings), run_id)
    publish.fn(settings, run_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--plain", nargs=2, metavar=("SNAPSHOT", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain(*args.plain)
        return
    work = Path(tempfile.mkdtemp(prefix="sb-orch-"))
    snapshot = make_snapshot(work / "snapshot", args.papers)
    api = ensure_prefect(work / "prefect-home")
    env = {"PREFECT_API_URL": api, "STORMBORN_DASK_WORKERS": "2"}

    start = time.perf_counter()
    import subprocess

    subprocess.run([sys.executable, "-m", "benchmarks.bench_orchestration", "--plain", str(snapshot),
                    str(work / "plain")], cwd=ROOT, check=True)
    plain_s = time.perf_counter() - start
    flow_s = run_cli(["harvest", "--source", "snapshot", "--path", str(snapshot), "--since", "2024-05-01",
                      "--until", "2024-05-31"], {**env, "STORMBORN_HOME": str(work / "flow")}, ROOT)

    from tasks.core.settings import load_settings
    from tasks.io.storage import query

    run = query(load_settings(home=str(work / "flow")), "SELECT * FROM runs").iloc[0]
    n = args.papers
    print(f"papers: {n}  (keyword pass in the flow run: {run.keyword_pass})")
    print(f"plain functions, one process:         {plain_s:8.2f} s")
    print(f"harvest flow, Prefect + 2 Dask workers: {flow_s:8.2f} s   stages: {run.stage_seconds}")
    print(f"orchestration overhead per paper:      {(flow_s - plain_s) / n * 1000:8.2f} ms  (target <= 5 ms)")
    print(f"flow / plain wall ratio:               {flow_s / plain_s:8.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
