"""The free-form derivation a model under evaluation writes: graded by the judge and the symbolic
check (one answer per item, model and sample serves both).

Input columns: ``question``. Output: the reply's text (``raw_answer`` of the ``judge`` and
``symbolic`` rows); the final result is expected in ``\\boxed{…}``.
"""

from __future__ import annotations

from pathlib import Path

from tasks.io.llm import Agent, PlainText

DERIVATION = Agent("derivation", PlainText, Path(__file__).parent / "prompts")


def fields(question: str) -> dict:
    return {"question": question}
