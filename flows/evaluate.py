"""The evaluation flow: models answer a release (or a dataset file), graded three ways and landed;
then the audit flags the items that need a human look (``stormborn evaluate``, ``stormborn audit``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from tasks.core.handoff import timed
from tasks.core.records import Evaluation, ItemAudit, LLMCall, Reject, Run, stable_id, utcnow
from tasks.core.settings import Settings, load_settings
from tasks.curate import release as releases
from tasks.evaluate import audits, items
from tasks.evaluate.steps import FORMATS, EvalOutcome, EvalRequest, evaluate
from tasks.io.llm import CallTotals
from tasks.io.notify import notify_failure
from tasks.io.runs import StageResult, run_lifecycle
from tasks.io.storage import Lake, named_rows, publish_catalog
from tasks.io.validate import gate


@dataclass
class EvalSummary:
    run: Run | None = None
    outcome: EvalOutcome | None = None
    skipped: Counter = field(default_factory=Counter)
    items: int = 0


def load_items(settings: Settings, release: str | None, dataset: str | None) -> tuple[str, items.Loaded]:
    """(the dataset's name, its items): a release's active and embargoed items, or a file's."""
    if dataset:
        return dataset.rstrip("/").split("/")[-1], items.read_dataset(dataset)
    name = release or releases.latest(settings)
    if name is None:
        raise LookupError("no release yet: run `stormborn export --release YYYY-MM`, or pass --dataset")
    return name, items.from_rows(releases.items_at(settings, name), name)


@flow(name="evaluate-models", log_prints=True, on_failure=[notify_failure],
      on_crashed=[notify_failure])
def evaluate_models(models: list[str], release: str | None = None, dataset: str | None = None,
                    formats: tuple[str, ...] = FORMATS, samples: int | None = None, base_url: str | None = None,
                    settings: Settings | None = None) -> EvalSummary:
    """Evaluate ``models`` on a release (default: the latest) or a dataset file."""
    settings = settings or load_settings()
    summary = EvalSummary()
    with run_lifecycle(settings, "evaluate-models") as run:
        run.add(evaluate_stage(settings, run.run_id, summary, models, release, dataset, formats, samples, base_url))
    summary.run = run.record
    return summary


def evaluate_stage(settings: Settings, run_id: str, summary: EvalSummary, models: list[str], release: str | None,
                   dataset: str | None, formats: tuple[str, ...], samples: int | None,
                   base_url: str | None) -> StageResult:
    logger = get_run_logger()
    seconds: dict[str, float] = {}
    lake = Lake.from_settings(settings)
    with timed(seconds, "evaluate_load"):
        name, loaded = load_items(settings, release, dataset)
    summary.items = len(loaded.items)
    summary.skipped = Counter(s.reason for s in loaded.skipped)
    request = EvalRequest(eval_id=run_id, dataset=name, items=loaded.items, models=models, formats=formats,
                          samples=samples or settings.evaluate.samples, base_url=base_url)
    step = max(1, len(models) * len(loaded.items) // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            logger.info("evaluate: %d/%d calls", done, total)

    with timed(seconds, "evaluate_calls"):
        outcome = evaluate(settings, request, progress)
    seconds["evaluate_symbolic"] = outcome.symbolic_seconds
    summary.outcome = outcome
    rejects = outcome.rejects + [Reject(run_id=run_id, stage="evaluate_load", entity_id=s.where, reason=s.reason,
                                        detail=s.detail or None) for s in loaded.skipped]
    with timed(seconds, "evaluate_land"):
        checked = gate(lake, "evaluations", outcome.rows, run_id, "all")
        lake.write_table(Evaluation, checked.passed, run_id)
        lake.write_table(LLMCall, outcome.calls, f"{run_id}-evaluate")
        lake.write_table(Reject, rejects, f"{run_id}-evaluate")
    totals = CallTotals.of(outcome.calls)
    by_grade = Counter(f"{r.format}/{r.grade}" for r in checked.passed)
    create_table_artifact(key="evaluate-summary", description=f"Evaluation {run_id} on {name}", table=[
        {"model": m, "format": f, "answers": sum(1 for r in checked.passed if r.model == m and r.format == f),
         "correct": sum(1 for r in checked.passed if r.model == m and r.format == f and r.grade == "correct")}
        for m in models for f in formats])
    return StageResult("evaluate", counts={"items_evaluated": len(loaded.items), "evaluations": len(checked.passed),
                                           "llm_calls": totals.calls, "cost_usd": totals.cost_usd},
                       rejects=Counter(f"{r.stage}/{r.reason}" for r in rejects),
                       outcomes=Counter({f"evaluate/{k}": v for k, v in by_grade.items()}),
                       quarantined=len(checked.quarantined), stopped=outcome.budget_exhausted, seconds=seconds)


def audit_items(settings: Settings, dataset: str | None = None) -> tuple[str, list[ItemAudit]]:
    """Flag the items of ``dataset`` (default: every evaluated item) from their latest evaluations;
    land the flags in ``item_audits``."""
    rows = named_rows(settings, "evaluation_rows", dataset=dataset)
    audit_id = f"audit-{stable_id(utcnow().isoformat())[:8]}"
    flagged = audits.audit(rows, settings.evaluate.min_models_for_audit, audit_id)
    Lake.from_settings(settings).write_table(ItemAudit, flagged, audit_id)
    publish_catalog(settings)
    return audit_id, flagged
