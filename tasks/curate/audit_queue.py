"""The audit queue: released items an evaluation audit flagged, in front of an admin, who keeps
or retires each (items are retired, never deleted).

Input: ``ItemAudit`` rows (``tasks.evaluate.audits``; one per audit, item and flag, ``evidence``
the JSON text ``{"models": {model: [{"format", "sample", "grade", "parsed_answer", "expected",
"reason", "raw_answer"}, …]}}``; a missing field is shown as missing). Output: the review
database's ``item_audits`` (the open queue and the admins' decisions;
``tasks.io.storage.ReviewDB.open_audits`` says when an item is reopened) and, for each retired item, a ``Retirement`` row in the lake under the part key
``audit-<item>`` (one file per item: a retirement never overwrites another item's), which the
next release reads from the ``retirements`` table.

Columns of ``audit_queue`` rows: item_id, audit_id, flags, details (flag → the audit's text),
solve_rate, opened_at, audited_at, status, resolved_by, resolved_at, reason, comment, latest (the
item's current audit, the one a decision acts on; an earlier one was superseded), models
(``[{"model", "answers": [{format, sample, grade, parsed_answer, expected, reason, raw_answer}]}]``),
evidence_text (the evidence as written when it is not that JSON), item (title, paper_id,
question, answer; None when the item is not in the review database).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tasks.core.records import AuditDecision, ItemAudit, Retirement, RetireReason, allowed, stable_id
from tasks.core.settings import Settings
from tasks.curate.review import Reviewer
from tasks.io import storage
from tasks.io.storage import ReviewDB

STATUS_OF: dict[str, str] = {"keep": "kept", "retire": "retired"}
"""A decision → the audit's status once resolved."""
RETIRE_REASONS: list[str] = allowed(RetireReason)
ANSWER_FIELDS = ("format", "sample", "grade", "parsed_answer", "expected", "reason", "raw_answer")
"""What the page shows of each answer in the evidence (``expected``: the key the grade used)."""
SHOWN_CHARS = 4000
"""A model's answer (or the evidence as text) on the page is cut to this many characters."""


class NoAudit(LookupError):
    """The item has no audit in the review database (HTTP 404)."""


class AuditRefused(Exception):
    """The decision is not recorded: ``status`` is the HTTP status that says why (403 not an
    admin, 409 resolved by someone else or a newer audit, 422 a retirement without a reason)."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def _now() -> str:
    return _stamp(datetime.now(UTC))


def _stamp(at: datetime) -> str:
    # One fixed width, so the database compares audit times as text correctly.
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="microseconds")


def retirement_part(item_id: str) -> str:
    """The lake part of an item's audit retirement: one per item, and distinct for distinct ids
    even where the lake's file-name cleaning would make two ids alike."""
    return f"audit-{item_id[:80]}-{stable_id(item_id)}"


def send_to_adjudication(db: ReviewDB, audits: list[ItemAudit]) -> int:
    """Open (or update) an audit in the review database for every flagged item; returns how
    many audits were opened or updated. An item's flags from one audit become one audit row."""
    grouped: dict[tuple[str, str], list[ItemAudit]] = {}
    for a in audits:
        grouped.setdefault((a.item_id, a.audit_id), []).append(a)
    rows = []
    for (item_id, audit_id), found in grouped.items():
        rows.append({
            "item_id": item_id, "audit_id": audit_id,
            "flags": sorted({a.flag for a in found}),
            "details": {a.flag: a.detail for a in found if a.detail},
            "evidence": next((a.evidence for a in found if a.evidence), ""),
            "solve_rate": next((a.solve_rate for a in found if a.solve_rate is not None), None),
            "audited_at": _stamp(max(a.audited_at for a in found)),
        })
    return db.open_audits(rows, _now()) if rows else 0


def open_count(db: ReviewDB) -> int:
    return db.count_open_audits()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + " […]"


