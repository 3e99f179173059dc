"""Expert review: accounts, blind assignment, submissions and the analysts' copy.

Input: the catalog's finished candidates (named query ``review_items``: status ``done``, with
paper, target expression and PDF). Output: the review database (``tasks.io.ReviewDB``,
the system of record) and, copied from it by ``snapshot``, the lake tables ``expert_reviews``,
``review_assignments`` and ``adjudications``.

Agreement and adjudication are in ``tasks.curate.agreement``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from tasks.core.records import PRINCIPLES, Adjudication, Decision, ExpertReview, ReviewAssignment, Role, Rubric
from tasks.core.settings import Settings
from tasks.io import storage
from tasks.io.storage import ReviewDB


class NotAssigned(Exception):
    """The reviewer asked for or wrote a candidate that is not in their queue (HTTP 403)."""


class UnknownCandidate(Exception):
    """No such candidate in the review database (HTTP 404)."""


@dataclass(frozen=True)
class Reviewer:
    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class ReviewForm(Rubric):
    """What a reviewer submits for one candidate."""

    submission_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    """Made once per rendered form: a second POST of the same form is recognised and ignored."""


def open_db(settings: Settings) -> ReviewDB:
    return ReviewDB(settings.review_db_path)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def token_digest(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 is as strong as a slow password hash and
    # keeps per-request authentication cheap.
    return hashlib.sha256(token.encode()).hexdigest()


# -- accounts ------------------------------------------------------------------------------

def add_reviewer(db: ReviewDB, name: str, role: Role = "reviewer", rotate: bool = False) -> str:
    """Create an account (or give an existing one a new token with ``rotate``); returns the token."""
    name = name.strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise ValueError("a reviewer name is 1-64 letters, digits, '-', '_' or '.'")
    token = secrets.token_urlsafe(32)
    if not db.add_reviewer(name, role, token_digest(token), _now(), rotate):
        raise ValueError(f"reviewer {name!r} exists; use --rotate for a new token")
    return token


def authenticate(db: ReviewDB, token: str | None) -> Reviewer | None:
    if not token:
        return None
    row = db.reviewer_by_token(token_digest(token))
    return Reviewer(row["name"], row["role"]) if row else None


@dataclass(frozen=True)
class Session:
    """A browser login: who, and the CSRF token every form of theirs must carry."""

    reviewer: Reviewer
    csrf_token: str


def _stamp(at: datetime) -> str:
    # One fixed width, so the database compares expiry times as text correctly.
    return at.isoformat(timespec="microseconds")


def start_session(db: ReviewDB, who: Reviewer, days: float) -> tuple[str, Session]:
    """A new session for a reviewer who just logged in: (the cookie value, the session). Only
    the cookie's hash is stored, so a copy of the database logs nobody in."""
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    db.start_session(token_digest(cookie), who.name, csrf, _stamp(now), _stamp(now + timedelta(days=days)))
    return cookie, Session(who, csrf)


def session_of(db: ReviewDB, cookie: str | None) -> Session | None:
    """The live session a cookie names; None when unknown, ended or expired."""
    if not cookie:
        return None
    row = db.session(token_digest(cookie), _stamp(datetime.now(UTC)))
    return Session(Reviewer(row["name"], row["role"]), row["csrf_token"]) if row else None


def end_session(db: ReviewDB, cookie: str | None) -> None:
    if cookie:
        db.end_session(token_digest(cookie))


# -- items and assignment ------------------------------------------------------------------

PRE_REVIEW = ("queue_rank", "pre_review_score", "curated_score", "solve_rate")
"""The quality layer's judgement of a candidate: admins see it, reviewers never (blind review)."""


def load_items(settings: Settings, db: ReviewDB) -> int:
    """Copy the catalog's finished candidates into the review database, with their place in the
    review queue; returns how many are new."""
    rows = storage.named_rows(settings, "review_items")
    return db.load_items([(r["candidate_id"], r["paper_id"], r["topic"] or "unknown",
                           json.dumps(r, default=str), _now(), r["queue_rank"]) for r in rows])


