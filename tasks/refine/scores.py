"""What the scoring agents share: a score with its rationale, and reading a reply's scores into
``quality_scores`` rows with a range check.

The response models do not constrain the range in their JSON Schema: a model's reply outside the
range is then read (not re-asked and lost as ``invalid_output``) and recorded as
``score_out_of_range``, so analysts can count how often an evaluator strays.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tasks.core.records import QualityScore


class Scored(BaseModel):
    score: float = Field(description="The score, in the range the instructions give.")
    rationale: str = Field(description="One or two sentences.")


def score_rows(candidate_id: str, stage: str, reply: BaseModel, criteria: tuple[str, ...],
               low: float, high: float, model: str, run_id: str) -> tuple[list[QualityScore], str | None]:
    """One row per criterion, and ``score_out_of_range`` when any score is outside [low, high]
    (the rows are still returned, so the stray value is visible)."""
    rows = [QualityScore(candidate_id=candidate_id, stage=stage, criterion=c, score=getattr(reply, c).score,
                         rationale=getattr(reply, c).rationale.strip(), model=model, run_id=run_id)
            for c in criteria]
    stray = any(not low <= r.score <= high for r in rows)
    return rows, "score_out_of_range" if stray else None


def mean(rows: list[QualityScore]) -> float | None:
    return round(sum(r.score for r in rows) / len(rows), 3) if rows else None
