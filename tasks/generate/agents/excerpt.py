"""The part of a paper one call needs, and the check that an answer really comes from it.

Agents never get the whole paper. For a target they get *pieces*: the target with the paragraphs
around it, its proof (statements), appendix passages that name it (derivations moved to the
appendix), and the expressions it depends on (``expression_edges``). Each piece is paper text with
a location a reader can follow: verbatim where an answer may be taken from it, and with the paper's
macros expanded for the expressions the target depends on (``shown``).

``ground`` aligns a text (an answer, an evidence passage) with the pieces using rapidfuzz's
partial alignment, after collapsing whitespace on both sides (models reflow lines).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from tasks.core.records import Expression

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Piece:
    label: str
    """``P1``, ``P2``… as the model sees it."""
    location: str
    """Human-readable: ``Proof of Lemma 3 (Appendix B > B.1)``."""
    text: str
    source: str
    """``expr:<id>`` when the piece is exactly that expression's source, else ``context:<id>``."""


def where(expr: Expression) -> str:
    name = expr.title or (f"({expr.number})" if expr.number else expr.env)
    place = expr.section or "front matter"
    page = f", p. {expr.page}" if expr.page else ""
    return f"{name} in {place}{page}"


def body(expr: Expression) -> str:
    """The expression as the paper has it: LaTeX source, or the PDF's text."""
    return expr.latex if expr.latex is not None else expr.text


def shown(expr: Expression) -> str:
    """The expression as a model should read it where it is context, not the answer: the paper's
    own macros expanded (``\\vt`` → ``\\mathbf{t}``), so the formula means something outside the
    paper and a question written from it is portable."""
    return expr.latex_expanded or body(expr)


_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z\\])|\n\s*\n")
_DOLLAR = re.compile(r"(?<!\\)\$")


def _balanced(text: str) -> bool:
    """No inline formula left open: an even number of unescaped ``$``."""
    return len(_DOLLAR.findall(text)) % 2 == 0