@dataclass
class AssignResult:
    assigned: int
    """New (candidate, reviewer) pairs."""
    short: int
    """Candidates that still have fewer than k reviewers (not enough reviewers exist)."""


def assign(db: ReviewDB, k: int) -> AssignResult:
    """Give each candidate k reviewers, always choosing the least-loaded reviewers it lacks.

    Admins review nothing unless they are the only accounts. Deterministic for the same state,
    and incremental: candidates loaded later are spread over everyone, existing pairs stay.
    """
    short = 0

    def choose(names: list[str], load: dict[str, int], have: dict[str, set[str]],
               candidates: list[str]) -> list[tuple[str, str, int, str]]:
        nonlocal short
        new = []
        for cid in candidates:
            mine = have.get(cid, set())
            # the least loaded first; ties broken by a hash so no name is always first
            free = sorted((n for n in names if n not in mine),
                          key=lambda n: (load[n], hashlib.sha256(f"{cid}{n}".encode()).digest()))
            chosen = free[:max(0, k - len(mine))]
            for name in chosen:
                load[name] += 1
                new.append((cid, name, load[name], _now()))
            short += len(mine) + len(chosen) < k
        return new

    return AssignResult(assigned=len(db.assign(choose)), short=short)


# -- a reviewer's view ---------------------------------------------------------------------

def queue(db: ReviewDB, reviewer: str, details: bool = True) -> list[dict[str, Any]]:
    """The reviewer's candidates in order, each with ``done`` (reviewed by them) and, with
    ``details``, the paper title and the question."""
    return [r | {"done": r["decision"] is not None} for r in db.queue(reviewer, details)]


def next_pending(db: ReviewDB, reviewer: str) -> str | None:
    """Where the reviewer left off: their first candidate without a review."""
    return next((q["candidate_id"] for q in queue(db, reviewer, details=False) if not q["done"]), None)


def item(db: ReviewDB, who: Reviewer, candidate_id: str) -> dict[str, Any]:
    """The candidate as the reviewer may see it; raises ``NotAssigned`` for someone else's."""
    payload = db.item_payload(candidate_id)
    if payload is None:
        raise UnknownCandidate(candidate_id)
    if not who.is_admin and not db.is_assigned(candidate_id, who.name):
        raise NotAssigned(candidate_id)
    shown = json.loads(payload)
    if not who.is_admin:
        for key in PRE_REVIEW:
            shown.pop(key, None)
    return shown


def queue_progress(db: ReviewDB) -> dict[str, Any]:
    """For admins: how far down the queue the team is and how many keepers it has found."""
    return db.queue_progress()


def own_review(db: ReviewDB, reviewer: str, candidate_id: str) -> ExpertReview | None:
    rows = db.reviews(reviewer=reviewer, candidate_id=candidate_id)
    return _review(rows[0]) if rows else None


def own_reviews(db: ReviewDB, reviewer: str) -> list[ExpertReview]:
    """Blind by construction: only the reviewer's own rows are ever read for them."""
    return [_review(r) for r in db.reviews(reviewer=reviewer)]


def all_reviews(db: ReviewDB) -> list[ExpertReview]:
    """Every review (admins, agreement, selection)."""
    return [_review(r) for r in db.reviews()]


def _review(row: dict[str, Any]) -> ExpertReview:
    return ExpertReview(**{k: row[k] for k in ExpertReview.model_fields})


def submit(db: ReviewDB, who: Reviewer, candidate_id: str, form: ReviewForm) -> ExpertReview:
    """Store the reviewer's review of an assigned candidate, once per submission (the same
    ``submission_id`` twice is a no-op; a new one raises the review's ``revision``)."""
    row = db.submit(candidate_id, who.name, {p: getattr(form, p) for p in PRINCIPLES}, form.decision,
                    form.comment, form.submission_id, _now())
    if row is None:
        raise NotAssigned(candidate_id)
    return _review(row)


def adjudicate(db: ReviewDB, who: Reviewer, candidate_id: str, decision: Decision,
               comment: str = "") -> Adjudication:
    """An admin's final decision on a candidate (replacing an earlier adjudication)."""
    if not who.is_admin:
        raise NotAssigned(candidate_id)
    row = Adjudication(candidate_id=candidate_id, adjudicator=who.name, decision=decision, comment=comment)
    if not db.adjudicate(candidate_id, who.name, decision, comment, row.decided_at.isoformat()):
        raise UnknownCandidate(candidate_id)
    return row


