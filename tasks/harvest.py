"""The harvest's tasks: list, join reviews, fetch and read documents, filter, validate, land.

Granularity follows ARCHITECTURE.md: one task per listing window, one per venue, one per batch
of papers (documents), one per stage for validation and landing. Every task builds its own
clients from ``Settings`` (clients are never pickled) and returns plain records.

Plain functions (``join_reviews``, ``process_papers``) hold the logic so benchmarks and tests
can call them without Prefect.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.documents import PARSER_VERSION, Parsed, parse_document
from tasks.filters import keyword_decision, rating_decision
from tasks.match import match_papers
from tasks.models import (
    Document,
    Paper,
    PaperFilter,
    Quarantine,
    Reject,
    Review,
    Run,
    Submission,
    Validation,
    utcnow,
)
from tasks.settings import Settings, VenueRule
from tasks.sources import build_source
from tasks.sources.arxiv import ArxivApiError, Window, WindowTooLarge
from tasks.sources.base import Fetched, Source
from tasks.sources.openreview import parse_submission
from tasks.storage import Lake, publish_catalog, safe_key
from tasks.validate import batch_fingerprint, outcome_from_json, outcome_to_json, validate_stage

harvest_task = task(cache_policy=NO_CACHE, retries=0)


class Opaque:
    """A value handed to a submitted task without Prefect walking into it.

    Prefect visits every task argument looking for futures, which costs seconds for thousands of
    pydantic records. ``prefect.utilities.annotations.quote`` avoids that for direct calls, but
    prefect-dask 0.3.7 hands ``quote``/``opaque`` wrappers to the task still wrapped, so
    submitted tasks take their large arguments in this plain holder instead.
    """

    __slots__ = ("value", "_token")

    def __init__(self, value):
        self.value = value
        self._token = uuid.uuid4().hex

    def __dask_tokenize__(self) -> str:
        return self._token  # Dask would otherwise hash every record to name the task


@dataclass
class SourceSpec:
    """Which source a run reads, in a form every worker can rebuild it from."""

    kind: str
    path: str | None = None

    def build(self, settings: Settings) -> Source:
        return build_source(settings, self.kind, self.path)


@dataclass
class Listing:
    papers: list[Paper] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


@dataclass
class VenueAnswer:
    submissions: list[Submission] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


@dataclass
class Joined:
    papers: list[Paper]
    reviews: list[Review]
    decisions: dict[str, PaperFilter]
    rejects: list[Reject]
    """One per paper dropped by the rating rule."""


@dataclass
class DocumentBatch:
    papers: list[Paper] = field(default_factory=list)
    """The batch's papers, with the licence the source states filled in where it was unknown."""
    documents: list[Document] = field(default_factory=list)
    filters: list[PaperFilter] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


# -- listing and reviews --------------------------------------------------------------------

LISTING_FAILURES: tuple[tuple[type[Exception], str], ...] = (
    (ArxivApiError, "arxiv_api_error"),
    (WindowTooLarge, "window_over_result_cap"),
    (Exception, "listing_failed"),  # transport failures after retries, unparseable answers
)


@harvest_task
def list_window(settings: Settings, spec: SourceSpec, window: Window, run_id: str) -> Listing:
    """One listing window → its papers; a failed window is a reject, not a crashed run."""
    try:
        papers = spec.build(settings).list_window(window)
    except Exception as exc:
        reason = next(r for kind, r in LISTING_FAILURES if isinstance(exc, kind))
        return Listing(rejects=[Reject(run_id=run_id, stage="listing", entity_id=window.key,
                                       reason=reason, detail=f"{type(exc).__name__}: {exc}"[:500])])
    return Listing(papers=[p.model_copy(update={"run_id": run_id}) for p in papers])


