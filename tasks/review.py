"""Expert review: accounts, blind assignment, submissions, agreement and adjudication.

The review database (``storage.ReviewDB``, SQLite) is the system of record. Its tables:

- ``reviewers``: name, role (``reviewer`` | ``admin``), sha256 of the login token (the token
  itself is shown once, by ``stormborn review add-reviewer``, and never stored).
- ``items``: a snapshot of each candidate a reviewer sees (question, derivation, evidence, the
  PDF page), copied from the catalog by ``load_items``. The app never opens the catalog, so a
  monthly flow republishing it cannot disturb a review session.
- ``assignments``: (candidate, reviewer), k per candidate.
- ``reviews``: one row per (candidate, reviewer); a resubmission updates it and raises
  ``revision``; a repeated ``submission_id`` (a browser double-submit) changes nothing.
- ``adjudications``: an admin's final decision on a candidate whose reviewers disagreed.

``snapshot`` copies reviews, assignments and adjudications into the lake as the analyst tables
``expert_reviews``, ``review_assignments`` and ``adjudications``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import krippendorff
import numpy as np
from pydantic import Field
from rapidfuzz import fuzz

from tasks import storage
from tasks.models import PRINCIPLES, Adjudication, ExpertReview, ReviewAssignment, Rubric
from tasks.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS reviewers (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('reviewer', 'admin')),
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    candidate_id TEXT PRIMARY KEY,
    paper_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    loaded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assignments (
    candidate_id TEXT NOT NULL REFERENCES items (candidate_id),
    reviewer TEXT NOT NULL REFERENCES reviewers (name),
    position INTEGER NOT NULL,
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (candidate_id, reviewer)
);
CREATE TABLE IF NOT EXISTS reviews (
    candidate_id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    reasoning_density INTEGER NOT NULL CHECK (reasoning_density BETWEEN 1 AND 5),
    problem_clarity INTEGER NOT NULL CHECK (problem_clarity BETWEEN 1 AND 5),
    derivation_correctness INTEGER NOT NULL CHECK (derivation_correctness BETWEEN 1 AND 5),
    problem_difficulty INTEGER NOT NULL CHECK (problem_difficulty BETWEEN 1 AND 5),
    human_heuristics INTEGER NOT NULL CHECK (human_heuristics BETWEEN 1 AND 5),
    decision TEXT NOT NULL CHECK (decision IN ('keep', 'reject')),
    comment TEXT NOT NULL DEFAULT '',
    submission_id TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1,
    submitted_at TEXT NOT NULL,
    PRIMARY KEY (candidate_id, reviewer),
    FOREIGN KEY (candidate_id, reviewer) REFERENCES assignments (candidate_id, reviewer)
);
CREATE TABLE IF NOT EXISTS adjudications (
    candidate_id TEXT PRIMARY KEY REFERENCES items (candidate_id),
    adjudicator TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('keep', 'reject')),
    comment TEXT NOT NULL DEFAULT '',
    decided_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS assignments_by_reviewer ON assignments (reviewer, position);
"""

Role = Literal["reviewer", "admin"]


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


