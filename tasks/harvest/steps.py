"""The harvest's steps: list, join reviews, fetch and read documents, apply the two rules.

Input: a source (live arXiv + OpenReview, a recorded snapshot, or a local folder) and a date
window. Output columns, by table: ``papers`` (identity, provenance, licence), ``reviews``
(ratings as read), ``paper_filters`` (the rating and keyword rules with their evidence),
``documents`` (each paper's LaTeX source and PDF: lake URI, sha256, text, or why not); every
dropped record is a ``rejects`` row with a snake_case reason. The flow validates and lands them
(``tasks.io.validate``).

Granularity (README, "How it works"): one task per listing window, one per venue, one per batch
of papers (documents). Every task builds its own clients from ``Settings`` (clients are never
pickled) and returns plain records. Plain functions (``join_reviews``, ``process_papers``) hold
the logic so benchmarks and tests can call them without Prefect.

Each body is fetched once (``state/fetch``), read once per body and reader code
(``state/parsed``), and each licence is asked once (``state/license``): ``tasks.io.memo``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

from toolz import partition_all

from tasks.core.handoff import Opaque, stage_task
from tasks.core.limits import Limited, run_bounded
from tasks.core.records import Document, Paper, PaperFilter, Reject, Review, Submission, utcnow
from tasks.core.settings import FetchSettings, Settings, VenueRule, describe_error
from tasks.documents.read import Parsed, latex_title, parse_document
from tasks.harvest.filters import keyword_decision, rating_decision
from tasks.harvest.match import match_papers
from tasks.harvest.sources import build_source
from tasks.harvest.sources.arxiv import ArxivApiError, Window, WindowTooLarge
from tasks.harvest.sources.base import Fetched, Source
from tasks.harvest.sources.openreview import parse_submission
from tasks.io.memo import Memo
from tasks.io.storage import Lake


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
class Found:
    """What the listing windows and venues gave, put together."""

    papers: list[Paper]
    submissions: list[Submission]
    rejects: list[Reject]

    @classmethod
    def of(cls, listings: list[Listing], answers: list[VenueAnswer]) -> "Found":
        return cls(papers=[p for listing in listings for p in listing.papers],
                   submissions=[s for answer in answers for s in answer.submissions],
                   rejects=[r for x in [*listings, *answers] for r in x.rejects])


@dataclass
class Joined:
    papers: list[Paper]
    reviews: list[Review]
    decisions: dict[str, PaperFilter]
    rejects: list[Reject]
    """One per paper dropped by the rating rule."""

    @property
    def failed_filters(self) -> list[PaperFilter]:
        """The decisions of papers the rating rule dropped (they get no documents)."""
        return [d for d in self.decisions.values() if d.rating_rule == "fail"]


@dataclass
class DocumentBatch:
    papers: list[Paper] = field(default_factory=list)
    """The batch's papers, with the licence the source states filled in where it was unknown."""
    documents: list[Document] = field(default_factory=list)
    filters: list[PaperFilter] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    @classmethod
    def merge(cls, batches: list["DocumentBatch"]) -> "DocumentBatch":
        return cls(papers=[p for b in batches for p in b.papers],
                   documents=[d for b in batches for d in b.documents],
                   filters=[f for b in batches for f in b.filters],
                   rejects=[r for b in batches for r in b.rejects])

    def licensed(self, papers: list[Paper]) -> list[Paper]:
        """``papers`` with the licences this step found (the others as they were)."""
        found = {p.paper_id: p for p in self.papers}
        return [found.get(p.paper_id, p) for p in papers]


# -- listing and reviews --------------------------------------------------------------------

LISTING_FAILURES: tuple[tuple[type[Exception], str], ...] = (
    (ArxivApiError, "arxiv_api_error"),
    (WindowTooLarge, "window_over_result_cap"),
    (Exception, "listing_failed"),  # transport failures after retries, unparseable answers
)


@stage_task
def list_window(settings: Settings, spec: SourceSpec, window: Window, run_id: str) -> Listing:
    """One listing window → its papers; a failed window is a reject, not a crashed run."""
    try:
        papers = spec.build(settings).list_window(window)
    except Exception as exc:
        reason = next(r for kind, r in LISTING_FAILURES if isinstance(exc, kind))
        return Listing(rejects=[Reject(run_id=run_id, stage="listing", entity_id=window.key,
                                       reason=reason, detail=describe_error(exc, settings))])
    return Listing(papers=[p.model_copy(update={"run_id": run_id}) for p in papers])