def adjudications(db: ReviewDB) -> list[Adjudication]:
    return [Adjudication(**r) for r in db.adjudications()]


def progress(db: ReviewDB) -> list[dict[str, Any]]:
    """Per reviewer: assigned and reviewed counts."""
    return db.progress()


def read_document(settings: Settings, uri: str) -> bytes:
    """A document's bytes from the lake (the review app renders the PDF page from them)."""
    return storage.Lake.from_settings(settings).read_uri(uri)


# -- the analysts' copy --------------------------------------------------------------------

LAKE_PART = "review-app"
"""The part key of the lake copy of each review table: one file each, rewritten whole."""
COPY_RECORD = ("state", "review-copy.json")
"""Which review database the lake copy came from, and how many reviews it held."""


class ReviewCopyConflict(Exception):
    """Copying this review database into the lake would replace reviews it does not hold."""


@dataclass
class LakeCopy:
    db_id: str | None
    """The review database the copy came from (None: a copy older than database identities)."""
    reviews: int
    db_path: str | None = None
    damaged: str | None = None
    """Why the copy's review file cannot be read; ``reviews`` is then the count recorded when it
    was written."""


def lake_copy(settings: Settings) -> LakeCopy:
    lake = storage.Lake.from_settings(settings)
    record = lake.get_json(*COPY_RECORD) or {}
    try:
        reviews = len(lake.read_part(ExpertReview, LAKE_PART))
    except Exception as exc:  # a damaged file is judged by the record of the copy that wrote it
        return LakeCopy(record.get("db_id"), int(record.get("reviews") or 0), record.get("db_path"),
                        damaged=f"{type(exc).__name__}: {str(exc)[:200]}")
    return LakeCopy(record.get("db_id"), reviews, record.get("db_path"))


def check_copy(settings: Settings, db: ReviewDB) -> None:
    """Raise ``ReviewCopyConflict`` when copying ``db`` into the lake would lose reviews: the lake
    holds reviews and ``db`` is another database, or holds none, or (for a copy older than
    database identities) holds fewer."""
    copy = lake_copy(settings)
    mine = db.count_reviews()
    if copy.damaged and copy.db_id != db.identity:
        raise ReviewCopyConflict(
            f"the lake's copy of the expert reviews cannot be read ({copy.damaged}) and was not written by the "
            f"review database at {db.path} ({db.identity}), so it cannot tell whether replacing it loses reviews. "
            f"Point review.db (STORMBORN_REVIEW__DB) at the database that wrote it "
            f"({copy.db_id or 'unknown'}, {copy.db_path or 'unknown path'}), or move the damaged file out of "
            f"tables/expert_reviews/ after checking it.")
    if copy.reviews == 0:
        return
    if copy.db_id == db.identity and mine > 0:
        return
    if copy.db_id is None and mine >= copy.reviews:
        return  # the first copy since identities exist: this database holds at least as many
    source = f"review database {copy.db_id} ({copy.db_path})" if copy.db_id else "an earlier review database"
    raise ReviewCopyConflict(
        f"the lake holds {copy.reviews} expert reviews copied from {source}, and the review database at "
        f"{db.path} ({db.identity}, {mine} reviews) is {'empty' if mine == 0 else 'a different one'}: refusing "
        f"to replace them. Point review.db (STORMBORN_REVIEW__DB) at the original file, or restore this "
        f"database from the lake copy with `stormborn review restore`.")


def new_database_warning(settings: Settings, db: ReviewDB) -> str | None:
    """A message when this open created an empty review database while the lake holds reviews."""
    if not db.created:
        return None
    copy = lake_copy(settings)
    if copy.reviews == 0:
        return None
    return (f"a new, empty review database was created at {db.path}, but the lake holds {copy.reviews} expert "
            f"reviews (from {copy.db_path or 'an earlier database'}): is review.db right? `stormborn review "
            f"restore` fills this database from the lake copy.")


