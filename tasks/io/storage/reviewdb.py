"""The review database: the system of record for expert review (SQLite, one local file).

Tables:

- ``reviewers``: name, role (``reviewer`` | ``admin``), sha256 of the login token (the token
  itself is shown once and never stored).
- ``sessions``: the browser logins: sha256 of the session cookie, its reviewer, the CSRF token
  its forms carry, and when it expires. Logging out deletes the row, so a copied cookie dies
  with it; a new token (``--rotate``) ends every session of that reviewer.
- ``items``: a snapshot of each candidate a reviewer sees (question, derivation, evidence, the
  PDF page), copied from the catalog. The app never opens the catalog while serving, so a
  monthly flow republishing it cannot disturb a review session.
- ``assignments``: (candidate, reviewer), k per candidate.
- ``reviews``: one row per (candidate, reviewer); a resubmission updates it and raises
  ``revision``; a repeated ``submission_id`` (a browser double-submit) changes nothing.
- ``adjudications``: an admin's final decision on a candidate whose reviewers disagreed.
- ``item_audits``: released items an evaluation audit flagged for a human look (``stormborn
  audit``), with the evidence (each model's answers and grades), and an admin's resolution: the
  item is kept, or retired with a ``RetireReason``. One row per (item, audit); at most one open
  row per item. The rules that open, update and resolve them are at ``open_audits`` and
  ``resolve_audit``.

SQLite serialises writers with a lock and keeps committed transactions across crashes, which is
what several reviewers submitting at once need; DuckDB would allow only one process (the app) to
open the file. Each transaction opens its own connection (SQLite connections are cheap and must
not be shared across threads). Writers take the lock up front (``BEGIN IMMEDIATE``) so
concurrent submissions queue behind each other instead of failing half way; ``synchronous=FULL``
makes a committed review survive a crash or power cut.

Reviews are written only by ``submit`` for the reviewer who is signed in: nothing else here
updates or deletes a review. Audits never touch reviews or adjudications, and a resolved audit is
changed only by the admin who resolved it.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from tasks.core.records import PRINCIPLES, AuditStatus, Decision, RetireReason, Role, allowed

"""An item audit's state: waiting for an admin, or resolved (the item kept, or retired)."""
AuditOutcome = Literal["resolved", "changed", "unchanged", "not_admin", "no_audit", "stale",
                       "resolved_by_other"]
"""What ``resolve_audit`` did: ``resolved`` an open audit, ``changed`` the same admin's earlier
decision, ``unchanged`` (the same decision again: a double submit); or why it refused."""


def _in(values: Any) -> str:
    return ", ".join(f"'{v}'" for v in allowed(values))  # closed sets from records, not input


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS reviewers (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ({_in(Role)})),
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    session_sha256 TEXT PRIMARY KEY,
    reviewer TEXT NOT NULL REFERENCES reviewers (name),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    candidate_id TEXT PRIMARY KEY,
    paper_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    loaded_at TEXT NOT NULL,
    queue_rank INTEGER
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
    {", ".join(f"{p} INTEGER NOT NULL CHECK ({p} BETWEEN 1 AND 5)" for p in PRINCIPLES)},
    decision TEXT NOT NULL CHECK (decision IN ({_in(Decision)})),
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
    decision TEXT NOT NULL CHECK (decision IN ({_in(Decision)})),
    comment TEXT NOT NULL DEFAULT '',
    decided_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS assignments_by_reviewer ON assignments (reviewer, position);
