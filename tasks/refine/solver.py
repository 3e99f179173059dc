"""Stage 3, Solver: a chain-of-thought solution of the final question, written without the
paper's answer, and whether its final result is the paper's target.

Input columns: the final question (``revised_question`` or ``question``), ``target_latex``.
Output: ``solutions`` rows (one per sample: ``solution``, ``final_answer``, ``outcome``
``solved | not_solved | undecided``, ``decided_by`` ``string | math_verify | sympy | numeric |
none`` (``tasks.core.equivalence``) and a ``reason`` when undecided: ``no_final_answer``,
``unparseable_formula``, ``verify_timeout``…).
``refine.solve_samples`` samples give a solve rate (solved / decided samples): a cheap
difficulty estimate.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tasks.core.equivalence import Comparison, math_segments
from tasks.core.records import Solution
from tasks.io.llm import Agent
from tasks.refine import PROMPTS


class SolverReply(BaseModel):
    solution: str = Field(description="The reasoning, step by step.")
    final_answer: str = Field(description="The final result as one LaTeX formula; empty if none.")


AGENT = Agent("solver", SolverReply, PROMPTS)


def fields(question: str, sample: int) -> dict:
    # The sample number makes each sample a distinct request (and cache entry); the model sees
    # it as a label only.
    return {"question": question, "sample": sample}


def final_formula(reply: SolverReply) -> str | None:
    """The reply's final formula: its ``final_answer`` without ``$`` and ``\\boxed{}``; when the
    model wrote prose there (or nothing), the last formula of its prose or of its solution;
    None when there is no formula at all (a solver that answers in prose)."""
    text = reply.final_answer.strip()
    inner = math_segments(text)
    if inner:
        text = inner[-1].strip()
    elif _prose(text):
        text = ""
    if text.startswith("\\boxed{") and text.endswith("}"):
        text = text[len("\\boxed{"):-1].strip()
    if text:
        return text
    last = math_segments(reply.solution)
    return last[-1].strip() if last else None


def _prose(text: str) -> bool:
    """Words rather than a formula: no LaTeX, operator or digit, and not a lone symbol (``x``)."""
    if any(c in text for c in "\\=^_+-*/()<>[]{}|") or any(c.isdigit() for c in text):
        return False
    return len(text.strip().rstrip(".")) > 3


def solution_row(candidate_id: str, sample: int, reply: SolverReply, final: str | None,
                 comparison: Comparison, model: str, run_id: str) -> Solution:
    outcome = "undecided" if comparison.same is None else "solved" if comparison.same else "not_solved"
    return Solution(candidate_id=candidate_id, sample=sample, solution=reply.solution.strip(),
                    final_answer=final, outcome=outcome, decided_by=comparison.decided_by,
                    reason=comparison.reason, model=model, run_id=run_id)


def solve_rate(rows: list[Solution]) -> float | None:
    decided = [r for r in rows if r.outcome != "undecided"]
    return round(sum(r.outcome == "solved" for r in decided) / len(decided), 3) if decided else None
