"""Agent 2, Query Draft: for each target B, the preconditions A it is derived from, the setting,
the symbols, and a draft question "Based on A, derive B" / "Prove Lemma …".

Input columns (per target): ``target_expr``, its LaTeX and surrounding text, ``definitions``,
and the expressions it cites (``expression_edges``) with their LaTeX.
Output columns: ``precondition_exprs``, ``setting``, ``symbols``, ``query``.

Several targets of one paper go in one call (``generate.draft_batch``, STORM-BORN uses 20): the
instructions and the shared expressions are sent once for all of them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tasks.core.records import Expression
from tasks.generate.agents import PROMPTS
from tasks.generate.agents.excerpt import around, shown, where
from tasks.generate.agents.extractor import Target
from tasks.io.llm import Agent


class Draft(BaseModel):
    target: str = Field(description="The target's id, e.g. T2.")
    preconditions: list[str] = Field(default_factory=list,
                                     description="Ids (E…) of the listed expressions the target is derived from.")
    setting: str = Field(description="The problem setting and assumptions, in a few sentences.")
    symbols: str = Field(description="What each symbol in the target and preconditions means.")
    query: str = Field(description='The draft question: "Based on …, derive …" or "Prove that …".')


class DraftReply(BaseModel):
    drafts: list[Draft]


AGENT = Agent("query_draft", DraftReply, PROMPTS)


def fields(targets: list[Target], by_id: dict[str, Expression], chars_per_target: int) -> tuple[dict, list[str]]:
    """Prompt fields with the targets as T1…Tn and the expressions they cite as E1…Em (listed once);
    and the cited expr_ids in E order, for ``parse``."""
    cited: list[str] = []
    for target in targets:
        cited += [p for p in target.preconditions if p in by_id and p not in cited]
    target_blocks = "\n\n".join(
        f"T{i + 1}: {where(t.expr)}\n{around(t.expr, chars_per_target)}"
        + (f"\nThe formula with the paper's macros expanded: {shown(t.expr)}" if shown(t.expr) != (t.expr.latex or
                                                                                                 shown(t.expr)) else "")
        + (f"\nDefinitions: {t.definitions}" if t.definitions else "")
        + (f"\nCites: {', '.join(f'E{cited.index(p) + 1}' for p in t.preconditions if p in cited)}"
           if t.preconditions else "")
        for i, t in enumerate(targets))
    cited_blocks = "\n\n".join(f"E{i + 1}: {where(by_id[p])}\n{shown(by_id[p])}" for i, p in enumerate(cited))
    return {"targets": target_blocks, "cited": cited_blocks or "(none)", "count": len(targets)}, cited


def parse(reply: DraftReply, targets: list[Target], cited: list[str]) -> dict[str, Draft]:
    """expr_id → draft; preconditions mapped from E… ids back to expr_ids (unknown ids dropped)."""
    out = {}
    for draft in reply.drafts:
        label = draft.target.strip().upper().lstrip("T")
        if not label.isdigit() or not 1 <= int(label) <= len(targets) or not draft.query.strip():
            continue
        pre = []
        for ref in draft.preconditions:
            ref = ref.strip().upper().lstrip("E")
            if ref.isdigit() and 1 <= int(ref) <= len(cited):
                pre.append(cited[int(ref) - 1])
        out[targets[int(label) - 1].expr.expr_id] = draft.model_copy(update={"preconditions": pre})
    return out
