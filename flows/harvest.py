"""The monthly harvest flow: list → join reviews → filter → fetch documents → land → expressions.

Deployed as ``monthly-harvest`` (cron ``0 3 1 * *`` UTC, see infra/prefect.yaml): with no dates
it harvests the previous calendar month.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from toolz import partition_all

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote  # large record lists: skip Prefect's introspection

from flows.extract import extract_stage
from flows.generate import generate_stage
from flows.runtime import dask_task_runner
from tasks.harvest import (
    Opaque,
    SourceSpec,
    fetch_venue,
    join_reviews_task,
    land_rejects,
    list_window,
    process_document_batch,
    publish,
    record_run,
    run_scope,
    validate_and_land,
)
from tasks.models import Run, stable_id
from tasks.progress import gather, timed
from tasks.ratelimit import ensure_rate_limits
from tasks.settings import Settings, load_settings


def previous_month(today: date) -> tuple[date, date]:
    first_this_month = today.replace(day=1)
    last_previous = first_this_month - timedelta(days=1)
    return last_previous.replace(day=1), last_previous


# Deployed runs use this runner (built from the worker's settings); the CLI and tests pass their
# own with ``with_options``.
@flow(name="monthly-harvest", log_prints=True, task_runner=dask_task_runner(load_settings()))
def monthly_harvest(since: date | None = None, until: date | None = None, source: str = "live",
                    path: str | None = None, settings: Settings | None = None) -> Run:
    """Harvest one date window (default: last month) from a source into the lake and catalog."""
    settings = settings or load_settings()
    if since is None or until is None:
        since, until = previous_month(datetime.now(UTC).date())
    spec = SourceSpec(source, path)
    scope = run_scope(spec, since, until)
    run = Run(run_id=f"{scope}-{stable_id(datetime.now(UTC).isoformat())[:8]}", flow="monthly-harvest",
              source=source, since=since, until=until, lake=settings.lake_url,
              prefect_flow_run_id=str(flow_run.get_id() or ""))
    record_run(settings, run)
    try:
        return _harvest(settings, spec, since, until, scope, run)
    except BaseException:
        record_run(settings, run.model_copy(update={"status": "failed", "finished_at": datetime.now(UTC)}))
        raise


def _harvest(settings: Settings, spec: SourceSpec, since: date, until: date, scope: str, run: Run) -> Run:
    if spec.kind == "live":
        ensure_rate_limits(settings)
    src, cost = spec.build(settings), {}

    with timed(cost, "listing"):
        listings = [list_window.submit(settings, spec, w, run.run_id) for w in src.windows(since, until)]
        venues = [fetch_venue.submit(settings, spec, rule, run.run_id) for rule in src.venues()]
        listings, answers = gather(listings, "listing"), gather(venues, "reviews")
        listed = [p for listing in listings for p in listing.papers]
        rejects = [r for x in [*listings, *answers] for r in x.rejects]
        joined = join_reviews_task(quote(listed), quote([s for a in answers for s in a.submissions]),
                                   src.venues(), settings, run.run_id)
        rejects += joined.rejects
    with timed(cost, "validation"):
        papers, q_papers = validate_and_land(settings, "papers", quote(joined.papers), scope, run.run_id)
        _, q_reviews = validate_and_land(settings, "reviews", quote(joined.reviews), scope, run.run_id)

    with timed(cost, "documents"):
        candidates = [p for p in papers if joined.decisions[p.paper_id].rating_rule != "fail"]
        batches = gather([process_document_batch.submit(
            settings, spec, Opaque((list(b), {p.paper_id: joined.decisions[p.paper_id] for p in b})),
            run.run_id) for b in partition_all(settings.batch_size, candidates)], "documents")
        documents = [d for b in batches for d in b.documents]
        licensed = {p.paper_id: p for b in batches for p in b.papers}
        filters = [d for d in joined.decisions.values() if d.rating_rule == "fail"]
        filters += [f for b in batches for f in b.filters]
        rejects += [x for b in batches for x in b.rejects]
    with timed(cost, "validation"):
        papers, _ = validate_and_land(settings, "papers", quote([licensed.get(p.paper_id, p) for p in papers]),
                                      scope, run.run_id)  # again, now with the licences found
        _, q_docs = validate_and_land(settings, "documents", quote(documents), scope, run.run_id)
        kept, q_filters = validate_and_land(settings, "paper_filters", quote(filters), scope, run.run_id)

    with timed(cost, "publish"):
        by_reason = land_rejects(settings, quote(rejects), scope)
        run = run.model_copy(update={
            "status": "completed", "finished_at": datetime.now(UTC),
            "listed": len({p.paper_id for p in listed}),
            "matched": sum(p.openreview_id is not None for p in joined.papers),
            "rating_pass": sum(d.rating_rule != "fail" for d in joined.decisions.values()),
            "documents_fetched": len({d.paper_id for d in documents if d.parse_status == "ok"}),
            "keyword_pass": sum(f.passed for f in kept),
            "rejected": len(rejects), "quarantined": q_papers + q_reviews + q_docs + q_filters})
        record_run(settings, run)
        catalog = publish(settings, run.run_id)
    with timed(cost, "expressions"):
        run, extraction_rejects = extract_stage(settings, run, [f.paper_id for f in kept if f.passed])
        run = run.model_copy(update={"rejected": run.rejected + sum(extraction_rejects.values())})
        record_run(settings, run)
        catalog = publish(settings, run.run_id)
    generation_rejects: Counter = Counter()
    if settings.llm.configured:
        with timed(cost, "generation"):
            run, generation_rejects = generate_stage(settings, run, [f.paper_id for f in kept if f.passed])
            record_run(settings, run)
            catalog = publish(settings, run.run_id)
    else:
        get_run_logger().info("no LLM endpoint configured (llm.base_url): generation skipped")
    run = record_run(settings, run.model_copy(update={"stage_seconds": {**run.stage_seconds, **cost}}))
    _publish_artifacts(run, Counter(by_reason) + extraction_rejects + generation_rejects, catalog)
    return run


def _publish_artifacts(run: Run, by_reason: dict[str, int], catalog: str) -> None:
    funnel = [{"stage": s, "papers": getattr(run, s)} for s in
              ("listed", "matched", "rating_pass", "documents_fetched", "keyword_pass", "papers_extracted")]
    create_table_artifact(key="harvest-funnel", table=funnel,
                          description=f"Funnel of run {run.run_id}")
    reasons = [{"stage": k.split("/")[0], "reason": k.split("/")[1], "count": n}
               for k, n in Counter(by_reason).most_common()]
    create_table_artifact(key="harvest-rejects", table=reasons or [{"stage": "-", "reason": "-", "count": 0}],
                          description=f"Rejects by reason, run {run.run_id}")
    create_markdown_artifact(key="harvest-summary", markdown=(
        f"# Harvest {run.since} → {run.until} ({run.source})\n\n"
        f"| listed | matched | rating pass | documents fetched | keyword pass | extracted | expressions "
        f"| edges | candidates | kept | LLM calls | cost USD | rejected | quarantined |\n"
        f"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {run.listed} | {run.matched} | {run.rating_pass} | {run.documents_fetched} | "
        f"{run.keyword_pass} | {run.papers_extracted} | {run.expressions} | {run.expression_edges} "
        f"| {run.candidates} | {run.candidates_kept} | {run.llm_calls} | {run.cost_usd:.4f} "
        f"| {run.rejected} | {run.quarantined} |\n\n"
        f"Lake: `{run.lake}` · catalog: `{catalog}`\n"))
    get_run_logger().info("run %s: %s", run.run_id, {f["stage"]: f["papers"] for f in funnel})