CREATE TABLE IF NOT EXISTS item_audits (
    item_id TEXT NOT NULL,
    audit_id TEXT NOT NULL,
    flags TEXT NOT NULL,
    evidence TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{{}}',
    solve_rate REAL,
    audited_at TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ({_in(AuditStatus)})),
    resolved_by TEXT,
    resolved_at TEXT,
    reason TEXT CHECK (reason IS NULL OR reason IN ({_in(RetireReason)})),
    comment TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (item_id, audit_id),
    CHECK ((status = 'open') = (resolved_by IS NULL)),
    CHECK ((status = 'retired') = (reason IS NOT NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS item_audits_one_open ON item_audits (item_id) WHERE status = 'open';
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

Row = dict[str, Any]


class ReviewDB:
    """A SQLite file shared by the review app's threads and the ``stormborn review`` commands."""

    def __init__(self, path: str):
        self.path = str(Path(path).resolve())
        self.created = not Path(self.path).exists()
        """This open made the file: a new, empty review database."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = self._connect()
        try:
            con.executescript(SCHEMA)  # idempotent DDL (CREATE … IF NOT EXISTS), in autocommit
            # A database made before the review queue had a rank (issue #14) gets the column; its
            # rows read NULL (unranked) until the next load.
            if "queue_rank" not in {r[1] for r in con.execute("PRAGMA table_info(items)")}:
                con.execute("ALTER TABLE items ADD COLUMN queue_rank INTEGER")
            # Every review database has an identity (so its lake copy can say where it came from)
            # and a key for reviewer pseudonyms in releases; neither ever changes once written.
            con.executemany("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                            [("db_id", uuid.uuid4().hex), ("pseudonym_key", secrets.token_hex(32))])
        finally:
            con.close()

    def meta(self, key: str) -> str:
        return self.rows("SELECT value FROM meta WHERE key = ?", (key,))[0]["value"]

    @property
    def identity(self) -> str:
        return self.meta("db_id")

    def count_reviews(self) -> int:
        return self.rows("SELECT count(*) AS n FROM reviews")[0]["n"]

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA foreign_keys=ON")
        return con

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction: reads see one consistent state; writes hold the lock from the start."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """A read-only query with bound parameters (also for tests and operators' checks)."""
        with self.transaction() as con:
            return [dict(r) for r in con.execute(sql, tuple(params))]

    # -- accounts ----------------------------------------------------------------------------
    def add_reviewer(self, name: str, role: str, token_sha256: str, at: str, rotate: bool) -> bool:
        """Create the account, or with ``rotate`` give an existing one a new token and role;
        False (nothing written) when it exists and ``rotate`` is not set."""
        with self.transaction(write=True) as con:
            if con.execute("SELECT 1 FROM reviewers WHERE name = ?", (name,)).fetchone() and not rotate:
                return False
            con.execute(
                "INSERT INTO reviewers (name, role, token_sha256, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET token_sha256 = excluded.token_sha256, role = excluded.role",
                (name, role, token_sha256, at))
            con.execute("DELETE FROM sessions WHERE reviewer = ?", (name,))  # the old token's logins end too
        return True

    def reviewer_by_token(self, token_sha256: str) -> Row | None:
        rows = self.rows("SELECT name, role FROM reviewers WHERE token_sha256 = ?", (token_sha256,))
        return rows[0] if rows else None

    # -- browser sessions --------------------------------------------------------------------
    def start_session(self, session_sha256: str, reviewer: str, csrf_token: str, at: str, expires_at: str) -> None:
        with self.transaction(write=True) as con:
            con.execute("DELETE FROM sessions WHERE expires_at <= ?", (at,))  # expired ones go on the way
            con.execute("INSERT INTO sessions (session_sha256, reviewer, csrf_token, created_at, expires_at) "
                        "VALUES (?, ?, ?, ?, ?)", (session_sha256, reviewer, csrf_token, at, expires_at))

    def session(self, session_sha256: str, now: str) -> Row | None:
        """The live session's reviewer (name, role) and CSRF token; None when unknown or expired."""
        rows = self.rows("SELECT r.name, r.role, s.csrf_token FROM sessions s JOIN reviewers r ON r.name = s.reviewer "
                         "WHERE s.session_sha256 = ? AND s.expires_at > ?", (session_sha256, now))
        return rows[0] if rows else None

    def end_session(self, session_sha256: str) -> None:
        with self.transaction(write=True) as con:
            con.execute("DELETE FROM sessions WHERE session_sha256 = ?", (session_sha256,))

    # -- items and assignments --------------------------------------------------------------
    def load_items(self, items: list[tuple[str, str, str, str, str, int | None]]) -> int:
        """Insert or refresh (candidate_id, paper_id, topic, payload, loaded_at, queue_rank) rows;
        returns how many candidates are new."""
        with self.transaction(write=True) as con:
            before = con.execute("SELECT count(*) FROM items").fetchone()[0]
            # a candidate no longer queued (dropped since) keeps its item and reviews, not its rank
            con.execute("UPDATE items SET queue_rank = NULL")
            con.executemany(
                "INSERT INTO items (candidate_id, paper_id, topic, payload, loaded_at, queue_rank) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (candidate_id) DO UPDATE SET payload = excluded.payload, "
                "topic = excluded.topic, queue_rank = excluded.queue_rank",
                items)
            return con.execute("SELECT count(*) FROM items").fetchone()[0] - before

    def assign(self, choose: Callable[[list[str], dict[str, int], dict[str, set[str]], list[str]],
                                      list[tuple[str, str, int, str]]]) -> list[tuple[str, str, int, str]]:
        """Add the assignments ``choose`` makes from the current state, in one write transaction
        (so two assigners at once cannot give a candidate the same reviewer twice).

        ``choose(reviewers, load, have, candidates)`` gets the reviewer names (role ``reviewer``),
        each one's current number of assignments, each candidate's reviewers and every candidate
        in review-queue order (unranked ones last, by paper and id); it returns (candidate_id,
        reviewer, position, assigned_at) rows."""
        with self.transaction(write=True) as con:
            names = [r[0] for r in con.execute(
                "SELECT name FROM reviewers WHERE role = 'reviewer' ORDER BY name")]
            load = {n: 0 for n in names}
            for name, count in con.execute("SELECT reviewer, count(*) FROM assignments GROUP BY reviewer"):
                if name in load:
                    load[name] = count
            have: dict[str, set[str]] = {}
            for cid, name in con.execute("SELECT candidate_id, reviewer FROM assignments"):
                have.setdefault(cid, set()).add(name)
            candidates = [r[0] for r in con.execute(
                "SELECT candidate_id FROM items ORDER BY queue_rank NULLS LAST, paper_id, candidate_id")]
            new = choose(names, load, have, candidates)
            con.executemany(
                "INSERT INTO assignments (candidate_id, reviewer, position, assigned_at) VALUES (?, ?, ?, ?)", new)
        return new

    def queue(self, reviewer: str, details: bool) -> list[Row]:
        """The reviewer's candidates in order with their review's decision (or None) and, with
        ``details``, the paper title and the question (read inside SQLite: no payload parsing)."""
        extra = (", json_extract(i.payload, '$.title') AS title, json_extract(i.payload, '$.question') AS question"
                 if details else "")
        return self.rows(
            f"SELECT a.candidate_id, i.paper_id, r.decision, r.submitted_at{extra} "
            "FROM assignments a JOIN items i USING (candidate_id) "
            "LEFT JOIN reviews r ON r.candidate_id = a.candidate_id AND r.reviewer = a.reviewer "
            "WHERE a.reviewer = ? ORDER BY i.queue_rank NULLS LAST, a.position, a.candidate_id", (reviewer,))

    def item_payload(self, candidate_id: str) -> str | None:
        rows = self.rows("SELECT payload FROM items WHERE candidate_id = ?", (candidate_id,))
        return rows[0]["payload"] if rows else None

    def is_assigned(self, candidate_id: str, reviewer: str) -> bool:
        return bool(self.rows("SELECT 1 FROM assignments WHERE candidate_id = ? AND reviewer = ?",
                              (candidate_id, reviewer)))

    def pool(self) -> list[Row]:
        """Every assigned candidate with its paper, topic and number of assigned reviewers."""
        return self.rows(
            "SELECT i.candidate_id, i.paper_id, i.topic, count(*) AS assigned "
            "FROM items i JOIN assignments a USING (candidate_id) GROUP BY i.candidate_id ORDER BY i.candidate_id")

    # -- reviews -----------------------------------------------------------------------------
    def reviews(self, reviewer: str | None = None, candidate_id: str | None = None) -> list[Row]:
        """Reviews, all or one reviewer's (by submission time) or one (candidate, reviewer)."""
        if reviewer is not None and candidate_id is not None:
            return self.rows("SELECT * FROM reviews WHERE candidate_id = ? AND reviewer = ?",
                             (candidate_id, reviewer))
        if reviewer is not None:
            return self.rows("SELECT * FROM reviews WHERE reviewer = ? ORDER BY submitted_at", (reviewer,))
        return self.rows("SELECT * FROM reviews ORDER BY candidate_id, reviewer")

    def submit(self, candidate_id: str, reviewer: str, scores: dict[str, int], decision: str, comment: str,
               submission_id: str, at: str) -> Row | None:
        """Store the reviewer's own review of an assigned candidate; None when not assigned.

        One transaction holds the write lock from the check to the write, so simultaneous
        submissions queue instead of interleaving; the same ``submission_id`` twice is a no-op,
        a new one replaces the reviewer's earlier review and raises ``revision``."""
        with self.transaction(write=True) as con:
            if not con.execute("SELECT 1 FROM assignments WHERE candidate_id = ? AND reviewer = ?",
                               (candidate_id, reviewer)).fetchone():
                return None
            old = con.execute("SELECT submission_id FROM reviews WHERE candidate_id = ? AND reviewer = ?",
                              (candidate_id, reviewer)).fetchone()
            if old is None or old["submission_id"] != submission_id:
                con.execute(
                    f"INSERT INTO reviews (candidate_id, reviewer, {', '.join(PRINCIPLES)}, decision, "
                    "comment, submission_id, revision, submitted_at) "
                    f"VALUES (?, ?, {', '.join('?' for _ in PRINCIPLES)}, ?, ?, ?, 1, ?) "
                    "ON CONFLICT (candidate_id, reviewer) DO UPDATE SET "
                    + ", ".join(f"{c} = excluded.{c}" for c in (*PRINCIPLES, "decision", "comment",
                                                                "submission_id", "submitted_at"))
                    + ", revision = reviews.revision + 1",
                    (candidate_id, reviewer, *(scores[p] for p in PRINCIPLES), decision, comment,
                     submission_id, at))
            return dict(con.execute("SELECT * FROM reviews WHERE candidate_id = ? AND reviewer = ?",
                                    (candidate_id, reviewer)).fetchone())

    def progress(self) -> list[Row]:
        """Per reviewer: assigned and reviewed counts."""
        return self.rows(
            "SELECT a.reviewer, count(*) AS assigned, count(r.decision) AS reviewed "
            "FROM assignments a LEFT JOIN reviews r USING (candidate_id, reviewer) "
            "GROUP BY a.reviewer ORDER BY a.reviewer")

    def queue_progress(self) -> Row:
        """How far down the review queue the team is: the deepest rank with a review, the ranked
        candidates reviewed by all their reviewers, and the keepers found (an adjudicated keep, or
        every review a keep)."""
        return self.rows(
            "WITH per AS (SELECT i.candidate_id, i.queue_rank, count(a.reviewer) AS assigned, "
            "count(r.decision) AS reviewed, sum(r.decision = 'keep') AS keeps, j.decision AS adjudicated "
            "FROM items i LEFT JOIN assignments a USING (candidate_id) "
            "LEFT JOIN reviews r ON r.candidate_id = a.candidate_id AND r.reviewer = a.reviewer "
            "LEFT JOIN adjudications j ON j.candidate_id = i.candidate_id GROUP BY i.candidate_id) "
            "SELECT count(queue_rank) AS ranked, max(CASE WHEN reviewed > 0 THEN queue_rank END) AS deepest_rank, "
            "count(*) FILTER (WHERE reviewed > 0 AND reviewed = assigned) AS fully_reviewed, "
            "count(*) FILTER (WHERE coalesce(adjudicated = 'keep', reviewed > 0 AND keeps = reviewed)) AS keepers, "
            "sum(reviewed) AS reviews FROM per")[0]

    # -- adjudication ------------------------------------------------------------------------
    def adjudicate(self, candidate_id: str, adjudicator: str, decision: str, comment: str, at: str) -> bool:
        """Record (or replace) the adjudication of a candidate; False for an unknown candidate."""
        with self.transaction(write=True) as con:
            if not con.execute("SELECT 1 FROM items WHERE candidate_id = ?", (candidate_id,)).fetchone():
                return False
            con.execute(
                "INSERT INTO adjudications (candidate_id, adjudicator, decision, comment, decided_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (candidate_id) DO UPDATE SET "
                "adjudicator = excluded.adjudicator, decision = excluded.decision, "
                "comment = excluded.comment, decided_at = excluded.decided_at",
                (candidate_id, adjudicator, decision, comment, at))
        return True

    def adjudications(self) -> list[Row]:
        return self.rows("SELECT * FROM adjudications")

    # -- item audits -------------------------------------------------------------------------
    def open_audits(self, audits: list[Row], at: str) -> int:
        """Put flagged items in the audit queue; returns how many audits were opened or updated.

        Each row: ``item_id``, ``audit_id``, ``flags`` (a list), ``evidence`` (JSON text),
        ``details`` (flag → text), ``solve_rate``, ``audited_at`` (ISO text). The rules, per item:

        - no audit row yet: a new open audit;
        - its open audit (from this audit or an earlier one): flags, evidence and audit id are
          updated; ``opened_at`` stays;
        - resolved by this same audit: nothing (a rerun never reopens a decision);
        - kept after an earlier audit: a new open row only when the flags differ from the ones
          the admin saw (the same flags again would ask the same question);
        - retired: nothing, ever (a retired item is out of every later release; its retirement
          is final).

        An audit older (``audited_at``) than the one the item's latest row shows changes nothing,
        so rerunning an old audit never undoes a newer one. A resolved row is never changed here:
        a reopened item gets a new row and the earlier decision stays as it was.
        """
        changed = 0
        with self.transaction(write=True) as con:
            for audit in sorted(audits, key=lambda a: (a["audited_at"], a["audit_id"], a["item_id"])):
                flags = json.dumps(sorted(set(audit["flags"])))
                values = (flags, audit["evidence"], json.dumps(audit["details"], sort_keys=True),
                          audit["solve_rate"], audit["audited_at"])
                same = con.execute("SELECT status FROM item_audits WHERE item_id = ? AND audit_id = ?",
                                   (audit["item_id"], audit["audit_id"])).fetchone()
                latest = con.execute("SELECT * FROM item_audits WHERE item_id = ? ORDER BY opened_at DESC, "
                                     "rowid DESC LIMIT 1", (audit["item_id"],)).fetchone()
                if same is not None and same["status"] != "open":
                    continue
                if latest is not None and latest["audit_id"] != audit["audit_id"] \
                        and latest["audited_at"] > audit["audited_at"]:
                    continue  # an older audit than the one the item shows
                if latest is not None and latest["status"] == "open":
                    shown = (latest["flags"], latest["evidence"], latest["details"], latest["solve_rate"],
                             latest["audited_at"])
                    if (latest["audit_id"], *shown) == (audit["audit_id"], *values):
                        continue  # the same audit sent again
                    con.execute("UPDATE item_audits SET audit_id = ?, flags = ?, evidence = ?, details = ?, "
                                "solve_rate = ?, audited_at = ? WHERE item_id = ? AND status = 'open'",
                                (audit["audit_id"], *values, audit["item_id"]))
                    changed += 1
                    continue
                if latest is not None and (latest["status"] == "retired" or latest["flags"] == flags):
                    continue
                con.execute("INSERT INTO item_audits (item_id, audit_id, flags, evidence, details, solve_rate, "
                            "audited_at, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (audit["item_id"], audit["audit_id"], *values, at))
                changed += 1
        return changed

    def audits(self, include_resolved: bool = True) -> list[Row]:
        """Item audits, open ones first (oldest first), then resolved ones (latest first), each
        with the item's payload from ``items`` (None when the item is not in this database) and
        ``latest`` (the item's current audit: the one ``resolve_audit`` acts on)."""
        where = "" if include_resolved else "WHERE a.status = 'open'"
        return self.rows(
            "SELECT a.*, i.payload AS item_payload, NOT EXISTS (SELECT 1 FROM item_audits b "
            "WHERE b.item_id = a.item_id AND (b.opened_at > a.opened_at OR "
            "(b.opened_at = a.opened_at AND b.rowid > a.rowid))) AS latest FROM item_audits a "
            f"LEFT JOIN items i ON i.candidate_id = a.item_id {where} "
            "ORDER BY a.status != 'open', CASE WHEN a.status = 'open' THEN a.opened_at END, "
            "a.resolved_at DESC, a.item_id")

    def count_open_audits(self) -> int:
        return self.rows("SELECT count(*) AS n FROM item_audits WHERE status = 'open'")[0]["n"]

    def resolve_audit(self, item_id: str, who: str, status: str, reason: str | None, comment: str, at: str,
                      audit_id: str | None = None,
                      effect: Callable[[Row, Row], None] | None = None) -> tuple[AuditOutcome, Row | None]:
        """Resolve the item's latest audit as ``kept`` or ``retired`` (with a reason).

        Only an admin (by their role here, whatever the caller claims) resolves, and only once: a
        resolved audit is changed again only by the admin who resolved it (their own decision);
        anyone else is refused with ``resolved_by_other``. With ``audit_id`` (the audit the admin
        was shown) a newer audit of the item refuses the decision as ``stale``.

        ``effect(before, after)`` runs inside the transaction once the decision is written: when
        it raises (say the lake cannot be written) nothing is recorded. Returns the outcome and
        the row as it now stands (None for ``no_audit``).
        """
        with self.transaction(write=True) as con:
            role = con.execute("SELECT role FROM reviewers WHERE name = ?", (who,)).fetchone()
            latest = con.execute("SELECT * FROM item_audits WHERE item_id = ? ORDER BY opened_at DESC, "
                                 "rowid DESC LIMIT 1", (item_id,)).fetchone()
            if role is None or role["role"] != "admin":
                return "not_admin", dict(latest) if latest else None
            if latest is None:
                return "no_audit", None
            before = dict(latest)
            if audit_id is not None and audit_id != before["audit_id"]:
                return "stale", before
            if before["status"] != "open" and before["resolved_by"] != who:
                return "resolved_by_other", before
            reason = reason if status == "retired" else None
            if (before["status"], before["reason"], before["comment"]) == (status, reason, comment):
                return "unchanged", before
            con.execute("UPDATE item_audits SET status = ?, reason = ?, comment = ?, resolved_by = ?, "
                        "resolved_at = ? WHERE item_id = ? AND audit_id = ?",
                        (status, reason, comment, who, at, item_id, before["audit_id"]))
            after = dict(con.execute("SELECT * FROM item_audits WHERE item_id = ? AND audit_id = ?",
                                     (item_id, before["audit_id"])).fetchone())
            if effect is not None:
                effect(before, after)
            return ("resolved" if before["status"] == "open" else "changed"), after

    # -- restore -----------------------------------------------------------------------------
    def restore(self, db_id: str, reviewers: list[tuple[str, str, str, str]], assignments: list[tuple],
                reviews: list[dict[str, Any]], adjudications: list[dict[str, Any]]) -> None:
        """Fill an empty review database from a copy (the lake's), taking over the copy's
        identity, in one transaction. Refuses (``ValueError``) when the database holds reviews:
        a restore never replaces a review."""
        columns = ("candidate_id", "reviewer", *PRINCIPLES, "decision", "comment", "submission_id", "revision",
                   "submitted_at")
        with self.transaction(write=True) as con:
            if con.execute("SELECT count(*) FROM reviews").fetchone()[0]:
                raise ValueError(f"the review database {self.path} already holds reviews; restore needs an empty one")
            con.executemany("INSERT OR IGNORE INTO reviewers (name, role, token_sha256, created_at) VALUES (?, ?, ?, ?)",
                            reviewers)
            con.executemany("INSERT OR IGNORE INTO assignments (candidate_id, reviewer, position, assigned_at) "
                            "VALUES (?, ?, ?, ?)", assignments)
            con.executemany(f"INSERT INTO reviews ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                            [tuple(r[c] for c in columns) for r in reviews])
            con.executemany("INSERT OR REPLACE INTO adjudications (candidate_id, adjudicator, decision, comment, "
                            "decided_at) VALUES (?, ?, ?, ?, ?)",
                            [(a["candidate_id"], a["adjudicator"], a["decision"], a["comment"], a["decided_at"])
                             for a in adjudications])
            con.execute("UPDATE meta SET value = ? WHERE key = 'db_id'", (db_id,))

    # -- the analysts' copy ------------------------------------------------------------------
    def snapshot(self) -> tuple[list[Row], list[Row], list[Row]]:
        """Reviews, assignments and adjudications from one read transaction (they agree)."""
        with self.transaction() as con:
            return ([dict(r) for r in con.execute("SELECT * FROM reviews")],
                    [dict(r) for r in con.execute("SELECT candidate_id, reviewer, assigned_at FROM assignments")],
                    [dict(r) for r in con.execute("SELECT * FROM adjudications")])
