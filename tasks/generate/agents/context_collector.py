"""Agent 4, Context Collector: the verbatim passages a reader needs to understand the question
and the answer (definitions, assumptions, notation).

Input columns: ``query`` and the target's pieces.
Output column: ``question_evidence`` (a list of verbatim passages; each one is aligned to the
paper by the caller and passages that do not align are left out).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tasks.generate.agents import PROMPTS
from tasks.generate.agents.answer_retriever import render_pieces
from tasks.generate.agents.excerpt import Piece
from tasks.io.llm import Agent


class ContextReply(BaseModel):
    passages: list[str] = Field(default_factory=list,
                                description="Sentences copied verbatim from the passages, at most 6.")


AGENT = Agent("context_collector", ContextReply, PROMPTS)
MAX_PASSAGES = 6


def fields(query: str, pieces: list[Piece]) -> dict:
    return {"query": query, "passages": render_pieces(pieces), "most": MAX_PASSAGES}


def parse(reply: ContextReply) -> list[str]:
    seen, out = set(), []
    for passage in reply.passages:
        passage = passage.strip()
        if passage and passage not in seen:
            seen.add(passage)
            out.append(passage)
    return out[:MAX_PASSAGES]