def _models(evidence: str) -> tuple[list[dict[str, Any]], str | None]:
    """Each model's answers from the evidence, or (``[]``, the evidence as text) when it is not
    the audit's JSON. Every value is text for the page (answers are a model's, not ours)."""
    try:
        parsed = json.loads(evidence) if evidence else {}
    except ValueError:
        return [], _text(evidence)
    models = parsed.get("models") if isinstance(parsed, dict) else None
    if not isinstance(models, dict):
        return [], _text(evidence) if evidence else None
    shown = []
    for name in sorted(models, key=str):
        answers = models[name] if isinstance(models[name], list) else [models[name]]
        shown.append({"model": str(name), "answers": [
            {key: _text(a.get(key)) for key in ANSWER_FIELDS}
            if isinstance(a, dict) else {"raw_answer": _text(a)} for a in answers]})
    return shown, None


def _item(payload: str | None) -> dict[str, Any] | None:
    if payload is None:
        return None
    data = json.loads(payload)
    return {"title": data.get("title"), "paper_id": data.get("paper_id"), "question": data.get("question"),
            "answer": data.get("answer_portable") or data.get("answer")}


def audit_queue(db: ReviewDB, include_resolved: bool = False) -> list[dict[str, Any]]:
    """The audits for an admin: open ones first (oldest first), with ``include_resolved`` the
    decided ones after them (latest first); the columns are in the module's docstring."""
    out = []
    for row in db.audits(include_resolved):
        models, evidence_text = _models(row.pop("evidence"))
        payload = row.pop("item_payload")
        out.append(row | {"flags": json.loads(row["flags"]), "details": json.loads(row["details"]),
                          "latest": bool(row["latest"]),
                          "models": models, "evidence_text": evidence_text, "item": _item(payload)})
    return out


def resolve_audit(settings: Settings, db: ReviewDB, who: Reviewer, item_id: str, decision: AuditDecision,
                  reason: RetireReason | None = None, comment: str = "",
                  audit_id: str | None = None) -> dict[str, Any]:
    """An admin keeps or retires an audited item; returns the audit row as it now stands.

    A retirement writes a ``Retirement`` row to the lake in the same step (when the lake cannot
    be written, nothing is recorded and the error is raised). An audit is resolved once: only
    the admin who resolved it may change the decision (a change from retire to keep removes
    that retirement's lake row; a release made in between keeps the item retired, as every
    retired item stays). With ``audit_id`` (the audit the admin was shown) a decision on an item
    that a newer audit has updated since is refused. Raises ``AuditRefused`` or ``NoAudit``.
    """
    if not who.is_admin:
        raise AuditRefused("only admins resolve audits", 403)
    if decision not in STATUS_OF:
        raise AuditRefused(f"the decision is one of {', '.join(STATUS_OF)}", 422)
    if decision == "retire" and reason not in RETIRE_REASONS:
        raise AuditRefused(f"retiring an item needs a reason: one of {', '.join(RETIRE_REASONS)}", 422)
    lake = storage.Lake.from_settings(settings)

    def effect(before: dict[str, Any], after: dict[str, Any]) -> None:
        part = retirement_part(item_id)
        if after["status"] == "retired":
            flags = ", ".join(json.loads(after["flags"]))
            detail = f"audit {after['audit_id']} ({flags})" + (f": {comment}" if comment else "")
            lake.write_table(Retirement, [Retirement(
                item_id=item_id, reason=after["reason"], detail=detail, retired_by=who.name,
                retired_at=datetime.fromisoformat(after["resolved_at"]))], part)
        elif before["status"] == "retired":
            lake.write_table(Retirement, [], part, replace_empty=True)

    outcome, row = db.resolve_audit(item_id, who.name, STATUS_OF[decision], reason if decision == "retire" else None,
                                    comment, _now(), audit_id=audit_id, effect=effect)
    if outcome == "no_audit":
        raise NoAudit(item_id)
    if outcome == "not_admin":
        raise AuditRefused("only admins resolve audits", 403)
    if outcome == "stale":
        raise AuditRefused(f"item {item_id} was audited again since this page was loaded (now audit "
                           f"{row['audit_id']}): reload the page and decide on the new evidence")
    if outcome == "resolved_by_other":
        raise AuditRefused(f"item {item_id}'s audit was resolved by {row['resolved_by']} ({row['status']}); "
                           f"only they can change that decision")
    return row | {"outcome": outcome}
