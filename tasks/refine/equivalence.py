"""Is a formula the paper's target? Math-Verify (on SymPy) in a child process with a deadline,
falling back to normalised strings, and saying which path decided.

Why a child process: Math-Verify's own timeout uses ``signal.alarm``, which fails outside the
main thread (huggingface/Math-Verify#50, #55), and SymPy can run for minutes or exhaust memory
on a hostile formula. ``tasks.core.limits.run_bounded`` forks (~7 ms here; Math-Verify is
imported once in the parent, so the child starts warm) and kills the child at the deadline.

Why right-hand sides: Math-Verify reads ``a = b`` as ``b`` (huggingface/Math-Verify#60), so an
equation is compared side by side: ``L = x^2`` and ``L = x \\cdot x`` match when their left and
right sides match; a bare expression is compared with the target's right-hand side, since a
solver asked to derive ``L(\\theta) = …`` often answers with the right-hand side alone.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from tasks.core.limits import Limited, run_bounded

_SPACING = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])|\\[,;:!]|\\(?:displaystyle|textstyle|quad|qquad)"
                      r"(?![a-zA-Z])|~|\\ ")
_TRAILING = re.compile(r"[\s.,;:]+$")
_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$(.+?)\$|"
                   r"\\begin\{(equation|align|gather|multline)(\*?)\}(.+?)\\end\{\5\6\}", re.S)
_RELATION = re.compile(r"\\(?:le|ge|leq|geq|lt|gt|approx|propto|sim|simeq|lesssim|gtrsim|ll|gg)(?![a-zA-Z])|[<>]")


def normalise_math(latex: str) -> str:
    """LaTeX with the differences that do not change the mathematics removed: spacing commands,
    sizing (``\\left``, ``\\big``), ``\\displaystyle``, labels, whitespace, trailing punctuation."""
    text = re.sub(r"\\(?:label|tag|nonumber|notag)(?:\{[^{}]*\})?", "", latex)
    text = _SPACING.sub("", text)
    text = re.sub(r"\s+", "", text)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("&", "")
    return _TRAILING.sub("", text)


def math_segments(text: str) -> list[str]:
    """The formulas of a question: inline and display math, in order."""
    return [next(g for g in (m.group(1), m.group(2), m.group(3), m.group(4), m.group(7)) if g is not None)
            for m in _MATH.finditer(text or "")]


@dataclass(frozen=True)
class Comparison:
    same: bool | None
    """``None``: undecided (nothing comparable, the checker failed or timed out)."""
    decided_by: str
    """``math_verify``, ``string`` or ``none``."""
    reason: str | None = None


def _sides(latex: str) -> tuple[str | None, str]:
    """(left side or None, right side) of a formula with one top-level ``=``."""
    parts = re.split(r"(?<![<>!\\])=(?!=)", latex)
    return (None, latex) if len(parts) != 2 else (parts[0], parts[1])


def _verify_in_child(expected: str, given: str) -> bool | None:
    """Runs in the child: True/False when Math-Verify parses both sides, None when it cannot."""
    from math_verify import LatexExtractionConfig, parse, verify

    # Math-Verify warns on every call that its own (signal-based) timeouts are off: the parent's
    # deadline is the timeout here.
    logging.getLogger("math_verify").setLevel(logging.ERROR)

    config = [LatexExtractionConfig(boxed_match_priority=0)]

    def read(latex: str):
        # parse() falls back to the raw string when it finds no formula: that is not a reading
        parsed = [p for p in parse(f"${latex}$", extraction_config=config, parsing_timeout=None)
                  if not isinstance(p, str)]
        return parsed or None

    left_e, right_e = _sides(expected)
    left_g, right_g = _sides(given)
    pairs = [(right_e, right_g)]
    if left_e is not None and left_g is not None:
        pairs.insert(0, (left_e, left_g))
    for a, b in pairs:
        gold, answer = read(a), read(b)
        if gold is None or answer is None:
            return None
        if not verify(gold, answer, timeout_seconds=None):
            return False
    return True


def import_math_verify() -> None:
    """Import Math-Verify in this process so that every child starts with it loaded."""
    import math_verify  # noqa: F401


def same_result(expected: str, given: str | None, timeout_s: float, memory_mb: int = 512) -> Comparison:
    """Does ``given`` (a solver's final formula) state the result ``expected`` (the target)?"""
    if not given or not given.strip():
        return Comparison(None, "none", "no_final_answer")
    expected_n, given_n = normalise_math(expected), normalise_math(given)
    if expected_n == given_n or (_sides(expected_n)[1] == given_n and _sides(expected_n)[0] is not None):
        return Comparison(True, "string")
    if _RELATION.search(expected):  # inequalities: Math-Verify compares values, not bounds
        return Comparison(None, "none", "not_comparable")
    try:
        outcome = run_bounded(_verify_in_child, expected, given, deadline_s=timeout_s, memory_mb=memory_mb)
    except Exception:  # Math-Verify raised in the child: a formula it cannot handle
        return Comparison(None, "none", "verify_error")
    if isinstance(outcome, Limited):
        return Comparison(None, "none", f"verify_{outcome.reason}")
    if outcome is None:
        return Comparison(None, "none", "unparseable_formula")
    return Comparison(outcome, "math_verify")