@harvest_task
def fetch_venue(settings: Settings, spec: SourceSpec, rule: VenueRule, run_id: str) -> VenueAnswer:
    """One OpenReview venue → submissions with parsed reviews; malformed notes become rejects."""
    try:
        notes = spec.build(settings).venue_notes(rule)
    except Exception as exc:
        return VenueAnswer(rejects=[Reject(run_id=run_id, stage="venues", entity_id=rule.venue_id,
                                           reason="openreview_unavailable",
                                           detail=f"{type(exc).__name__}: {exc}"[:500])])
    answer = VenueAnswer()
    for note in notes:
        try:
            submission, rejects = parse_submission(note, rule, run_id)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            answer.rejects.append(Reject(run_id=run_id, stage="venues", entity_id=str(note.get("id")),
                                         reason="malformed_note", detail=f"{type(exc).__name__}: {exc}"))
            continue
        answer.submissions.append(submission)
        answer.rejects.extend(rejects)
    return answer


def join_reviews(papers: list[Paper], submissions: list[Submission], rules: list[VenueRule],
                 settings: Settings, run_id: str) -> Joined:
    """Match papers to submissions and apply the rating rule (with its evidence)."""
    unique = list({p.paper_id: p for p in papers}.values())
    matched = match_papers(unique, submissions, settings.match_title_threshold,
                           settings.match_author_overlap)
    by_forum = {s.forum_id: s for s in submissions}
    rules_by_venue = {r.venue_id: r for r in rules}
    reviews, decisions = [], {}
    for paper in matched:
        sub = by_forum.get(paper.openreview_id or "")
        paper_reviews = [r.model_copy(update={"paper_id": paper.paper_id}) for r in (sub.reviews if sub else [])]
        reviews.extend(paper_reviews)
        decisions[paper.paper_id] = rating_decision(paper, paper_reviews, rules_by_venue, run_id,
                                                    settings.keyword_threshold)
    rejects = [Reject(run_id=run_id, stage="paper_filters", entity_id=d.paper_id,
                      reason=d.reason or "rating_rule_failed",
                      detail=f"ratings={d.ratings} mean={d.rating_mean} threshold={d.rating_threshold}")
               for d in decisions.values() if d.rating_rule == "fail"]
    return Joined(papers=matched, reviews=reviews, decisions=decisions, rejects=rejects)


join_reviews_task = harvest_task(join_reviews, name="join_reviews")


# -- documents --------------------------------------------------------------------------------

def _fetch_cached(lake: Lake, source: Source, paper: Paper, kind: str, url: str) -> Fetched:
    """Fetch once: a body already in the lake, or a permanent failure, is never fetched again."""
    state = ("state", "fetch", kind, f"{safe_key(paper.paper_id)}.json")
    seen = lake.get_json(*state)
    if seen and seen.get("url") == url:
        if seen.get("sha256") and lake.exists(lake.blob_path(seen["sha256"])):
            return Fetched(None, sha256=seen["sha256"], size=seen.get("bytes", 0))
        if seen.get("reason") and not seen.get("transient"):
            return Fetched(None, seen["reason"], seen.get("detail"))
    try:
        fetched = source.fetch(url)
    except Exception as exc:  # e.g. an unreadable local file: recorded, retried by the next run
        fetched = Fetched(None, "fetch_failed", f"{type(exc).__name__}: {exc}"[:500], transient=True)
    record = {"url": url, "reason": fetched.reason, "detail": fetched.detail,
              "transient": fetched.transient, "fetched_at": utcnow().isoformat()}
    if fetched.data is not None:
        fetched.sha256, _ = lake.put_blob(fetched.data)
        fetched.size = record["bytes"] = len(fetched.data)
        record["sha256"] = fetched.sha256
    lake.put_json(record, *state)
    return fetched


