"""Agent 6, Answer Filter: is this a real derivation problem?

Input columns: ``question``, ``answer``.
Output columns: ``verdict`` (``derive``: the answer derives the result through reasoning steps;
``define``: it only states a definition or notation; ``other``: anything else, such as a
citation, an empirical claim or an unrelated passage), ``verdict_rationale``,
``verdict_confidence``. Only ``derive`` is kept (STORM-BORN tested a substring of the reply;
this is a structured verdict).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tasks.core.records import Verdict
from tasks.generate.agents import PROMPTS
from tasks.io.llm import Agent


class FilterReply(BaseModel):
    verdict: Verdict
    rationale: str = Field(description="One or two sentences.")
    confidence: float = Field(ge=0.0, le=1.0)


AGENT = Agent("answer_filter", FilterReply, PROMPTS)


def fields(question: str, answer: str) -> dict:
    return {"question": question, "answer": answer}


def parse(reply: FilterReply) -> tuple[str, str, float]:
    return reply.verdict, reply.rationale.strip(), reply.confidence
