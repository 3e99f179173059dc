"""The judge: an LLM grades a model's free-form derivation against the paper's, in both orders.

Input columns: ``question``, the paper's derivation (``whole_label``), the model's derivation
(``raw_answer`` of the ``derivation`` call). Output columns (``evaluations``, format ``judge``):
``correctness``, ``clarity``, ``completeness``, ``similarity`` (STORM-BORN's rubric, 0–2 each,
the mean of the two orders), ``order_disagreement``, ``grade``, ``tier`` = ``judge``, ``reason``,
``grader_model``.

Why twice: LLM judges favour the position they read first. The judge reads the reference first,
then again with the answer first; the answer is ``correct`` when both readings give correctness 2,
``incorrect`` when neither does, and ``undecided`` (``judge_orders_disagree``) when they differ.
A reply with a score outside 0–2 is ``judge_out_of_rubric`` (``unparsed``), never a grade.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from tasks.core.records import Grade
from tasks.io.llm import Agent

RUBRIC = ("correctness", "clarity", "completeness", "similarity")
PASS = 2
"""Correctness that passes: every step valid and the reference's result reached."""


class RubricScores(BaseModel):
    # Plain ints, not bounded in the schema: a score outside 0–2 must reach ``parse`` and be
    # recorded as the judge leaving the rubric, not be re-asked until it fits.
    correctness: int = Field(description="0, 1 or 2")
    clarity: int = Field(description="0, 1 or 2")
    completeness: int = Field(description="0, 1 or 2")
    similarity: int = Field(description="0, 1 or 2")
    rationale: str = ""


JUDGE = Agent("judge", RubricScores, Path(__file__).parent / "prompts")


def fields(question: str, reference: str, answer: str, reference_first: bool) -> dict:
    pair = [("Reference derivation (from the paper)", reference), ("Answer to grade", answer)]
    if not reference_first:
        pair.reverse()
    return {"question": question, "first_label": pair[0][0], "first": pair[0][1],
            "second_label": pair[1][0], "second": pair[1][1]}


def parse(reply: RubricScores) -> tuple[dict[str, int] | None, str | None]:
    scores = {k: getattr(reply, k) for k in RUBRIC}
    if any(not 0 <= v <= 2 for v in scores.values()):
        return None, "judge_out_of_rubric"
    return scores, None


def combine(first: dict[str, int] | None, second: dict[str, int] | None
            ) -> tuple[Grade, dict[str, float | None], bool | None, str | None]:
    """Both readings → (grade, mean rubric, the orders disagree, reason)."""
    readings = [r for r in (first, second) if r is not None]
    means = {k: (sum(r[k] for r in readings) / len(readings) if readings else None) for k in RUBRIC}
    if len(readings) < 2:
        return "unparsed", means, None, "judge_out_of_rubric"
    passed = [r["correctness"] >= PASS for r in readings]
    if passed[0] != passed[1]:
        return "undecided", means, True, "judge_orders_disagree"
    return ("correct" if passed[0] else "incorrect"), means, False, None