def open_db(settings: Settings) -> storage.ReviewDB:
    return storage.ReviewDB(settings.review_db_path, SCHEMA)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def token_digest(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 is as strong as a slow password hash and
    # keeps per-request authentication cheap.
    return hashlib.sha256(token.encode()).hexdigest()


# -- accounts ------------------------------------------------------------------------------

def add_reviewer(db: storage.ReviewDB, name: str, role: Role = "reviewer",
                 rotate: bool = False) -> str:
    """Create an account (or give an existing one a new token with ``rotate``); returns the token."""
    name = name.strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise ValueError("a reviewer name is 1-64 letters, digits, '-', '_' or '.'")
    token = secrets.token_urlsafe(32)
    with db.transaction(write=True) as con:
        exists = con.execute("SELECT 1 FROM reviewers WHERE name = ?", (name,)).fetchone()
        if exists and not rotate:
            raise ValueError(f"reviewer {name!r} exists; use --rotate for a new token")
        con.execute(
            "INSERT INTO reviewers (name, role, token_sha256, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET token_sha256 = excluded.token_sha256, role = excluded.role",
            (name, role, token_digest(token), _now()))
    return token


def authenticate(db: storage.ReviewDB, token: str | None) -> Reviewer | None:
    if not token:
        return None
    rows = db.rows("SELECT name, role FROM reviewers WHERE token_sha256 = ?", (token_digest(token),))
    return Reviewer(rows[0]["name"], rows[0]["role"]) if rows else None


# -- items and assignment ------------------------------------------------------------------

ITEMS_SQL = """
SELECT c.candidate_id, c.paper_id, p.title, p.license, p.arxiv_id,
       coalesce(p.primary_category, p.venue, p.source) AS topic,
       c.question, c.answer, c.answer_evidence, c.question_evidence, c.target_expr, c.target_kind,
       c.target_number, c.target_latex, c.setting, c.grounded_score, c.verdict_confidence,
       e.page, e.bbox, e.context_before, e.context_after, d.uri AS pdf_uri
FROM candidates c
JOIN papers p USING (paper_id)
LEFT JOIN expressions e ON e.expr_id = c.target_expr
LEFT JOIN documents d ON d.paper_id = c.paper_id AND d.kind = 'pdf' AND d.parse_status = 'ok'
WHERE c.status = 'done'
ORDER BY c.paper_id, c.candidate_id
"""


def load_items(settings: Settings, db: storage.ReviewDB) -> int:
    """Copy the catalog's finished candidates into the review database; returns how many are new."""
    rows = storage.query_rows(settings, ITEMS_SQL)
    with db.transaction(write=True) as con:
        before = con.execute("SELECT count(*) FROM items").fetchone()[0]
        con.executemany(
            "INSERT INTO items (candidate_id, paper_id, topic, payload, loaded_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (candidate_id) DO UPDATE SET payload = excluded.payload, topic = excluded.topic",
            [(r["candidate_id"], r["paper_id"], r["topic"] or "unknown",
              json.dumps(r, default=str), _now()) for r in rows])
        after = con.execute("SELECT count(*) FROM items").fetchone()[0]
    return after - before


@dataclass
class AssignResult:
    assigned: int
    """New (candidate, reviewer) pairs."""
    short: int
    """Candidates that still have fewer than k reviewers (not enough reviewers exist)."""


def assign(db: storage.ReviewDB, k: int) -> AssignResult:
    """Give each candidate k reviewers, always choosing the least-loaded reviewers it lacks.

    Admins review nothing unless they are the only accounts. Deterministic for the same state,
    and incremental: candidates loaded later are spread over everyone, existing pairs stay.
    """
    with db.transaction(write=True) as con:
        names = [r[0] for r in con.execute(
            "SELECT name FROM reviewers WHERE role = 'reviewer' ORDER BY name")]
        load = {n: 0 for n in names}
        for name, count in con.execute("SELECT reviewer, count(*) FROM assignments GROUP BY reviewer"):
            if name in load:
                load[name] = count
        have: dict[str, set[str]] = {}
        for cid, name in con.execute("SELECT candidate_id, reviewer FROM assignments"):
            have.setdefault(cid, set()).add(name)
        new, short = [], 0
        for (cid,) in con.execute("SELECT candidate_id FROM items ORDER BY paper_id, candidate_id").fetchall():
            mine = have.get(cid, set())
            # the least loaded first; ties broken by a hash so no name is always first
            free = sorted((n for n in names if n not in mine),
                          key=lambda n: (load[n], hashlib.sha256(f"{cid}{n}".encode()).digest()))
            chosen = free[:max(0, k - len(mine))]
            for name in chosen:
                load[name] += 1
                new.append((cid, name, load[name], _now()))
            short += len(mine) + len(chosen) < k
        con.executemany(
            "INSERT INTO assignments (candidate_id, reviewer, position, assigned_at) VALUES (?, ?, ?, ?)",
            new)
    return AssignResult(assigned=len(new), short=short)


# -- a reviewer's view ---------------------------------------------------------------------

def queue(db: storage.ReviewDB, reviewer: str, details: bool = True) -> list[dict[str, Any]]:
    """The reviewer's candidates in order, each with ``done`` (reviewed by them) and, with
    ``details``, the paper title and the question (read inside SQLite, no payload parsing)."""
    extra = (", json_extract(i.payload, '$.title') AS title, json_extract(i.payload, '$.question') AS question"
             if details else "")
    rows = db.rows(
        f"SELECT a.candidate_id, i.paper_id, r.decision, r.submitted_at{extra} "
        "FROM assignments a JOIN items i USING (candidate_id) "
        "LEFT JOIN reviews r ON r.candidate_id = a.candidate_id AND r.reviewer = a.reviewer "
        "WHERE a.reviewer = ? ORDER BY a.position, a.candidate_id", (reviewer,))
    return [r | {"done": r["decision"] is not None} for r in rows]


def next_pending(db: storage.ReviewDB, reviewer: str) -> str | None:
    """Where the reviewer left off: their first candidate without a review."""
    return next((q["candidate_id"] for q in queue(db, reviewer, details=False) if not q["done"]), None)


def item(db: storage.ReviewDB, who: Reviewer, candidate_id: str) -> dict[str, Any]:
    """The candidate as the reviewer may see it; raises ``NotAssigned`` for someone else's."""
    rows = db.rows("SELECT payload FROM items WHERE candidate_id = ?", (candidate_id,))
    if not rows:
        raise UnknownCandidate(candidate_id)
    if not who.is_admin and not _is_assigned(db, candidate_id, who.name):
        raise NotAssigned(candidate_id)
    return json.loads(rows[0]["payload"])


def _is_assigned(db: storage.ReviewDB, candidate_id: str, reviewer: str) -> bool:
    return bool(db.rows("SELECT 1 FROM assignments WHERE candidate_id = ? AND reviewer = ?",
                        (candidate_id, reviewer)))


def own_review(db: storage.ReviewDB, reviewer: str, candidate_id: str) -> ExpertReview | None:
    rows = db.rows("SELECT * FROM reviews WHERE candidate_id = ? AND reviewer = ?",
                   (candidate_id, reviewer))
    return _review(rows[0]) if rows else None


def own_reviews(db: storage.ReviewDB, reviewer: str) -> list[ExpertReview]:
    """Blind by construction: only the reviewer's own rows are ever read for them."""
    return [_review(r) for r in db.rows(
        "SELECT * FROM reviews WHERE reviewer = ? ORDER BY submitted_at", (reviewer,))]


def all_reviews(db: storage.ReviewDB) -> list[ExpertReview]:
    """Every review (admins, agreement, selection)."""
    return [_review(r) for r in db.rows("SELECT * FROM reviews ORDER BY candidate_id, reviewer")]


def _review(row: dict[str, Any]) -> ExpertReview:
    return ExpertReview(**{k: row[k] for k in ExpertReview.model_fields})


def submit(db: storage.ReviewDB, who: Reviewer, candidate_id: str, form: ReviewForm) -> ExpertReview:
    """Store the reviewer's review of an assigned candidate, once per submission.

    One transaction holds the write lock from the check to the write, so simultaneous
    submissions queue instead of interleaving; the same ``submission_id`` twice is a no-op.
    """
    with db.transaction(write=True) as con:
        if not con.execute("SELECT 1 FROM assignments WHERE candidate_id = ? AND reviewer = ?",
                           (candidate_id, who.name)).fetchone():
            raise NotAssigned(candidate_id)
        old = con.execute("SELECT submission_id FROM reviews WHERE candidate_id = ? AND reviewer = ?",
                          (candidate_id, who.name)).fetchone()
        if old is None or old["submission_id"] != form.submission_id:
            con.execute(
                f"INSERT INTO reviews (candidate_id, reviewer, {', '.join(PRINCIPLES)}, decision, "
                "comment, submission_id, revision, submitted_at) "
                f"VALUES (?, ?, {', '.join('?' for _ in PRINCIPLES)}, ?, ?, ?, 1, ?) "
                "ON CONFLICT (candidate_id, reviewer) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in (*PRINCIPLES, "decision", "comment",
                                                            "submission_id", "submitted_at"))
                + ", revision = reviews.revision + 1",
                (candidate_id, who.name, *(getattr(form, p) for p in PRINCIPLES), form.decision,
                 form.comment, form.submission_id, _now()))
        row = con.execute("SELECT * FROM reviews WHERE candidate_id = ? AND reviewer = ?",
                          (candidate_id, who.name)).fetchone()
    return _review(dict(row))


