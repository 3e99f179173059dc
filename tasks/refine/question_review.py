"""Stage 2, Question Review → Revise: a reviewer scores the question; below ``refine.review_bar``
a reviser rewrites it; the loop stops at the bar, after ``refine.revise_rounds`` revisions, or at
the first refused revision (asked again, the reviser would answer the same).

Input columns: ``question``, ``target_latex``, ``question_evidence`` of ``candidates``.
Output: ``question_revisions`` rows (round 0: the original; each later round: the revision, its
``outcome`` ``accepted`` or ``refused`` with a reason, and the review of that round's question)
and ``candidates.revised_question`` (the last accepted revision).

A revision must keep the mathematics: every formula of the question it rewrites is still stated,
compared after normalisation (``equivalence.normalise_math``) or, where both parse, by
``tasks.core.equivalence`` (Math-Verify, then SymPy). One that drops or changes a formula is
refused (``revision_changed_math``), one that returns the same question is refused
(``revision_unchanged``), and the previous question is kept.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tasks.core.equivalence import math_segments, normalise_math, same_result
from tasks.core.records import REVIEW_CRITERIA
from tasks.io.llm import Agent
from tasks.refine import PROMPTS
from tasks.refine.scores import Scored


class QuestionReview(BaseModel):
    clarity: Scored
    self_containment: Scored
    faithfulness: Scored
    comment: str = Field(description="What a reviser should change; empty if nothing.")


class Revision(BaseModel):
    question: str = Field(description="The revised question.")


assert tuple(QuestionReview.model_fields)[:3] == REVIEW_CRITERIA
REVIEWER = Agent("question_reviewer", QuestionReview, PROMPTS)
REVISER = Agent("question_reviser", Revision, PROMPTS)


def review_fields(question: str, target: str) -> dict:
    return {"question": question, "target": target}


def revise_fields(question: str, comment: str, target: str, evidence: list[str]) -> dict:
    return {"question": question, "comment": comment or "(none)", "target": target,
            "evidence": "\n".join(f"- {p}" for p in evidence) or "(none)"}


LOW, HIGH = 0.0, 5.0


def review_scores(reply: QuestionReview) -> tuple[dict[str, float], str | None]:
    """The reviewer's scores (``REVIEW_CRITERIA``), and ``score_out_of_range`` when one is outside 0–5."""
    scores = {c: getattr(reply, c).score for c in REVIEW_CRITERIA}
    stray = any(not LOW <= s <= HIGH for s in scores.values())
    return scores, "score_out_of_range" if stray else None


MAX_COMPARED = 8
"""Formulas of a revision compared symbolically with one missing formula (each is a child
process; a question rarely states more)."""


def _plain(text: str) -> str:
    return " ".join(text.split()).casefold()


def changed_math(before: str, after: str, timeout_s: float) -> str | None:
    """Why the revision ``after`` may not replace ``before``, or None when it keeps the math."""
    if _plain(before) == _plain(after):
        return "revision_unchanged"
    kept = [normalise_math(f) for f in math_segments(after)]
    joined = "".join(kept)
    for formula in math_segments(before):
        wanted = normalise_math(formula)
        if not wanted or wanted in joined:
            continue
        # Not stated verbatim: equivalent to one of the revision's formulas (Math-Verify)?
        if not any(same_result(formula, other, timeout_s).same for other in math_segments(after)[:MAX_COMPARED]):
            return "revision_changed_math"
    return None
