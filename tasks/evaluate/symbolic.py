"""The symbolic check: the final result of a model's derivation against the item's target, by the
tiers of ``tasks.core.equivalence`` (normalised strings, Math-Verify, SymPy's simplification of
the difference, random-point numeric checks), each comparison in a forked child with a deadline
and a memory ceiling. No LLM: cheap, repeatable, and the reference the judge is calibrated on.

Input columns: the item's target (``target``, LaTeX; else the final result of its reference
``answer``) and the model's derivation (the reply's text, ``raw_answer``).
Output columns (``evaluations`` rows of format ``symbolic``): ``parsed_answer`` (the final result
read from the derivation), ``grade`` ``correct | incorrect | undecided | unparsed``, ``tier``
``string | math_verify | sympy | numeric | none`` (which tier decided) and ``reason``:
``no_final_result`` (unparsed: the derivation states no final formula), or why no tier could
decide (``unparseable_formula``, ``not_comparable``, ``numeric_too_few_points``,
``uninterpreted_terms``, ``verify_timeout``, ``verify_memory_limit``…). A pathological formula
costs at most the deadline and is recorded with its reason; the run goes on.

The final result, in order of trust: the last ``\\boxed{…}`` (braces balanced; the derivation
prompt asks for it); else the formula after the last "final result" / "final answer" (delimited or
not), else after the last "Therefore" / "Hence"; else the last display formula stating a relation
(of a multi-line display, its last row, with the first row's left side when the row continues a
chain: ``&= …``); else none.

Call ``tasks.core.equivalence.import_math_verify()`` once in the parent before grading (``grade``
calls it too; the first call imports, later ones cost nothing): every check forks from this
process, and a child should start with Math-Verify and SymPy loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tasks.core.equivalence import import_math_verify, math_segments, same_result
from tasks.core.records import Grade, GradeTier

TAIL_CHARS = 100_000
"""Only the end of a derivation is searched (its final result is there; a runaway reply does not
cost a quadratic scan)."""

_BOXED = re.compile(r"\\boxed\s*\{")
_DISPLAY = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|"
                      r"\\begin\{(equation|align|alignat|gather|multline|eqnarray|flalign)(\*?)\}(?:\{\d+\})?"
                      r"(.+?)\\end\{\3\4\}", re.S)
_RELATION = re.compile(r"=|<|>|\\(?:le|ge|leq|geq|lt|gt|ne|neq|approx|propto|sim|simeq|equiv|lesssim|gtrsim|"
                       r"ll|gg|coloneqq|triangleq)(?![a-zA-Z])")
_LEADING_RELATION = re.compile(r"\s*(?:=|<|>|\\(?:le|ge|leq|geq|approx|propto|simeq|equiv)(?![a-zA-Z]))")
_FINAL_CUE = re.compile(r"\bfinal\s+(?:result|answer)\b", re.I)
_CONCLUSION_CUE = re.compile(r"\b(?:therefore|hence)\b", re.I)
_PARAGRAPH_END = re.compile(r"\n\s*\n")
_NOT_MATH = re.compile(r"\\(?:label|tag)\{[^{}]*\}|\\(?:nonumber|notag)(?![a-zA-Z])")


@dataclass(frozen=True)
class SymbolicGrade:
    grade: Grade
    """``correct``, ``incorrect``, ``undecided`` (no tier could decide) or ``unparsed`` (no final
    result in the derivation)."""
    tier: GradeTier
    """``string``, ``math_verify``, ``sympy``, ``numeric`` or ``none``."""
    parsed: str | None
    """The final result read from the derivation (None when there is none)."""
    reason: str | None = None


def _closing_brace(text: str, opening: int) -> int | None:
    """The index of the ``}`` that closes the ``{`` at ``opening`` (escaped braces skipped)."""
    depth = 0
    i = opening
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _clean(formula: str) -> str:
    text = _NOT_MATH.sub(" ", formula).replace("$", " ")
    return re.sub(r"\s+", " ", text).strip().rstrip(".,;:").strip()


def _last_boxed(text: str) -> str | None:
    found = None
    for m in _BOXED.finditer(text):
        end = _closing_brace(text, m.end() - 1)
        if end is not None and _clean(text[m.end():end]):
            found = _clean(text[m.end():end])
    return found


def _display_body(m: re.Match) -> str:
    return next(g for g in (m.group(1), m.group(2), m.group(5)) if g is not None)


def _last_row(body: str) -> str:
    """A display's result: its last non-empty row; a row that continues a chain (``&= …``) with
    the first row's left side."""
    rows = [r for r in (_clean(row.replace("&", " ")) for row in re.split(r"\\\\(?:\[[^\]]*\])?", body)) if r]
    if not rows:
        return ""
    last = rows[-1]
    if len(rows) > 1 and _LEADING_RELATION.match(last):
        first = rows[0]
        relation = _RELATION.search(first)
        if relation and relation.start() > 0:
            last = first[:relation.start()].rstrip() + " " + last
    return last


def _after_cue(text: str, cue: re.Pattern, bare: bool) -> str | None:
    """The formula after the last ``cue`` that has one in its paragraph: its first display, else
    its first inline formula stating a relation, else its first inline formula; with ``bare``, an
    undelimited formula on the cue's line (``Final answer: y = 2x``)."""
    for m in reversed(list(cue.finditer(text))):
        end = _PARAGRAPH_END.search(text, m.end())
        paragraph = text[m.end():end.start() if end else len(text)]
        displays = [row for row in (_last_row(_display_body(d)) for d in _DISPLAY.finditer(paragraph)) if row]
        if displays:  # "Therefore, with $a = 1$: \[ y = 2x \]": the display is the result
            return displays[0]
        inline = [s for s in (_clean(s) for s in math_segments(paragraph)) if s]
        if inline:
            return next((s for s in inline if _RELATION.search(s)), inline[0])
        if bare:
            line = paragraph.split("\n", 1)[0]
            line = re.sub(r"^\s*(?:is|was|reads|:)?\s*:?\s*", "", line)
            candidate = _clean(line)
            if candidate and (re.search(r"[=\\^_+\-*/<>0-9]", candidate) or re.fullmatch(r"[A-Za-z]", candidate)):
                return candidate
    return None


def _last_display_relation(text: str) -> str | None:
    for d in reversed(list(_DISPLAY.finditer(text))):
        body = _display_body(d)
        if _RELATION.search(body):
            row = _last_row(body)
            if row:
                return row
    return None


def final_result(derivation: str) -> str | None:
    """The derivation's final result as LaTeX (see the module docstring for the order), or None."""
    text = (derivation or "")[-TAIL_CHARS:]
    if not text.strip():
        return None
    return (_last_boxed(text) or _after_cue(text, _FINAL_CUE, bare=True)
            or _after_cue(text, _CONCLUSION_CUE, bare=False) or _last_display_relation(text))


def grade(target: str, derivation: str, timeout_s: float, memory_mb: int) -> SymbolicGrade:
    """Grade ``derivation``'s final result against ``target``: one forked comparison within
    ``timeout_s`` seconds and ``memory_mb`` MB above the parent's size."""
    parsed = final_result(derivation)
    if parsed is None:
        return SymbolicGrade("unparsed", "none", None, "no_final_result")
    if not (target or "").strip():
        return SymbolicGrade("undecided", "none", parsed, "no_target")
    import_math_verify()
    comparison = same_result(target, parsed, timeout_s, memory_mb)
    if comparison.same is None:
        return SymbolicGrade("undecided", "none", parsed, comparison.reason)
    return SymbolicGrade("correct" if comparison.same else "incorrect", comparison.decided_by, parsed)
