"""Stage 1, Candidate Scorer (AgenticMath's seed filter).

Input columns: ``question`` (or ``revised_question``), ``answer`` of ``candidates``.
Output: ``quality_scores`` rows (stage ``candidate_score``; criteria ``complexity``,
``information_value``, ``clarity``, ``precision``, 0–5, with a rationale). A candidate whose mean
is below ``refine.score_floor`` is ``dropped/low_quality_score``; a reply straying outside 0–5
is a ``score_out_of_range`` reject (the candidate keeps its status, unscored).
"""

from __future__ import annotations

from pydantic import BaseModel

from tasks.core.records import SEED_CRITERIA
from tasks.io.llm import Agent
from tasks.refine import PROMPTS
from tasks.refine.scores import Scored

STAGE = "candidate_score"
LOW, HIGH = 0.0, 5.0


class SeedScores(BaseModel):
    complexity: Scored
    information_value: Scored
    clarity: Scored
    precision: Scored


assert tuple(SeedScores.model_fields) == SEED_CRITERIA
AGENT = Agent("candidate_scorer", SeedScores, PROMPTS)


def fields(question: str, answer: str) -> dict:
    return {"question": question, "answer": answer}