# -- agreement and adjudication ------------------------------------------------------------

@dataclass
class Agreement:
    alpha: dict[str, float | None]
    """Krippendorff's α (ordinal) per principle, ``overall`` (all principles pooled, each
    (candidate, principle) a unit) and ``decision`` (nominal keep/reject)."""
    units: int
    """Candidates with at least two reviews (the only ones α can use)."""
    reviews: int


def krippendorff_alpha(matrix: np.ndarray, level: str) -> float | None:
    """α over a coders × units matrix with NaN for missing; None when α is undefined."""
    pairable = (np.sum(~np.isnan(matrix), axis=0) >= 2).sum() if matrix.size else 0
    if pairable == 0:
        return None
    try:
        return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))
    except ValueError:  # every value identical: the library refuses a one-value domain
        return None


def agreement(reviews: list[ExpertReview]) -> Agreement:
    names = sorted({r.reviewer for r in reviews})
    by_unit: dict[str, dict[str, ExpertReview]] = {}
    for r in reviews:
        by_unit.setdefault(r.candidate_id, {})[r.reviewer] = r
    units = sorted(c for c, rs in by_unit.items() if len(rs) >= 2)

    def matrix(value) -> np.ndarray:
        return np.array([[value(by_unit[u][n]) if n in by_unit[u] else np.nan for u in units]
                         for n in names], dtype=float).reshape(len(names), len(units))

    alpha: dict[str, float | None] = {
        p: krippendorff_alpha(matrix(lambda r, p=p: getattr(r, p)), "ordinal") for p in PRINCIPLES}
    pooled = np.concatenate([matrix(lambda r, p=p: getattr(r, p)) for p in PRINCIPLES], axis=1) \
        if units else np.empty((len(names), 0))
    alpha["overall"] = krippendorff_alpha(pooled, "ordinal")
    alpha["decision"] = krippendorff_alpha(matrix(lambda r: r.decision == "keep"), "nominal")
    return Agreement(alpha=alpha, units=len(units), reviews=len(reviews))


