"""Stage 4, Joint Scorer: the experts' rubric applied by an LLM to the question and the paper's
answer together — the experts' pre-review. Reviewers never see it (blind review); admins and
the ranking do.

Input columns: the final question (``revised_question`` or ``question``), ``answer``.
Output: ``quality_scores`` rows (stage ``joint_score``; criteria ``PRINCIPLES``, 1–5, with a
rationale); their mean is the ranking's raw score.
"""

from __future__ import annotations

from pydantic import BaseModel

from tasks.core.records import PRINCIPLES
from tasks.io.llm import Agent
from tasks.refine import PROMPTS
from tasks.refine.scores import Scored

STAGE = "joint_score"
LOW, HIGH = 1.0, 5.0


class JointScores(BaseModel):
    reasoning_density: Scored
    problem_clarity: Scored
    derivation_correctness: Scored
    problem_difficulty: Scored
    human_heuristics: Scored


assert tuple(JointScores.model_fields) == PRINCIPLES
AGENT = Agent("joint_scorer", JointScores, PROMPTS)


def fields(question: str, answer: str) -> dict:
    return {"question": question, "answer": answer}