@stage_task
def fetch_venue(settings: Settings, spec: SourceSpec, rule: VenueRule, run_id: str) -> VenueAnswer:
    """One OpenReview venue → submissions with parsed reviews; malformed notes become rejects."""
    try:
        notes = spec.build(settings).venue_notes(rule)
    except Exception as exc:
        return VenueAnswer(rejects=[Reject(run_id=run_id, stage="venues", entity_id=rule.venue_id,
                                           reason="openreview_unavailable",
                                           detail=describe_error(exc, settings))])
    answer = VenueAnswer()
    for note in notes:
        try:
            submission, rejects = parse_submission(note, rule, run_id)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            answer.rejects.append(Reject(run_id=run_id, stage="venues", entity_id=str(note.get("id")),
                                         reason="malformed_note", detail=describe_error(exc, settings)))
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


join_reviews_task = stage_task(join_reviews, name="join_reviews")


# -- documents --------------------------------------------------------------------------------

def _fetch_cached(settings: Settings, lake: Lake, source: Source, paper: Paper, kind: str, url: str) -> Fetched:
    """Fetch once: a body already in the lake, or a permanent failure, is never fetched again."""
    memo = Memo(lake, "fetch")  # an answer from outside: our code does not change it
    seen = memo.recall((kind, paper.paper_id), url, legacy=lambda old: old if old.get("url") == url else None)
    if seen:
        if seen.get("sha256") and lake.exists(lake.blob_path(seen["sha256"])):
            return Fetched(None, sha256=seen["sha256"], size=seen.get("bytes", 0))
        if seen.get("reason") and not seen.get("transient"):
            return Fetched(None, seen["reason"], seen.get("detail"))
    try:
        fetched = source.fetch(url)
    except Exception as exc:  # e.g. an unreadable local file: recorded, retried by the next run
        fetched = Fetched(None, "fetch_failed", describe_error(exc, settings), transient=True)
    record = {"url": url, "reason": fetched.reason, "detail": fetched.detail,
              "transient": fetched.transient, "fetched_at": utcnow().isoformat()}
    if fetched.data is not None:
        fetched.sha256, _ = lake.put_blob(fetched.data)
        fetched.size = record["bytes"] = len(fetched.data)
        record["sha256"] = fetched.sha256
    memo.remember((kind, paper.paper_id), record, url)
    return fetched


READER_CODE = ("tasks.documents.read", "tasks.documents.eprint")
"""The code that reads a body: a change to it reads every body again on the next run."""


LIMIT_REASONS = {"timeout": "parse_timeout", "memory_limit": "memory_limit", "crash": "parse_error"}


def read_bounded(kind: str, data: bytes, fetch: FetchSettings) -> Parsed:
    """``parse_document`` in a child process with a deadline and a memory ceiling: a hostile body
    costs at most that, and the rest of the batch goes on."""
    outcome = run_bounded(parse_document, kind, data, fetch.max_bytes, deadline_s=fetch.parse_deadline_s,
                          memory_mb=fetch.parse_memory_mb)
    if isinstance(outcome, Limited):
        return Parsed.reject(LIMIT_REASONS[outcome.reason], outcome.detail)
    return outcome


def _parse_cached(lake: Lake, kind: str, fetched: Fetched, fetch: FetchSettings) -> tuple[Parsed, str | None]:
    """Parse once per body and reader code; the text is stored content-addressed."""
    memo = Memo(lake, "parsed", code=READER_CODE)
    seen = memo.recall((kind, fetched.sha256), kind, fetched.sha256)
    if seen is not None:
        text = (lake.read_bytes(lake.blob_path(seen["text_sha"], "text", ".txt")).decode()
                if seen.get("text_sha") else None)
        return Parsed(ok=seen["ok"], text=text, pages=seen.get("pages"), reason=seen.get("reason"),
                      detail=seen.get("detail"), title=seen.get("title")), seen.get("text_uri")
    data = fetched.data if fetched.data is not None else lake.read_bytes(lake.blob_path(fetched.sha256))
    parsed = read_bounded(kind, data, fetch)
    text_sha = text_uri = None
    if parsed.ok and parsed.text is not None:
        text_sha, text_uri = lake.put_blob(parsed.text.encode(), "text", ".txt")
    memo.remember((kind, fetched.sha256), {"ok": parsed.ok, "pages": parsed.pages, "reason": parsed.reason,
                                           "detail": parsed.detail, "text_sha": text_sha, "text_uri": text_uri,
                                           "title": parsed.title},
                  kind, fetched.sha256)
    return parsed, text_uri


