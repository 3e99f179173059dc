"""The monthly harvest flow: harvest → expressions → generation (rules-drafted problems without an
LLM endpoint, the six agents with one).

Deployed as ``monthly-harvest`` (cron ``0 3 1 * *`` UTC, see infra/prefect.yaml and
``flows/deployments.py``): with no dates it harvests the previous calendar month.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.utilities.annotations import quote  # large record lists: skip Prefect's introspection

from flows.extract import extract_stage
from flows.generate import generate_stage
from flows.refine import refine_stage
from tasks.core.handoff import gather, timed
from tasks.core.records import Run
from tasks.core.settings import Settings, load_settings
from tasks.harvest.steps import (
    DocumentBatch,
    Found,
    SourceSpec,
    document_batches,
    fetch_venue,
    harvest_counts,
    join_reviews_task,
    land_papers,
    list_window,
    process_document_batch,
    run_scope,
)
from tasks.io.notify import notify_failure
from tasks.io.ratelimit import ensure_rate_limits
from tasks.io.runs import StageResult, land_rejects, run_lifecycle
from tasks.io.validate import land_validated


def previous_month(today: date) -> tuple[date, date]:
    first_this_month = today.replace(day=1)
    last_previous = first_this_month - timedelta(days=1)
    return last_previous.replace(day=1), last_previous


@flow(name="monthly-harvest", log_prints=True, on_failure=[notify_failure],
      on_crashed=[notify_failure])
def monthly_harvest(since: date | None = None, until: date | None = None, source: str = "live",
                    path: str | None = None, settings: Settings | None = None) -> Run:
    """Harvest one date window (default: last month) from a source into the lake and catalog,
    then extract its accepted papers, generate candidates from them (drafted by rules alone
    without an LLM endpoint) and refine and rank every candidate for the expert queue."""
    settings = settings or load_settings()
    if since is None or until is None:
        since, until = previous_month(datetime.now(UTC).date())
    spec = SourceSpec(source, path)
    scope = run_scope(spec, since, until)
    with run_lifecycle(settings, "monthly-harvest", source=source, since=since, until=until, scope=scope,
                       artifact_prefix="harvest") as run:
        accepted = run.add(harvest_stage(settings, spec, since, until, run.run_id, scope)).paper_ids
        run.add(extract_stage(settings, run.run_id, accepted))
        if not settings.llm.configured:
            get_run_logger().info("no LLM endpoint configured (llm.base_url): LaTeX papers get rules-drafted "
                                  "problems (status drafted); the agents run when an endpoint is set")
        run.add(generate_stage(settings, run.run_id, accepted))
        run.add(refine_stage(settings, run.run_id, spent=run.record.cost_usd))
    return run.record


def harvest_stage(settings: Settings, spec: SourceSpec, since: date, until: date, run_id: str,
                  scope: str) -> StageResult:
    """List the window, join reviews (rating rule), fetch and read documents (keyword rule),
    validate and land. Passes on the papers that passed both rules."""
    if spec.kind == "live":
        ensure_rate_limits(settings)
    source, seconds = spec.build(settings), {}
    with timed(seconds, "listing"):
        listings = [list_window.submit(settings, spec, w, run_id) for w in source.windows(since, until)]
        venues = [fetch_venue.submit(settings, spec, rule, run_id) for rule in source.venues()]
        found = Found.of(gather(listings, "listing"), gather(venues, "reviews"))
        joined = join_reviews_task(quote(found.papers), quote(found.submissions), source.venues(), settings, run_id)
    with timed(seconds, "validation"):
        papers, q_papers = land_validated(settings, "papers", quote(joined.papers), scope, run_id, land=False)
        _, q_reviews = land_validated(settings, "reviews", quote(joined.reviews), scope, run_id)
    with timed(seconds, "documents"):
        documents = DocumentBatch.merge(gather([process_document_batch.submit(settings, spec, batch, run_id)
                                                for batch in document_batches(papers, joined, settings.batch_size)],
                                               "documents"))
    with timed(seconds, "validation"):
        land_papers(settings, quote(documents.licensed(papers)), scope)
        _, q_documents = land_validated(settings, "documents", quote(documents.documents), scope, run_id)
        filters, q_filters = land_validated(settings, "paper_filters", quote(joined.failed_filters + documents.filters),
                                            scope, run_id)
        rejects = land_rejects(settings, quote(found.rejects + joined.rejects + documents.rejects), scope)
    return StageResult("harvest", counts=harvest_counts(found, joined, documents, filters), rejects=rejects,
                       quarantined=q_papers + q_reviews + q_documents + q_filters, seconds=seconds,
                       paper_ids=[f.paper_id for f in filters if f.passed])
