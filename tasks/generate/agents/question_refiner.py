"""Agent 5, Question Refiner: the draft question made self-contained.

Input columns: ``query``, ``setting``, ``symbols``, ``question_evidence``.
Output column: ``question``. It adds the definitions a reader lacks, removes references to "the
paper", its sections, equations and figures, and keeps the derivation out. The
``candidate_questions`` suite rejects questions that still point into the paper.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tasks.generate.agents import PROMPTS
from tasks.io.llm import Agent


class RefinerReply(BaseModel):
    question: str = Field(description="The self-contained question.")


AGENT = Agent("question_refiner", RefinerReply, PROMPTS)


def fields(query: str, setting: str | None, symbols: str | None, evidence: list[str]) -> dict:
    return {"query": query, "setting": setting or "", "symbols": symbols or "",
            "evidence": "\n".join(f"- {p}" for p in evidence) or "(none)"}


def parse(reply: RefinerReply) -> str | None:
    return reply.question.strip() or None
