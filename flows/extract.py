"""The expressions flow: accepted papers' documents → sections, expressions, dependency edges.

Runs on its own (``stormborn extract``) over every accepted paper in the catalog, and as a stage
of the monthly harvest over that month's papers. Papers already extracted from the same
documents by the same extraction code are skipped, so a rerun does nothing.
"""

from __future__ import annotations

from collections import Counter

from prefect import flow
from prefect.artifacts import create_table_artifact
from toolz import partition_all

from tasks.core.handoff import Opaque, gather, timed
from tasks.core.records import Run
from tasks.core.settings import Settings, load_settings
from tasks.extract.steps import extract_batch, plan_extraction
from tasks.io.notify import notify_failure
from tasks.io.runs import StageResult, run_lifecycle


@flow(name="extract-expressions", log_prints=True, on_failure=[notify_failure],
      on_crashed=[notify_failure])
def extract_expressions(paper_ids: list[str] | None = None, force: bool = False,
                        settings: Settings | None = None) -> Run:
    """Extract every accepted paper in the catalog (or the given ones) and publish."""
    settings = settings or load_settings()
    with run_lifecycle(settings, "extract-expressions") as run:
        run.add(extract_stage(settings, run.run_id, paper_ids, force))
    return run.record


def extract_stage(settings: Settings, run_id: str, paper_ids: list[str] | None = None,
                  force: bool = False) -> StageResult:
    """Plan, fan out one task per few papers, and count what came out (inside any flow)."""
    seconds: dict[str, float] = {}
    with timed(seconds, "expressions"):
        papers = plan_extraction(settings, paper_ids)
        batches = gather([extract_batch.submit(settings, Opaque(list(batch)), run_id, force)
                          for batch in partition_all(settings.extract.papers_per_task, papers)], "expressions")
    extractions = [e for b in batches for e in b.extractions]
    counts = {"papers_extracted": len(extractions), "expressions": sum(e.expressions for e in extractions),
              "expression_edges": sum(e.edges for e in extractions)}
    create_table_artifact(key="extraction-summary", description=f"Expressions stage of run {run_id}", table=[
        {"papers planned": len(papers), "extracted": len(extractions),
         "skipped (unchanged)": sum(b.skipped for b in batches),
         "from latex": sum(e.extractor == "latex" for e in extractions),
         "from pdf": sum(e.extractor == "pdf" for e in extractions),
         "failed": sum(e.status == "failed" for e in extractions),
         "expressions": counts["expressions"], "edges": counts["expression_edges"]}])
    return StageResult("expressions", counts=counts, rejects=sum((b.rejects for b in batches), Counter()),
                       quarantined=sum(b.quarantined for b in batches), seconds=seconds)