def snapshot(settings: Settings, db: ReviewDB, publish: bool = True) -> dict[str, int]:
    """Copy reviews, assignments and adjudications into the lake and (with ``publish``)
    republish the catalog.

    Each table is one file under a fixed key, rewritten whole from a consistent read, so the
    copy is never half written and re-running it changes nothing. A copy that would replace
    reviews this database does not hold is refused (``ReviewCopyConflict``).
    """
    check_copy(settings, db)
    lake = storage.Lake.from_settings(settings)
    for model in (ExpertReview, ReviewAssignment, Adjudication):
        lake.set_aside_unreadable(model, LAKE_PART)  # this database wrote it: rewrite, keep the bad bytes aside
    review_rows, assigned_rows, decided_rows = db.snapshot()
    reviews = [_review(r) for r in review_rows]
    assigned = [ReviewAssignment(**r) for r in assigned_rows]
    decided = [Adjudication(**r) for r in decided_rows]
    for model, rows in ((ExpertReview, reviews), (ReviewAssignment, assigned), (Adjudication, decided)):
        lake.write_table(model, rows, LAKE_PART, replace_empty=True)
    lake.put_json({"db_id": db.identity, "db_path": db.path, "reviews": len(reviews), "copied_at": _now()},
                  *COPY_RECORD)
    if publish:
        storage.publish_catalog(settings)
    return {"expert_reviews": len(reviews), "review_assignments": len(assigned),
            "adjudications": len(decided)}


@dataclass
class Restored:
    reviews: int
    assignments: int
    adjudications: int
    tokens: dict[str, str]
    """Reviewer → a new login token (the old tokens were in the lost database)."""
    skipped: int
    """Reviews whose candidate is no longer a finished candidate in the catalog."""


def restore(settings: Settings, db: ReviewDB) -> Restored:
    """Fill an empty review database from the lake copy: the finished candidates are loaded from
    the catalog, every reviewer gets an account with a new token (admins: whoever adjudicated),
    and the database takes over the copy's identity, so the app and ``select`` copy it again."""
    lake = storage.Lake.from_settings(settings)
    copy = lake_copy(settings)
    reviews = lake.read_part(ExpertReview, LAKE_PART)
    if not reviews:
        raise ValueError("the lake holds no expert reviews to restore")
    load_items(settings, db)
    known = {row["candidate_id"] for row in db.rows("SELECT candidate_id FROM items")}
    kept = [r for r in reviews if r["candidate_id"] in known]
    assigned = [a for a in lake.read_part(ReviewAssignment, LAKE_PART) if a["candidate_id"] in known]
    pairs = {(a["candidate_id"], a["reviewer"]) for a in assigned}
    assigned += [{"candidate_id": r["candidate_id"], "reviewer": r["reviewer"], "assigned_at": r["submitted_at"]}
                 for r in kept if (r["candidate_id"], r["reviewer"]) not in pairs]
    decided = [a for a in lake.read_part(Adjudication, LAKE_PART) if a["candidate_id"] in known]
    admins = {a["adjudicator"] for a in decided}
    names = sorted({r["reviewer"] for r in assigned} | admins)
    tokens = {name: secrets.token_urlsafe(32) for name in names}
    position: dict[str, int] = {}
    assignment_rows = []
    for a in sorted(assigned, key=lambda a: (a["reviewer"], str(a["assigned_at"]), a["candidate_id"])):
        position[a["reviewer"]] = position.get(a["reviewer"], 0) + 1
        assignment_rows.append((a["candidate_id"], a["reviewer"], position[a["reviewer"]], _iso(a["assigned_at"])))
    db.restore(
        copy.db_id or db.identity,
        [(n, "admin" if n in admins else "reviewer", token_digest(tokens[n]), _now()) for n in names],
        assignment_rows,
        [{**r, "submission_id": f"restored-{r['revision']}", "submitted_at": _iso(r["submitted_at"])} for r in kept],
        [{**a, "decided_at": _iso(a["decided_at"])} for a in decided])
    return Restored(len(kept), len(assignment_rows), len(decided), tokens, len(reviews) - len(kept))