def disagreement(reviews: list[ExpertReview], threshold: float) -> str | None:
    """Why these reviews of one candidate need an adjudicator, or None when they agree."""
    if len(reviews) < 2:
        return None
    if len({r.decision for r in reviews}) > 1:
        return "decisions differ"
    spread = {p: max(getattr(r, p) for r in reviews) - min(getattr(r, p) for r in reviews)
              for p in PRINCIPLES}
    worst = max(spread, key=spread.get)
    if spread[worst] >= threshold:
        return f"{worst} scores {spread[worst]} apart"
    return None


def adjudication_queue(db: storage.ReviewDB, threshold: float) -> list[dict[str, Any]]:
    """Candidates whose reviewers disagree and that no admin has decided yet."""
    decided = {r["candidate_id"] for r in db.rows("SELECT candidate_id FROM adjudications")}
    grouped: dict[str, list[ExpertReview]] = {}
    for r in all_reviews(db):
        grouped.setdefault(r.candidate_id, []).append(r)
    return [{"candidate_id": cid, "why": why, "reviews": rs}
            for cid, rs in sorted(grouped.items())
            if cid not in decided and (why := disagreement(rs, threshold))]


def adjudicate(db: storage.ReviewDB, who: Reviewer, candidate_id: str,
               decision: Literal["keep", "reject"], comment: str = "") -> Adjudication:
    if not who.is_admin:
        raise NotAssigned(candidate_id)
    with db.transaction(write=True) as con:
        if not con.execute("SELECT 1 FROM items WHERE candidate_id = ?", (candidate_id,)).fetchone():
            raise UnknownCandidate(candidate_id)
        row = Adjudication(candidate_id=candidate_id, adjudicator=who.name, decision=decision,
                           comment=comment)
        con.execute(
            "INSERT INTO adjudications (candidate_id, adjudicator, decision, comment, decided_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (candidate_id) DO UPDATE SET "
            "adjudicator = excluded.adjudicator, decision = excluded.decision, "
            "comment = excluded.comment, decided_at = excluded.decided_at",
            (candidate_id, who.name, decision, comment, row.decided_at.isoformat()))
    return row