def around(expr: Expression, chars: int) -> str:
    """The expression with the paragraphs before and after it, trimmed to about ``chars`` at
    sentence or paragraph boundaries outside inline math (never from the middle of a ``$…$``)."""
    side = max(200, (chars - len(body(expr))) // 2)
    before, after = expr.context_before, expr.context_after
    if len(before) > side:
        cut = len(before) - side
        starts = [m.end() for m in _BOUNDARY.finditer(before, cut)]
        before = next((before[i:] for i in starts if _balanced(before[i:])), before[-side:])
    if len(after) > side:
        ends = [m.start() for m in _BOUNDARY.finditer(after, 0, side)][::-1]
        after = next((after[:i] for i in ends if _balanced(after[:i])), after[:side])
    return f"{before}\n{body(expr)}\n{after}".strip()


def pieces_for(target: Expression, by_id: dict[str, Expression], preconditions: list[str],
               appendix: list[Expression], limit_chars: int) -> list[Piece]:
    """Pieces for one target, most important first, cut at ``limit_chars`` in all."""
    chosen: list[tuple[str, str, str]] = [
        (f"{where(target)} with its surrounding text", around(target, limit_chars // 3), f"context:{target.expr_id}")]
    if target.proof_expr and target.proof_expr in by_id:
        proof = by_id[target.proof_expr]
        chosen.append((f"Proof of {target.title or 'the statement'} ({proof.section or 'body'})", body(proof),
                       f"expr:{proof.expr_id}"))
    for expr in appendix:
        chosen.append((f"{where(expr)} (appendix, refers to the target)", around(expr, limit_chars // 4),
                       f"context:{expr.expr_id}"))
    for expr_id in preconditions:
        if expr_id in by_id and expr_id != target.expr_id:
            pre = by_id[expr_id]
            text = shown(pre) + (f"\n{pre.definitions}" if pre.definitions else "")
            # "expr:" only while the piece is the expression's own source text (spans index it)
            exact = shown(pre) == body(pre) and not pre.definitions
            chosen.append((where(pre), text, f"{'expr' if exact else 'context'}:{pre.expr_id}"))
    pieces, used = [], 0
    for location, text, source in chosen:
        text = text[: max(0, limit_chars - used)]
        if not text.strip():
            break
        used += len(text)
        pieces.append(Piece(f"P{len(pieces) + 1}", location, text, source))
    return pieces


def appendix_mentions(target: Expression, candidates: list[Expression], limit: int = 3) -> list[Expression]:
    """Appendix expressions whose surrounding text names the target (its label or number)."""
    if target.in_appendix:
        return []
    marks = [m for m in (target.label and f"{{{target.label}}}",
                         target.number and f"({target.number})",
                         target.title) if m]
    if not marks:
        return []
    found = [e for e in candidates if e.in_appendix and e.expr_id != target.expr_id
             and any(m in e.context_before or m in (e.latex or "") for m in marks)]
    return found[:limit]


_WHITESPACE = re.compile(r"\s+")


class _Collapsed:
    """``text`` with whitespace runs collapsed to single spaces; ``source(i)`` is where character
    ``i`` of the result stands in ``text`` (by bisection over the runs, not a list per character)."""

    def __init__(self, text: str):
        self.text = _WHITESPACE.sub(" ", text)
        self._outs: list[int] = [0]  # where each stretch between runs starts, in the result
        self._shifts: list[int] = [0]  # and how far that stretch moved left
        removed = 0
        for run in _WHITESPACE.finditer(text):
            removed += run.end() - run.start() - 1
            self._outs.append(run.end() - removed)
            self._shifts.append(removed)

    def source(self, i: int) -> int:
        return i + self._shifts[bisect.bisect_right(self._outs, i) - 1]


@dataclass(frozen=True)
class Grounding:
    score: float
    """0–100: rapidfuzz partial-ratio alignment of the text with its best piece."""
    source: str | None = None
    span: tuple[int, int] | None = None
    """Character span in the piece's text (``expr:`` pieces: in that expression's source)."""


def _verbatim(needle: str, text: str) -> tuple[int, int] | None:
    """The span of ``needle`` (whitespace collapsed) in ``text``, in ``text``'s own offsets."""
    start = _WHITESPACE.sub(" ", text).find(needle)  # the offsets only when it is there
    if start < 0:
        return None
    collapsed = _Collapsed(text)
    return collapsed.source(start), collapsed.source(start + len(needle) - 1) + 1


def ground(text: str, pieces: list[Piece], cited: str | None = None) -> Grounding:
    """Where ``text`` is in the pieces and how well it matches (100: verbatim up to whitespace).

    ``cited`` is the piece label the model says it copied from; when the text is there verbatim
    that piece is the evidence (the same words may also stand in a neighbouring paragraph).
    """
    needle = _WHITESPACE.sub(" ", text.strip())
    if not needle or not pieces:
        return Grounding(0.0)
    for piece in sorted(pieces, key=lambda p: p.label != cited):  # the cited piece first
        span = _verbatim(needle, piece.text)  # the common case, and much faster than alignment
        if span is not None:
            return Grounding(100.0, piece.source, span)
    starts, offset = [], 0
    for piece in pieces:
        starts.append(offset)
        offset += len(piece.text) + 1
    collapsed = _Collapsed("\n".join(p.text for p in pieces))
    hay = collapsed.text
    alignment = fuzz.partial_ratio_alignment(needle, hay)
    if alignment is None:
        return Grounding(0.0)
    if len(needle) > len(hay):  # partial_ratio would align the pieces inside the answer
        return Grounding(round(alignment.score * len(hay) / len(needle), 2))
    start, end = alignment.dest_start, alignment.dest_end
    if end <= start:
        return Grounding(round(alignment.score, 2))
    first, last = collapsed.source(start), collapsed.source(end - 1) + 1
    n = max(i for i, s in enumerate(starts) if s <= first)
    return Grounding(round(alignment.score, 2), pieces[n].source,
                     (first - starts[n], min(last - starts[n], len(pieces[n].text))))
