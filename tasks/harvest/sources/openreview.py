"""OpenReview venues: submissions with their review replies and decisions.

Input: a ``VenueRule`` (venue id, API version, rating fields, weak-accept level).
Output: ``Submission`` records carrying ``Review`` rows, plus rejects for malformed replies.

Notes are parsed from their JSON form (``Note.to_json()``), the same form the recorded snapshot
stores, so live and recorded answers go through one parser. API v2 wraps every content field as
``{"value": ...}`` and lists ``invitations``; API v1 stores plain values and one ``invitation``.
"""

from __future__ import annotations

import re
from typing import Any

from tasks.core.records import Reject, Review, Submission
from tasks.core.settings import OpenReviewSettings, VenueRule, reveal

_LEADING_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")
_ARXIV_IN_TEXT = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})")


def parse_score(value: Any) -> float | None:
    """A review score as a number: ``8``, ``"8"``, ``"6: marginally above ..."``, ``"3 good"``."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        m = _LEADING_NUMBER.match(value)
        return float(m.group(1)) if m else None
    return None


def _content(note: dict, api_version: int) -> dict[str, Any]:
    raw = note.get("content") or {}
    if api_version == 2:
        return {k: (v.get("value") if isinstance(v, dict) else v) for k, v in raw.items()}
    return dict(raw)


def _invitations(note: dict) -> list[str]:
    return list(note.get("invitations") or ([note["invitation"]] if note.get("invitation") else []))


def parse_submission(note: dict, rule: VenueRule, run_id: str = "") -> tuple[Submission, list[Reject]]:
    """One submission note (with ``details.replies``/``directReplies``) → Submission + rejects."""
    content = _content(note, rule.api_version)
    forum = note.get("forum") or note["id"]
    details = note.get("details") or {}
    replies = details.get("replies") or details.get("directReplies") or []
    reviews, rejects, decision = [], [], None
    for reply in replies:
        invs = _invitations(reply)
        rc = _content(reply, rule.api_version)
        if any(i.endswith(rule.decision_invitation_suffix) for i in invs):
            decision = rc.get("decision") or decision
            continue
        if not any(i.endswith(rule.review_invitation_suffix) for i in invs):
            continue
        field = next((f for f in rule.rating_fields if f in rc), None)
        rating = parse_score(rc.get(field)) if field else None
        if rating is None:
            rejects.append(Reject(
                run_id=run_id, stage="reviews", entity_id=reply.get("id", "?"),
                source_path=f"openreview:{rule.venue_id}/{forum}",
                reason="missing_rating" if field is None else "unparseable_rating",
                detail=f"fields={sorted(rc)[:12]} value={str(rc.get(field))[:80]!r}"))
            continue
        reviews.append(Review(
            review_id=reply.get("id", ""), forum_id=forum, venue=rule.venue_id,
            rating_field=field, rating_raw=str(rc.get(field)), rating=rating,
            confidence_raw=None if rc.get("confidence") is None else str(rc.get("confidence")),
            confidence=parse_score(rc.get("confidence")), run_id=run_id))
    arxiv_id = next((m.group(1) for v in content.values() if isinstance(v, str)
                     for m in [_ARXIV_IN_TEXT.search(v)] if m), None)
    authors = content.get("authors") or []
    pdf = content.get("pdf")
    submission = Submission(
        forum_id=forum, venue=rule.venue_id, api_version=rule.api_version,
        title=" ".join(str(content.get("title", "")).split()),
        authors=[a for a in authors if isinstance(a, str)],
        arxiv_id=arxiv_id,
        pdf_url=f"https://openreview.net{pdf}" if isinstance(pdf, str) and pdf.startswith("/") else pdf,
        license=note.get("license"),
        decision=decision,
        reviews=reviews,
    )
    return submission, rejects


def submission_invitation(rule: VenueRule) -> str:
    if rule.submission_invitation:
        return rule.submission_invitation
    return f"{rule.venue_id}/-/{'Submission' if rule.api_version == 2 else 'Blind_Submission'}"


class OpenReviewClient:
    """Live access through openreview-py; login by token or username/password, else anonymous."""

    def __init__(self, settings: OpenReviewSettings):
        self.settings = settings

    def _client(self, api_version: int):
        import openreview

        creds: dict[str, Any] = {}
        if self.settings.token is not None:
            creds["token"] = reveal(self.settings.token)
        elif self.settings.username and self.settings.password is not None:
            creds["username"] = self.settings.username
            creds["password"] = reveal(self.settings.password)
        if api_version == 2:
            return openreview.api.OpenReviewClient(baseurl=self.settings.baseurl_v2, **creds)
        return openreview.Client(baseurl=self.settings.baseurl_v1, **creds)

    def submission_notes(self, rule: VenueRule) -> list[dict]:
        client = self._client(rule.api_version)
        details = "replies" if rule.api_version == 2 else "directReplies"
        notes = client.get_all_notes(invitation=submission_invitation(rule), details=details)
        # v2's Note.to_json() leaves out ``details``; keep the replies with the note.
        return [{**n.to_json(), "details": getattr(n, "details", None) or {}} for n in notes]
