"""The generation flow: extracted expressions → grounded derivation candidates (six STORM agents).

Runs on its own (``stormborn generate --target 2000``) over every extracted paper in the catalog,
and as a stage of the monthly harvest when an LLM endpoint is configured. Progress and spend are
logged as each task finishes. A rerun of unchanged papers makes no LLM call; a killed or
budget-stopped run continues from the LLM cache when started again.
"""

from __future__ import annotations

from collections import Counter

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from toolz import partition_all

from flows.runtime import run_within_budget
from tasks.core.handoff import Opaque, gather, timed
from tasks.core.records import Run
from tasks.core.settings import AGENTS, Settings, load_settings
from tasks.generate.steps import count_reasons, generate_batch, plan_generation, plan_jobs
from tasks.generate.targets import cap_targets, choose_targets, record_choices, select_targets
from tasks.io.llm import CallTotals
from tasks.io.notify import notify_failure
from tasks.io.ratelimit import ensure_rate_limits
from tasks.io.runs import StageResult, run_lifecycle
from tasks.io.storage import Lake


@flow(name="generate-candidates", log_prints=True, on_failure=[notify_failure],
      on_crashed=[notify_failure])
def generate_candidates(paper_ids: list[str] | None = None, target: int | None = None, force: bool = False,
                        settings: Settings | None = None) -> Run:
    """Generate derivation candidates from every extracted paper in the catalog (or the given ones)."""
    settings = settings or load_settings()
    with run_lifecycle(settings, "generate-candidates") as run:
        run.add(generate_stage(settings, run.run_id, paper_ids, target, force))
    return run.record


def generate_stage(settings: Settings, run_id: str, paper_ids: list[str] | None = None,
                   target: int | None = None, force: bool = False) -> StageResult:
    """Choose targets, fan out the agents, count what came out (inside any flow)."""
    target = settings.generate.target if target is None else target
    if settings.llm.configured:
        settings.llm.check_budget(AGENTS)  # a deployed run fails at the start, before any call
        if settings.llm.requests_per_minute or settings.llm.tokens_per_minute:
            ensure_rate_limits(settings)
    seconds: dict[str, float] = {}
    with timed(seconds, "generation_targets"):
        works = plan_generation(settings, paper_ids)
        latex = [w for w in works if w.extractor == "latex"]
        choices = choose_targets(settings, latex, run_id)  # from the LaTeX layer: no LLM, no task
        record_choices(Lake.from_settings(settings), choices, run_id)
        pdf = [w for w in works if w.extractor != "latex"]
        choices += [c for batch in gather([select_targets.submit(settings, Opaque(list(b)), run_id)
                                           for b in partition_all(settings.generate.papers_per_task, pdf)],
                                          "targets") for c in batch]
        choices = cap_targets(choices, target)
        jobs, skipped = plan_jobs(settings, Lake.from_settings(settings), works, choices, run_id, force)
    get_run_logger().info("%d papers, %d targets, %d to generate in %d tasks", len(works),
                          sum(len(c.targets) for c in choices), sum(len(t) for job in jobs for _, t in job), len(jobs))
    with timed(seconds, "generation_agents"):
        batches = _run_jobs(settings, jobs, run_id, force)
    candidates = [c for b in batches for c in b.candidates]
    totals = CallTotals.of([c for b in batches for c in b.calls] + [c for ch in choices for c in ch.calls])
    stopped = any(b.budget_exhausted for b in batches)
    counts = {"candidates": len(candidates), "candidates_kept": sum(c.status == "done" for c in candidates),
              "candidates_drafted": sum(c.status == "drafted" for c in candidates),
              "llm_calls": totals.calls, "cost_usd": totals.cost_usd}
    reasons = count_reasons(candidates)
    outcomes = Counter({f"generation/{k}": n for k, n in reasons.items()})
    reasons.update(f"targets/{c.reason}" for c in choices if c.reason)
    create_table_artifact(key="generation-summary", description=f"Generation stage of run {run_id}", table=[
        {"papers": len(works), "targets": sum(len(c.targets) for c in choices),
         "papers skipped (unchanged)": skipped, "candidates": counts["candidates"],
         "kept (derive)": counts["candidates_kept"], "llm calls": totals.calls, "cache hits": totals.cache_hits,
         "prompt tokens": totals.prompt_tokens, "completion tokens": totals.completion_tokens,
         "cost usd": round(totals.cost_usd, 4), "budget exhausted": stopped}])
    create_table_artifact(key="generation-reasons", description=f"Candidates by status and reason, run {run_id}",
                          table=[{"status/reason": k, "count": n} for k, n in reasons.most_common()]
                          or [{"status/reason": "-", "count": 0}])
    rejects = sum((b.rejects for b in batches), Counter(f"targets/{c.reason}" for c in choices if c.reason))
    return StageResult("generation", counts=counts, rejects=rejects, outcomes=outcomes, stopped=stopped,
                       quarantined=sum(b.quarantined for b in batches), seconds=seconds)


def _run_jobs(settings: Settings, jobs: list, run_id: str, force: bool) -> list:
    """Submit the generation tasks within the budget; log progress and spend as they finish."""
    logger = get_run_logger()

    def progress(results: list, spent: float) -> None:
        logger.info("generation: %d/%d tasks, %d candidates (%d kept), $%.4f spent", len(results), len(jobs),
                    sum(len(b.candidates) for b in results),
                    sum(c.status == "done" for b in results for c in b.candidates), spent)

    return run_within_budget(settings, jobs, lambda job, allowance: generate_batch.submit(
        settings, Opaque(job), run_id, allowance, force), progress)
