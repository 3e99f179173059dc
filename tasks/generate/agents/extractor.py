"""Agent 1, Math Expression Extractor: which expressions of a paper are derivable targets.

Input columns: ``expressions`` (expr_id, kind, env, number, label, title, latex, text,
context_before, definitions, in_appendix, parent_expr, proof_expr) and ``expression_edges``
(from_expr, to_expr) of one paper.
Output: ``Target`` rows (target_expr, target_kind, definitions, precondition hints), at most
``generate.targets_per_paper`` per paper.

From the LaTeX layer no LLM is needed: a target is a theorem-like statement with a proof, or a
numbered or labelled formula that is derived in the paper (it cites other expressions, sits in a
proof, or is announced by derivation language). A paper read from its PDF has displays without
structure; the LLM chooses among them and gives each chosen one's symbol definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from tasks.core.records import Expression, ExpressionEdge
from tasks.documents.language import DERIVATION_CUES
from tasks.generate.agents import PROMPTS
from tasks.io.llm import Agent

PROVABLE = frozenset({"theorem", "lemma", "proposition", "corollary", "claim", "fact"})
ABBREVIATIONS = {"thm": "theorem", "theo": "theorem", "lem": "lemma", "lemm": "lemma", "prop": "proposition",
                 "cor": "corollary", "coro": "corollary", "corr": "corollary", "clm": "claim"}
"""Environment names papers give their theorem-likes (``\\newtheorem{lem}{Lemma}``)."""
CONTEXT_TAIL = 400
"""Characters before a formula in which a derivation cue must appear."""


@dataclass
class Target:
    expr: Expression
    definitions: str | None = None
    preconditions: list[str] = field(default_factory=list)
    """Expressions the target cites (``expression_edges``): hints for the Query Draft."""


class ChosenDisplay(BaseModel):
    index: int = Field(description="The number in brackets before the display, e.g. 3 for [3].")
    derivable: bool = Field(description="True when the paper derives or proves this display from earlier ones.")
    definitions: str = Field(default="", description="Verbatim sentence(s) defining its symbols, or empty.")


class ExtractorReply(BaseModel):
    displays: list[ChosenDisplay]


AGENT = Agent("extractor", ExtractorReply, PROMPTS)
PDF_DISPLAYS_PER_CALL = 40


def statement_kind(expr: Expression) -> str:
    """``lemma``, ``theorem``…: the statement's display name without its title (``Lemma
    (Hoeffding)``), else its environment, abbreviations spelled out (``lem`` → ``lemma``)."""
    name = (expr.title or "").split(" (")[0].strip().lower() or expr.env.rstrip("*").lower()
    return ABBREVIATIONS.get(name, name)


def provable(expr: Expression) -> bool:
    """A theorem-like statement one proves (not a definition or an assumption), by its display
    name or, when that does not say, its environment (``lem``, ``thm*``)."""
    env = expr.env.rstrip("*").lower()
    return statement_kind(expr) in PROVABLE or ABBREVIATIONS.get(env, env) in PROVABLE


def _is_derived(expr: Expression, cites: set[str], in_proof: set[str]) -> bool:
    return (expr.expr_id in cites or expr.expr_id in in_proof
            or bool(DERIVATION_CUES.search(expr.context_before[-CONTEXT_TAIL:])))


def latex_targets(expressions: list[Expression], edges: list[ExpressionEdge], limit: int) -> list[Target]:
    """Targets from the LaTeX layer, most promising first: proved statements, then cited-on formulas."""
    depends: dict[str, list[str]] = {}
    for edge in edges:
        depends.setdefault(edge.from_expr, []).append(edge.to_expr)
    kinds = {e.expr_id: e.kind for e in expressions}
    in_proof = {e.expr_id for e in expressions if e.parent_expr and kinds.get(e.parent_expr) == "proof"}
    statements = [e for e in expressions if e.kind == "statement" and e.proof_expr and provable(e)]
    formulas = [e for e in expressions if e.kind == "equation" and (e.number or e.label)
                and _is_derived(e, set(depends), in_proof)]
    formulas.sort(key=lambda e: -len(depends.get(e.expr_id, [])))  # stable: paper order among equals
    chosen = (statements + formulas)[:limit]
    return [Target(e, e.definitions, sorted(set(depends.get(e.expr_id, [])))) for e in chosen]


def pdf_messages_fields(displays: list[Expression]) -> dict:
    listing = "\n\n".join(
        f"[{i}] {('(' + e.number + ') ') if e.number else ''}{e.text}\n"
        f"Text before it: {e.context_before[-300:]}\nText after it: {e.context_after[:300]}"
        for i, e in enumerate(displays))
    return {"listing": listing}


def parse_pdf_reply(reply: ExtractorReply, displays: list[Expression]) -> list[Target]:
    """Chosen, derivable displays in paper order; indices the model invented are ignored."""
    chosen = {}
    for item in reply.displays:
        if item.derivable and 0 <= item.index < len(displays):
            chosen[item.index] = item.definitions.strip() or displays[item.index].definitions
    return [Target(displays[i], chosen[i]) for i in sorted(chosen)]
