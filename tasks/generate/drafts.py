"""Drafts by construction: the derivation problems a LaTeX paper's structure already answers.

For a LaTeX paper most of what the agents are asked is known exactly: a statement's proof is
its answer, verbatim; the expressions it cites are its preconditions; the "where …" sentences
define its symbols. This step drafts those problems with no LLM.

Input: a ``PaperWork`` (expressions, edges and user macros of one LaTeX paper) and its ``Target``s
(``tasks.generate.agents.extractor``).
Output, per target it can answer exactly, a ``Draft`` with the candidate columns
``query``/``question`` (what to prove or derive, its preconditions labelled ``(A1)…``, the
definitions of its symbols; LaTeX with the paper's own macros (``extractions.macros``) expanded and labels, tags and
references removed or resolved), ``answer`` (the paper's own text, verbatim), ``answer_evidence``,
``answer_source``/``answer_span``/``grounded_score`` (aligned like an LLM's answer, so 100 by
construction) and ``precondition_exprs``. Targets it cannot answer exactly are left to the agents.

Two forms:

- a theorem-like statement with a linked proof → "Prove the following lemma. …", answered by the
  proof;
- a formula derived in running text from cited displays → "Using (A1) …, derive …", answered by
  the passage from the last cited display (or the paragraph's start) to the formula, when that
  passage uses derivation language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tasks.core.records import Expression
from tasks.documents.latex_macros import MacroTable
from tasks.generate.agents.excerpt import Piece, around, body, ground
from tasks.generate.agents.extractor import DERIVATION_CUES, Target, statement_kind
from tasks.generate.portable import display, portable_text
from tasks.generate.renderable import unrenderable

MIN_ANSWER_CHARS = 40
"""A proof or derivation passage shorter than this ("Immediate.") is no problem to pose."""
MAX_PRECONDITIONS = 6
MAX_NOTATION, MAX_NOTATION_CHARS, NOTATION_WINDOW = 6, 400, 1200
_NOTATION = re.compile(r"^\s*(?:let|suppose|assume|consider|fix|given)\b|\bdenotes?\b|\bwe (?:write|use|define)\b",
                       re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\\$])")
_STRUCTURE = re.compile(r"(?:\s|\\(?:end|(?:sub)*section\*?|paragraph\*?|label)\s*\{[^{}]*\}|\\\]|\$\$)*")
"""What closes a display or opens a section between a cited formula and the next sentence."""


@dataclass(frozen=True)
class Draft:
    query: str
    question: str
    answer: str
    answer_portable: str | None
    answer_evidence: str
    answer_source: str
    answer_span: list[int] | None
    grounded_score: float
    precondition_exprs: list[str]
    symbols: str | None


def portable(expr: Expression, names: dict[str, str]) -> str:
    """The expression as a reader outside the paper can compile it: the paper's macros expanded
    (``latex_expanded``), then ``tasks.generate.portable``: labels and tags removed, package
    spellings KaTeX lacks rewritten, references to listed preconditions turned into their names
    (``(A2)``), to other statements into theirs (``Assumption 2``), others into ``(?)``."""
    return portable_text(expr.latex_expanded or expr.latex or expr.text, names)


def _display(expr: Expression, names: dict[str, str]) -> str:
    latex = portable(expr, names)
    if expr.kind == "equation":
        return display(latex)
    return f"{(expr.title or expr.env.rstrip('*').capitalize())}: {latex}"


def _symbols(target: Target, preconditions: list[Expression], names: dict[str, str],
             macros: MacroTable) -> str | None:
    """The definitions of the symbols: the "where …" sentences after the target and its
    preconditions, and the "Let …" / "… denote …" sentences just before them."""
    found: list[str] = []
    texts = [target.definitions, target.expr.definitions, *(p.definitions for p in preconditions)]
    for expr in (target.expr, *preconditions):
        # a sentence whose LaTeX would still not render (a macro of a file the paper lacks) is left out
        texts += [s for s in map(macros.expand, _notation_sentences(expr.context_before))
                  if not unrenderable(portable_text(s, names))]
    for text in texts:
        text = portable_text(text or "", names)
        if text and text not in found and len(found) < MAX_NOTATION:
            found.append(text)
    return "\n".join(found) or None


def _notation_sentences(before: str) -> list[str]:
    """Sentences among the last few before a formula that fix notation ("Let $X$ be …", "We
    denote by $f$ …"), without the one that introduces the formula itself."""
    sentences = _SENTENCE.split(before[-NOTATION_WINDOW:])[:-1]
    return [s.strip() for s in sentences[-4:] if _NOTATION.search(s) and len(s) <= MAX_NOTATION_CHARS
            and s.count("$") % 2 == 0]


def _question(opening: str, goal: str, preconditions: list[Expression], names: dict[str, str],
              symbols: str | None) -> str:
    parts = [opening, goal]
    if preconditions:
        parts.append("You may use:\n" + "\n".join(f"{names[p.label or p.expr_id]} {_display(p, names)}"
                                                   for p in preconditions))
    if symbols:
        parts.append(f"Notation: {symbols}")
    return "\n\n".join(parts)


def _names(preconditions: list[Expression], by_id: dict[str, Expression]) -> dict[str, str]:
    """Each precondition's name in the question, ``(A1)``…, by label (for references) and id;
    other labelled statements by their own name (``Assumption 2``), so a reference the question
    keeps still says what it points at."""
    names = {e.label: f"{e.title.split(' (')[0]} {e.number}" for e in by_id.values()
             if e.label and e.kind == "statement" and e.title and e.number}
    for i, p in enumerate(preconditions, 1):
        names[p.expr_id] = f"(A{i})"
        if p.label:
            names[p.label] = f"(A{i})"
    return names


def draft(target: Target, by_id: dict[str, Expression], macros: MacroTable | None = None) -> Draft | None:
    """The exact draft for ``target``, or None when the paper's structure does not answer it.
    ``macros``: the paper's user macros, to expand the running text shown (formulas come expanded)."""
    macros = macros or MacroTable()
    expr = target.expr
    preconditions = [by_id[p] for p in target.preconditions
                     if p in by_id and p != expr.expr_id and by_id[p].kind != "proof"][:MAX_PRECONDITIONS]
    names = _names(preconditions, by_id)
    symbols = _symbols(target, preconditions, names, macros)
    if expr.kind == "statement":
        proof = by_id.get(expr.proof_expr or "")
        if proof is None or len(body(proof).strip()) < MIN_ANSWER_CHARS:
            return None
        kind = statement_kind(expr)  # "lemma", not the paper's environment name "lem"
        question = _question(f"Prove the following {kind}.", portable(expr, names), preconditions, names, symbols)
        answer = body(proof)
        answer_portable = portable(proof, names)
        pieces = [Piece("P1", f"Proof of {expr.title or kind}", answer, f"expr:{proof.expr_id}")]
        evidence = f"Proof of {expr.title or kind} ({proof.section or 'body'})"
    elif expr.kind == "equation" and preconditions:
        answer = _derivation_passage(expr, preconditions)
        if answer is None:
            return None
        passage = macros.expand(answer[: len(answer) - len(body(expr))])  # its prose and displays
        answer_portable = f"{portable_text(passage, names)}\n{display(portable(expr, names))}"
        question = _question("Using the following, derive", display(portable(expr, names)), preconditions,
                             names, symbols)
        pieces = [Piece("P1", "the text before the formula", around(expr, 10 * len(answer)),
                        f"context:{expr.expr_id}")]
        evidence = f"the text leading to {'(' + expr.number + ')' if expr.number else 'the formula'} " \
                   f"({expr.section or 'body'})"
    else:
        return None
    grounding = ground(answer, pieces, "P1")
    return Draft(query=question, question=question, answer=answer, answer_portable=answer_portable,
                 answer_evidence=evidence,
                 answer_source=grounding.source, answer_span=list(grounding.span) if grounding.span else None,
                 grounded_score=grounding.score, precondition_exprs=[p.expr_id for p in preconditions],
                 symbols=symbols)


def _derivation_passage(expr: Expression, preconditions: list[Expression]) -> str | None:
    """The running text that derives ``expr``: from the end of the last precondition written
    just before it (else from the start of its paragraph) to the formula itself."""
    before = expr.context_before
    start = 0
    for p in preconditions:
        latex = body(p).strip()
        at = before.rfind(latex) if latex else -1
        if at >= 0:
            start = max(start, at + len(latex))
    if start == 0:
        paragraph = before.rfind("\n\n")
        start = paragraph + 2 if paragraph >= 0 else 0
    passage = before[start:]
    passage = passage[_STRUCTURE.match(passage).end():]  # from its first word, past \end{…}, \section{…}
    if len(passage.strip()) < MIN_ANSWER_CHARS // 2 or not DERIVATION_CUES.search(passage):
        return None
    return f"{passage}\n{body(expr)}"