def adjudications(db: storage.ReviewDB) -> list[Adjudication]:
    return [Adjudication(**r) for r in db.rows("SELECT * FROM adjudications")]


def progress(db: storage.ReviewDB) -> list[dict[str, Any]]:
    """Per reviewer: assigned and reviewed counts."""
    return db.rows(
        "SELECT a.reviewer, count(*) AS assigned, count(r.decision) AS reviewed "
        "FROM assignments a LEFT JOIN reviews r USING (candidate_id, reviewer) "
        "GROUP BY a.reviewer ORDER BY a.reviewer")


# -- the analysts' copy --------------------------------------------------------------------

def snapshot(settings: Settings, db: storage.ReviewDB, publish: bool = True) -> dict[str, int]:
    """Copy reviews, assignments and adjudications into the lake and (with ``publish``)
    republish the catalog.

    Each table is one file under a fixed key, rewritten whole from a consistent read, so the
    copy is never half written and re-running it changes nothing.
    """
    lake = storage.Lake.from_settings(settings)
    with db.transaction() as con:  # one read transaction: the three tables agree with each other
        reviews = [_review(dict(r)) for r in con.execute("SELECT * FROM reviews")]
        assigned = [ReviewAssignment(**dict(r)) for r in con.execute(
            "SELECT candidate_id, reviewer, assigned_at FROM assignments")]
        decided = [Adjudication(**dict(r)) for r in con.execute("SELECT * FROM adjudications")]
    for model, rows in ((ExpertReview, reviews), (ReviewAssignment, assigned), (Adjudication, decided)):
        lake.write_table(model, rows, "review-app", replace_empty=True)
    if publish:
        storage.publish_catalog(settings)
    return {"expert_reviews": len(reviews), "review_assignments": len(assigned),
            "adjudications": len(decided)}


# -- evidence highlighting -----------------------------------------------------------------

def highlight(text: str, passages: list[str], threshold: float = 85.0) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is_evidence) runs, marking where each passage aligns with it."""
    marks: list[tuple[int, int]] = []
    for passage in passages:
        if not passage or not text:
            continue
        hit = fuzz.partial_ratio_alignment(passage, text, score_cutoff=threshold)
        if hit is not None and hit.dest_end > hit.dest_start:
            marks.append((hit.dest_start, hit.dest_end))
    runs: list[tuple[str, bool]] = []
    at = 0
    for start, end in sorted(marks):
        start = max(start, at)
        if start > at:
            runs.append((text[at:start], False))
        if end > start:
            runs.append((text[start:end], True))
        at = max(at, end)
    if at < len(text):
        runs.append((text[at:], False))
    return runs
