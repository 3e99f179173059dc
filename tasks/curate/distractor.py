"""Distractor writer (export, multiple-choice variant): wrong derivations that look right.

Input columns: ``question``, ``whole_label`` (the paper's derivation).
Output columns: ``choices`` (the answer and the distractors, shuffled), ``answer_index``.

A good distractor is nearly the answer's text with one wrong step, so text similarity cannot
tell a distractor from a copy. A distractor is kept only if its mathematics differs: the math
it contains (``$…$``, ``\\[…\\]``, display environments), with spacing and ``\\left``/``\\right``
removed, must differ from the answer's and from every kept distractor's. A problem without
enough such distractors gets no multiple-choice item and a ``rejects`` reason.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field

from tasks.io.llm import Agent


class WrongDerivation(BaseModel):
    derivation: str = Field(description="A complete derivation in the answer's style, with one subtle error.")
    error: str = Field(description="The error, in one sentence (kept for auditing, not shown).")


class DistractorReply(BaseModel):
    distractors: list[WrongDerivation]


AGENT = Agent("distractor", DistractorReply, Path(__file__).parent / "prompts")

_MATH = re.compile(r"\$\$.+?\$\$|\\\[.+?\\\]|\\begin\{(\w+\*?)\}.+?\\end\{\1\}|\$[^$]+\$", re.S)
_NOISE = re.compile(r"\s+|\\[,;:!]|\\q?quad\b|\\left\b|\\right\b|\\displaystyle\b")


def fields(question: str, answer: str, count: int) -> dict:
    return {"question": question, "answer": answer, "count": count}


def math_of(text: str) -> str:
    """The mathematics of a derivation, normalised; the whole text when it has no math."""
    parts = [m.group(0) for m in _MATH.finditer(text)] or [text]
    return _NOISE.sub("", "".join(parts)).lower()


def parse(reply: DistractorReply, answer: str, count: int) -> tuple[list[str], str | None]:
    """The first ``count`` distractors whose math differs, and a reason when there are too few."""
    kept: list[str] = []
    seen = {math_of(answer)}
    same = 0
    for wrong in reply.distractors:
        text = wrong.derivation.strip()
        if not text:
            continue
        key = math_of(text)
        if key in seen:
            same += 1
            continue
        seen.add(key)
        kept.append(text)
        if len(kept) == count:
            return kept, None
    return kept, "distractor_same_math" if same else "too_few_distractors"