def _parse_cached(lake: Lake, kind: str, fetched: Fetched, max_bytes: int) -> tuple[Parsed, str | None]:
    """Parse once per body and parser version; the text is stored content-addressed."""
    state = ("state", "parsed", PARSER_VERSION, kind, f"{fetched.sha256}.json")
    seen = lake.get_json(*state)
    if seen is not None:
        text = (lake.read_bytes(lake.blob_path(seen["text_sha"], "text", ".txt")).decode()
                if seen.get("text_sha") else None)
        return Parsed(ok=seen["ok"], text=text, pages=seen.get("pages"), reason=seen.get("reason"),
                      detail=seen.get("detail")), seen.get("text_uri")
    data = fetched.data if fetched.data is not None else lake.read_bytes(lake.blob_path(fetched.sha256))
    parsed = parse_document(kind, data, max_bytes)
    text_sha = text_uri = None
    if parsed.ok and parsed.text is not None:
        text_sha, text_uri = lake.put_blob(parsed.text.encode(), "text", ".txt")
    lake.put_json({"ok": parsed.ok, "pages": parsed.pages, "reason": parsed.reason,
                   "detail": parsed.detail, "text_sha": text_sha, "text_uri": text_uri}, *state)
    return parsed, text_uri


def _with_license(lake: Lake, source: Source, paper: Paper, run_id: str,
                  rejects: list[Reject]) -> Paper:
    """Fill in the licence the source states (arXiv: OAI-PMH), asked once per paper."""
    if paper.license != "unknown" or paper.source == "local":
        return paper
    state = ("state", "license", f"{safe_key(paper.paper_id)}.json")
    seen = lake.get_json(*state)
    if seen is None:
        try:
            seen = {"license": source.license(paper)}
        except Exception as exc:  # the paper goes on with an unknown licence; retried next run
            rejects.append(Reject(run_id=run_id, stage="licenses", entity_id=paper.paper_id,
                                  reason="license_lookup_failed", detail=f"{type(exc).__name__}: {exc}"[:500]))
            return paper
        lake.put_json(seen, *state)
    if not seen["license"]:
        return paper
    return paper.model_copy(update={"license": seen["license"], "license_source": "arxiv_oai_pmh"})


def process_papers(settings: Settings, source: Source, lake: Lake, papers: list[Paper],
                   decisions: dict[str, PaperFilter], run_id: str) -> DocumentBatch:
    """Fetch and read each paper's LaTeX source and PDF, then apply the keyword rule.

    LaTeX is preferred for counting (exact text, no layout noise); the PDF text is the fallback.
    """
    out = DocumentBatch()
    for paper in papers:
        paper = _with_license(lake, source, paper, run_id, out.rejects)
        out.papers.append(paper)
        texts: dict[str, str] = {}
        for kind, url in (("latex", paper.source_url), ("pdf", paper.pdf_url)):
            if not url:
                continue
            fetched = _fetch_cached(lake, source, paper, kind, url)
            if not fetched.ok:
                doc = Document(paper_id=paper.paper_id, kind=kind, source_url=url,
                               parse_status="rejected", reason=fetched.reason, detail=fetched.detail,
                               run_id=run_id)
            else:
                parsed, text_uri = _parse_cached(lake, kind, fetched, settings.fetch.max_bytes)
                doc = Document(paper_id=paper.paper_id, kind=kind, source_url=url,
                               uri=lake.blob_uri(fetched.sha256), sha256=fetched.sha256,
                               text_uri=text_uri, bytes=fetched.size, pages=parsed.pages,
                               chars=len(parsed.text or ""),
                               parse_status="ok" if parsed.ok else "rejected",
                               reason=parsed.reason, detail=parsed.detail, run_id=run_id)
                if parsed.ok and parsed.text:
                    texts[kind] = parsed.text
            out.documents.append(doc)
            if doc.parse_status == "rejected":
                out.rejects.append(Reject(run_id=run_id, stage="documents",
                                          entity_id=f"{paper.paper_id}#{kind}", source_path=url,
                                          reason=doc.reason or "unknown", detail=doc.detail))
        text_source = "latex" if "latex" in texts else "pdf"
        decision = keyword_decision(decisions[paper.paper_id], texts.get(text_source), text_source,
                                    settings.keywords, settings.keyword_threshold)
        out.filters.append(decision)
        if not decision.passed:
            out.rejects.append(Reject(run_id=run_id, stage="paper_filters", entity_id=paper.paper_id,
                                      reason=decision.reason or "unknown",
                                      detail=f"keyword_total={decision.keyword_total}"))
    return out