def _with_license(settings: Settings, lake: Lake, source: Source, paper: Paper, run_id: str,
                  rejects: list[Reject]) -> Paper:
    """Fill in the licence the source states (arXiv: OAI-PMH), asked once per paper."""
    if paper.license != "unknown" or paper.source == "local":
        return paper
    memo = Memo(lake, "license")  # an answer from outside: our code does not change it
    seen = memo.recall(paper.paper_id, paper.paper_id, legacy=lambda old: old if "license" in old else None)
    if seen is None:
        try:
            seen = {"license": source.license(paper)}
        except Exception as exc:  # the paper goes on with an unknown licence; retried next run
            rejects.append(Reject(run_id=run_id, stage="licenses", entity_id=paper.paper_id,
                                  reason="license_lookup_failed", detail=describe_error(exc, settings)))
            return paper
        memo.remember(paper.paper_id, seen, paper.paper_id)
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
        paper = _with_license(settings, lake, source, paper, run_id, out.rejects)
        out.papers.append(paper)
        texts: dict[str, str] = {}
        pdf_title: str | None = None
        for kind, url in (("latex", paper.source_url), ("pdf", paper.pdf_url)):
            if not url:
                continue
            fetched = _fetch_cached(settings, lake, source, paper, kind, url)
            if not fetched.ok:
                doc = Document(paper_id=paper.paper_id, kind=kind, source_url=url,
                               parse_status="rejected", reason=fetched.reason, detail=fetched.detail,
                               run_id=run_id)
            else:
                parsed, text_uri = _parse_cached(lake, kind, fetched, settings.fetch)
                doc = Document(paper_id=paper.paper_id, kind=kind, source_url=url,
                               uri=lake.blob_uri(fetched.sha256), sha256=fetched.sha256,
                               text_uri=text_uri, bytes=fetched.size, pages=parsed.pages,
                               chars=len(parsed.text or ""),
                               parse_status="ok" if parsed.ok else "rejected",
                               reason=parsed.reason, detail=parsed.detail, run_id=run_id)
                if parsed.ok and parsed.text:
                    texts[kind] = parsed.text
                if parsed.ok and parsed.title:
                    pdf_title = parsed.title
            out.documents.append(doc)
            if doc.parse_status == "rejected":
                out.rejects.append(Reject(run_id=run_id, stage="documents",
                                          entity_id=f"{paper.paper_id}#{kind}", source_path=url,
                                          reason=doc.reason or "unknown", detail=doc.detail))
        # a local paper is named by its folder until its source says better: \title, else the PDF's
        title = (latex_title(texts["latex"]) if "latex" in texts else None) or pdf_title
        if paper.source == "local" and title:
            paper = out.papers[-1] = paper.model_copy(update={"title": title})
        text_source = "latex" if "latex" in texts else "pdf"
        decision = keyword_decision(decisions[paper.paper_id], texts.get(text_source), text_source,
                                    settings.keywords, settings.keyword_threshold)
        out.filters.append(decision)
        if not decision.passed:
            out.rejects.append(Reject(run_id=run_id, stage="paper_filters", entity_id=paper.paper_id,
                                      reason=decision.reason or "unknown",
                                      detail=f"keyword_total={decision.keyword_total}"))
    return out


@stage_task
def process_document_batch(settings: Settings, spec: SourceSpec, batch: Opaque,
                           run_id: str) -> DocumentBatch:
    """A batch of papers on a Dask worker: documents fetched, read, stored; keyword rule applied.

    ``batch.value`` is ``(papers, decisions)``: the papers and their rating decisions.
    """
    papers, decisions = batch.value
    return process_papers(settings, spec.build(settings), Lake.from_settings(settings), papers,
                          decisions, run_id)


def document_batches(papers: list[Paper], joined: Joined, batch_size: int) -> list[Opaque]:
    """The papers the rating rule kept, in batches of ``batch_size`` with their decisions."""
    todo = [p for p in papers if joined.decisions[p.paper_id].rating_rule != "fail"]
    return [Opaque((list(batch), {p.paper_id: joined.decisions[p.paper_id] for p in batch}))
            for batch in partition_all(batch_size, todo)]


@stage_task
def land_papers(settings: Settings, papers: list[Paper], scope: str) -> None:
    """Land the papers that passed the ``papers`` gate, with the licences found since."""
    Lake.from_settings(settings).write_table(Paper, papers, scope)


def harvest_counts(found: Found, joined: Joined, documents: DocumentBatch,
                   filters: list[PaperFilter]) -> dict[str, int]:
    """The harvest's funnel, in the run record's terms."""
    return {
        "listed": len({p.paper_id for p in found.papers}),
        "matched": sum(p.openreview_id is not None for p in joined.papers),
        "rating_pass": sum(d.rating_rule != "fail" for d in joined.decisions.values()),
        "documents_fetched": len({d.paper_id for d in documents.documents if d.parse_status == "ok"}),
        "keyword_pass": sum(f.passed for f in filters),
    }


def run_scope(spec: SourceSpec, since: date, until: date) -> str:
    """The deterministic key of a harvest's tables: same source and month → same files."""
    where = hashlib.sha256((spec.path or "").encode()).hexdigest()[:8] if spec.path else "default"
    return f"{spec.kind}-{where}-{since:%Y%m%d}-{until:%Y%m%d}"
