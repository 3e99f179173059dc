"""Agent 6, Answer Filter: is this a real derivation problem?

Input columns: ``question``, ``answer``.
Output columns: ``verdict`` (``derive``: the answer derives the result through reasoning steps;
``define``: it only states a definition or notation; ``other``: anything else, such as a
citation, an empirical claim or an unrelated passage), ``verdict_rationale``,
``verdict_confidence``. Only ``derive`` is kept (STORM-BORN tested a substring of the reply;
this is a structured verdict).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tasks.agents import Agent

VERDICTS = ("derive", "define", "other")


class FilterReply(BaseModel):
    verdict: Literal["derive", "define", "other"]
    rationale: str = Field(description="One or two sentences.")
    confidence: float = Field(ge=0.0, le=1.0)


AGENT = Agent("answer_filter", FilterReply)


def fields(question: str, answer: str) -> dict:
    return {"question": question, "answer": answer}


def parse(reply: FilterReply) -> tuple[str, str, float]:
    return reply.verdict, reply.rationale.strip(), reply.confidence