@harvest_task
def process_document_batch(settings: Settings, spec: SourceSpec, batch: Opaque,
                           run_id: str) -> DocumentBatch:
    """A batch of papers on a Dask worker: documents fetched, read, stored; keyword rule applied.

    ``batch.value`` is ``(papers, decisions)``: the papers and their rating decisions.
    """
    papers, decisions = batch.value
    return process_papers(settings, spec.build(settings), Lake.from_settings(settings), papers,
                          decisions, run_id)


# -- validation, landing, run bookkeeping -----------------------------------------------------

@harvest_task
def validate_and_land(settings: Settings, stage: str, records: list, scope: str, run_id: str) -> tuple[list, int]:
    """Validate a stage's batch with its GX suite; land passing rows, quarantine the rest.

    Returns the passing rows and the number of quarantined rows.
    """
    lake = Lake.from_settings(settings)
    outcome = _validate_once(lake, stage, records, run_id)
    if records:
        lake.write_table(type(records[0]), outcome.passed, scope)
    lake.write_table(Quarantine, outcome.quarantined, f"{stage}-{scope}")
    lake.write_table(Validation, outcome.validations, f"{run_id}-{stage}")
    rejects = [Reject(run_id=run_id, stage=stage, entity_id=q.entity_id, reason="failed_expectation",
                      detail=f"{q.expectation}({q.column})") for q in outcome.quarantined]
    lake.write_table(Reject, rejects, f"{stage}-validation-{scope}")
    return outcome.passed, len({q.entity_id for q in outcome.quarantined})


def validate_and_record(lake: Lake, stage: str, records: list, run_id: str, part: str):
    """Validate a batch of a per-paper stage and land its ``quarantine`` and ``validations`` rows
    under ``part``; returns the outcome (the caller lands the passing rows its own way)."""
    outcome = _validate_once(lake, stage, records, run_id)
    lake.write_table(Quarantine, outcome.quarantined, f"{stage}-{run_id}-{part}")
    lake.write_table(Validation, outcome.validations, f"{run_id}-{stage}-{part}")
    return outcome


def _validate_once(lake: Lake, stage: str, records: list, run_id: str):
    """Run the stage's suite, or reuse the recorded outcome of an identical batch and suite."""
    if not records:
        return validate_stage(stage, records, run_id)
    state = ("state", "validated", stage, f"{batch_fingerprint(stage, records)}.json")
    seen = lake.get_json(*state)
    if seen is not None:
        return outcome_from_json(seen, records, run_id)
    outcome = validate_stage(stage, records, run_id)
    lake.put_json(outcome_to_json(stage, outcome, records), *state)
    return outcome


@harvest_task
def land_rejects(settings: Settings, rejects: list[Reject], scope: str) -> dict[str, int]:
    """Write the run's rejects and return their counts by ``stage/reason``."""
    Lake.from_settings(settings).write_table(Reject, rejects, scope)
    return dict(Counter(f"{r.stage}/{r.reason}" for r in rejects))


@harvest_task
def record_run(settings: Settings, run: Run) -> Run:
    Lake.from_settings(settings).write_table(Run, [run], run.run_id)
    return run


@harvest_task
def publish(settings: Settings, run_id: str) -> str:
    """Refresh the DuckDB catalog (atomic swap) and copy Data Docs into the lake."""
    from tasks.validate import data_docs_dir

    docs = data_docs_dir()
    if docs:
        Lake.from_settings(settings).upload_dir(docs, "data_docs")
    return publish_catalog(settings)


def run_scope(spec: SourceSpec, since: date, until: date) -> str:
    """The deterministic key of a harvest's tables: same source and month → same files."""
    where = hashlib.sha256((spec.path or "").encode()).hexdigest()[:8] if spec.path else "default"
    return f"{spec.kind}-{where}-{since:%Y%m%d}-{until:%Y%m%d}"
