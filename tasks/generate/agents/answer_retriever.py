"""Agent 3, Answer Retriever: the paper's own derivation of the target, verbatim, with where it is.

Input columns: ``query`` and the target's pieces (its paragraphs, its proof, appendix passages
that name it, the expressions it depends on; see ``excerpt.pieces_for``).
Output columns: ``answer`` (verbatim), ``answer_evidence`` (location). When the pieces hold no
derivation the model says so (``found: false``, the sentinel) and the candidate is dropped as
``no_answer_in_paper``; an answer that does not align with the pieces is dropped as
``ungrounded_answer`` by the caller.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tasks.generate.agents import PROMPTS
from tasks.generate.agents.excerpt import Piece
from tasks.io.llm import Agent, quote_paper

NO_ANSWER = "NO_DERIVATION_FOUND"


class RetrieverReply(BaseModel):
    found: bool = Field(description="False when the passages contain no derivation or proof of the target.")
    answer: str = Field(description=f"The derivation copied verbatim from the passages, or {NO_ANSWER}.")
    evidence: str = Field(default="", description="The passage label (P1, P2, …) the answer was copied from.")


AGENT = Agent("answer_retriever", RetrieverReply, PROMPTS)


def render_pieces(pieces: list[Piece]) -> str:
    # The location holds the paper's own section and theorem titles: quoted like its text.
    return "\n\n".join(f"{p.label} — {quote_paper(p.location, inline=True)}\n{quote_paper(p.text, p.label)}"
                         for p in pieces)


def fields(query: str, pieces: list[Piece]) -> dict:
    return {"query": query, "passages": render_pieces(pieces), "sentinel": NO_ANSWER}


def parse(reply: RetrieverReply, pieces: list[Piece]) -> tuple[str | None, Piece | None, str | None]:
    """(answer, the piece it cites, evidence location), or Nones for the sentinel."""
    answer = reply.answer.strip()
    if not reply.found or not answer or NO_ANSWER in answer:
        return None, None, None
    label = reply.evidence.strip().upper()
    piece = next((p for p in pieces if p.label == label), None)
    return answer, piece, piece.location if piece else (reply.evidence.strip() or None)
