"""The quality-layer flow: generated candidates → screened, scored, revised, solved and ranked,
so experts read the best and most varied first (``stormborn refine``; a stage of the monthly
harvest after generation).

Without an LLM endpoint the screens (contamination, near duplicates) and the ranking still run;
the candidates wait unscored at the end of the queue until an endpoint is configured.
"""

from __future__ import annotations

from collections import Counter

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows.runtime import run_within_budget
from tasks.core.handoff import Opaque, timed
from tasks.core.records import Run
from tasks.core.settings import Settings, load_settings
from tasks.io.llm import CallTotals
from tasks.io.notify import notify_failure
from tasks.io.ratelimit import ensure_rate_limits
from tasks.io.runs import StageResult, run_lifecycle
from tasks.io.storage import Lake
from tasks.refine.agents import AGENT_NAMES
from tasks.refine.steps import batches, count_drops, land, plan_refine, rank, refine_batch, screen, to_refine


@flow(name="refine-candidates", log_prints=True, on_failure=[notify_failure],
      on_crashed=[notify_failure])
def refine_candidates(force: bool = False, settings: Settings | None = None) -> Run:
    """Screen, score, revise, solve and rank every finished or drafted candidate in the catalog."""
    settings = settings or load_settings()
    with run_lifecycle(settings, "refine-candidates") as run:
        run.add(refine_stage(settings, run.run_id, force))
    return run.record


def refine_stage(settings: Settings, run_id: str, force: bool = False, spent: float = 0.0) -> StageResult:
    """Plan, screen, refine per batch on the Dask workers, rank, land (inside any flow). ``spent``:
    what the run's earlier stages spent of ``llm.budget_usd``."""
    logger = get_run_logger()
    if settings.llm.configured:
        settings.llm.check_budget(AGENT_NAMES)
        if settings.llm.requests_per_minute or settings.llm.tokens_per_minute:
            ensure_rate_limits(settings)
    lake = Lake.from_settings(settings)
    seconds: dict[str, float] = {}
    with timed(seconds, "refine_screens"):
        plan = plan_refine(settings, run_id)
        screened = screen(settings, lake, plan, run_id)
    if screened.embedding_problem:
        logger.warning("embeddings unavailable (%s): no paraphrase or embedding checks, ranking uncorrected",
                       screened.embedding_problem)
    candidates = screened.candidates
    todo = to_refine(settings, plan, candidates, force) if settings.llm.configured else []
    logger.info("%d candidates, %d screened out, %d to refine", len(plan.pool),
                len({h.candidate_id for h in screened.contamination}) + len(screened.duplicates), len(todo))
    results = []
    with timed(seconds, "refine_llm"):
        if todo:
            results = _run_batches(settings, batches(settings, todo), run_id, spent)
    refined = {c.candidate_id: c for b in results for c in b.candidates}
    candidates = [refined.get(c.candidate_id, c) for c in candidates]
    signals = dict(plan.signals)
    for b in results:
        signals.update(b.signals)
    with timed(seconds, "refine_rank"):
        queue, warnings = rank(settings, plan, candidates, signals, screened.vectors, run_id)
        for warning in warnings:
            logger.warning("ranking: %s", warning)
        quarantined = land(settings, lake, plan, candidates, screened, queue, run_id)
    totals = CallTotals.of([c for b in results for c in b.calls])
    drops = count_drops(plan, candidates)
    queued = len(queue)
    counts = {"candidates_refined": len(refined), "candidates_queued": queued,
              "llm_calls": totals.calls, "cost_usd": totals.cost_usd}
    create_table_artifact(key="refine-summary", description=f"Quality layer of run {run_id}", table=[
        {"candidates": len(plan.pool), "refined": len(refined), "queued": queued,
         "contaminated": drops["refine/contaminated"], "near duplicates": drops["refine/near_duplicate"],
         "low quality score": drops["refine/low_quality_score"], "llm calls": totals.calls,
         "cache hits": totals.cache_hits, "cost usd": round(totals.cost_usd, 4),
         "embeddings": screened.embedding_problem or "ok"}])
    rejects = sum((b.rejects for b in results), Counter(f"{r.stage}/{r.reason}" for r in screened.rejects))
    return StageResult("refine", counts=counts, rejects=rejects, outcomes=drops,
                       stopped=any(b.budget_exhausted for b in results),
                       quarantined=quarantined + sum(b.quarantined for b in results), seconds=seconds)


def _run_batches(settings: Settings, jobs: list, run_id: str, spent: float) -> list:
    """Submit the refine tasks within what is left of the run's budget; log progress."""
    logger = get_run_logger()

    def progress(results: list, spent: float) -> None:
        logger.info("refine: %d/%d tasks, %d candidates, $%.4f spent by the run", len(results), len(jobs),
                    sum(len(b.candidates) for b in results), spent)

    return run_within_budget(settings, jobs, lambda job, allowance: refine_batch.submit(
        settings, Opaque(job), run_id, allowance), progress, spent)
