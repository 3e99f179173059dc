"""The expressions flow: accepted papers' documents → sections, expressions, dependency edges.

Runs on its own (``stormborn extract``) over every accepted paper in the catalog, and as the last
stage of the monthly harvest over that month's papers. Papers already extracted from the same
documents with the same extractor version are skipped, so a rerun does nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from toolz import partition_all

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from flows.runtime import dask_task_runner
from tasks.extract import extract_batch, plan_extraction
from tasks.harvest import Opaque, publish, record_run
from tasks.models import Run, stable_id
from tasks.progress import gather
from tasks.settings import Settings, load_settings


def extract_stage(settings: Settings, run: Run, paper_ids: list[str] | None = None,
                  force: bool = False) -> tuple[Run, Counter]:
    """Plan, fan out one task per few papers, and count what came out (inside any flow)."""
    papers = plan_extraction(settings, paper_ids)
    futures = [extract_batch.submit(settings, Opaque(list(batch)), run.run_id, force)
               for batch in partition_all(settings.extract.papers_per_task, papers)]
    batches = gather(futures, "expressions")
    extractions = [e for b in batches for e in b.extractions]
    rejects = sum((b.rejects for b in batches), Counter())
    run = run.model_copy(update={
        "papers_extracted": len(extractions),
        "expressions": sum(e.expressions for e in extractions),
        "expression_edges": sum(e.edges for e in extractions),
        "quarantined": run.quarantined + sum(b.quarantined for b in batches)})
    create_table_artifact(key="extraction-summary", description=f"Expressions stage of run {run.run_id}", table=[
        {"papers planned": len(papers), "extracted": len(extractions),
         "skipped (unchanged)": sum(b.skipped for b in batches),
         "from latex": sum(e.extractor == "latex" for e in extractions),
         "from pdf": sum(e.extractor == "pdf" for e in extractions),
         "failed": sum(e.status == "failed" for e in extractions),
         "expressions": run.expressions, "edges": run.expression_edges}])
    return run, rejects


@flow(name="extract-expressions", log_prints=True, task_runner=dask_task_runner(load_settings()))
def extract_expressions(paper_ids: list[str] | None = None, force: bool = False,
                        settings: Settings | None = None) -> Run:
    """Extract every accepted paper in the catalog (or the given ones) and publish."""
    settings = settings or load_settings()
    run = Run(run_id=f"extract-{stable_id(datetime.now(UTC).isoformat())[:8]}", flow="extract-expressions",
              source="lake", lake=settings.lake_url, prefect_flow_run_id=str(flow_run.get_id() or ""))
    record_run(settings, run)
    run, rejects = extract_stage(settings, run, paper_ids, force)
    run = run.model_copy(update={"status": "completed", "finished_at": datetime.now(UTC),
                                 "rejected": sum(rejects.values())})
    record_run(settings, run)
    publish(settings, run.run_id)
    return run
