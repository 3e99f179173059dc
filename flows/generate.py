"""The generation flow: extracted expressions → grounded derivation candidates (six STORM agents).

Runs on its own (``stormborn generate --target 2000``) over every extracted paper in the catalog,
and as the last stage of the monthly harvest when an LLM endpoint is configured. Progress and
spend are logged as each task finishes. A rerun of unchanged papers makes no LLM call; a killed
or budget-stopped run continues from the LLM cache when started again.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.futures import as_completed
from prefect.runtime import flow_run
from toolz import partition_all

from flows.runtime import dask_task_runner
from tasks.generate import (
    cap_targets,
    choose_targets,
    count_reasons,
    generate_batch,
    plan_generation,
    plan_jobs,
    record_choices,
    select_targets,
)
from tasks.harvest import Opaque, publish, record_run
from tasks.llm import CallTotals
from tasks.models import Run, stable_id
from tasks.progress import gather, timed
from tasks.ratelimit import ensure_rate_limits
from tasks.settings import Settings, load_settings
from tasks.storage import Lake


def generate_stage(settings: Settings, run: Run, paper_ids: list[str] | None = None,
                   target: int | None = None, force: bool = False) -> tuple[Run, Counter]:
    """Choose targets, fan out the agents, count what came out (inside any flow)."""
    logger = get_run_logger()
    target = settings.generate.target if target is None else target
    if settings.llm.requests_per_minute or settings.llm.tokens_per_minute:
        ensure_rate_limits(settings)
    seconds: dict[str, float] = {}
    lake = Lake.from_settings(settings)
    with timed(seconds, "generation_targets"):
        works = plan_generation(settings, paper_ids)
        latex = [w for w in works if w.extractor == "latex"]
        choices = choose_targets(settings, latex, run.run_id)  # from the LaTeX layer: no LLM, no task
        record_choices(lake, choices, run.run_id)
        pdf = [w for w in works if w.extractor != "latex"]
        choices += [c for batch in gather([select_targets.submit(settings, Opaque(list(b)), run.run_id)
                                           for b in partition_all(settings.generate.papers_per_task, pdf)],
                                          "targets") for c in batch]
        choices = cap_targets(choices, target)
        jobs, skipped = plan_jobs(settings, lake, works, choices, run.run_id, force)
    logger.info("%d papers, %d targets, %d to generate in %d tasks", len(works),
                sum(len(c.targets) for c in choices), sum(len(t) for job in jobs for _, t in job), len(jobs))
    with timed(seconds, "generation_agents"):
        batches = _run_jobs(settings, jobs, run, force, logger)

    candidates = [c for b in batches for c in b.candidates]
    calls = [c for b in batches for c in b.calls] + [c for ch in choices for c in ch.calls]
    totals = CallTotals.of(calls)
    stopped = any(b.budget_exhausted for b in batches)
    run = run.model_copy(update={
        "candidates": len(candidates), "candidates_kept": sum(c.status == "done" for c in candidates),
        "llm_calls": totals.calls, "cost_usd": round(run.cost_usd + totals.cost_usd, 6),
        "quarantined": run.quarantined + sum(b.quarantined for b in batches),
        "status": "stopped" if stopped else run.status, "stage_seconds": {**run.stage_seconds, **seconds}})
    reasons = count_reasons(candidates)
    reasons.update(f"targets/{c.reason}" for c in choices if c.reason)
    create_table_artifact(key="generation-summary", description=f"Generation stage of run {run.run_id}", table=[
        {"papers": len(works), "targets": sum(len(c.targets) for c in choices),
         "papers skipped (unchanged)": skipped,
         "candidates": run.candidates, "kept (derive)": run.candidates_kept,
         "llm calls": totals.calls, "cache hits": totals.cache_hits,
         "prompt tokens": totals.prompt_tokens, "completion tokens": totals.completion_tokens,
         "cost usd": round(totals.cost_usd, 4), "budget exhausted": stopped}])
    create_table_artifact(key="generation-reasons", description=f"Candidates by status and reason, run {run.run_id}",
                          table=[{"status/reason": k, "count": n} for k, n in reasons.most_common()]
                          or [{"status/reason": "-", "count": 0}])
    return run, Counter({f"generation/{k}": n for k, n in reasons.items()})


def _run_jobs(settings: Settings, jobs: list, run: Run, force: bool, logger) -> list:
    """Submit the generation tasks; log progress and spend as they finish.

    With a budget, tasks go out a few at a time (one per worker), each with an equal share of
    what is left, so the calls in flight can never take the run past the budget.
    """
    budget = settings.llm.budget_usd
    pending = list(jobs)
    results, spent, done_candidates = [], 0.0, 0
    in_flight: list = []
    slots = len(pending) if budget is None else max(1, settings.dask_workers)
    while pending or in_flight:
        while pending and len(in_flight) < slots:
            allowance = None if budget is None else max(0.0, budget - spent) / slots
            future = generate_batch.submit(settings, Opaque(pending.pop(0)), run.run_id, allowance, force)
            in_flight.append(future)
        future = next(as_completed(in_flight))
        in_flight.remove(future)
        batch = future.result()
        results.append(batch)
        spent += sum(c.cost_usd for c in batch.calls)
        done_candidates += len(batch.candidates)
        logger.info("generation: %d/%d tasks, %d candidates (%d kept), $%.4f spent",
                    len(results), len(jobs), done_candidates,
                    sum(c.status == "done" for b in results for c in b.candidates), spent)
    return results


@flow(name="generate-candidates", log_prints=True, task_runner=dask_task_runner(load_settings()))
def generate_candidates(paper_ids: list[str] | None = None, target: int | None = None, force: bool = False,
                        settings: Settings | None = None) -> Run:
    """Generate derivation candidates from every extracted paper in the catalog (or the given ones)."""
    settings = settings or load_settings()
    run = Run(run_id=f"generate-{stable_id(datetime.now(UTC).isoformat())[:8]}", flow="generate-candidates",
              source="lake", lake=settings.lake_url, prefect_flow_run_id=str(flow_run.get_id() or ""))
    record_run(settings, run)
    run, rejects = generate_stage(settings, run, paper_ids, target, force)
    run = run.model_copy(update={"status": "stopped" if run.status == "stopped" else "completed",
                                 "finished_at": datetime.now(UTC), "rejected": sum(rejects.values())})
    record_run(settings, run)
    publish(settings, run.run_id)
    return run
