"""Is a formula the target? Normalised strings, then Math-Verify, then SymPy (simplification of the
difference, random-point numeric checks), all of the symbolic work in one child process with a
deadline and a memory ceiling, saying which tier decided (``decided_by``) or why none could
(``reason``).

Shared ground: the quality layer's solver (is a solver's final formula the paper's target?) and
the evaluation stage's symbolic grading (is a model's final result the item's target?) both use it.

The tiers, in order:

1. ``string``: the two formulas are the same after ``normalise_math`` (or the answer is the
   target's right-hand side). In this process, no fork.
2. ``math_verify``: Math-Verify (SymPy underneath) reads both; equations side by side (left with
   left, right with right), because it reads ``a = b`` as ``b`` (huggingface/Math-Verify#60). A
   left side written the same way on both (often one no parser reads: ``p(x \\mid \\theta)``)
   leaves the right sides to compare, in this tier and the next.
3. ``sympy``: both formulas parsed again by ``latex2sympy2_extended`` as papers write them (case
   kept, ``\\log`` natural, ``2\\frac{1}{2}`` a product, every free symbol declared real: papers'
   quantities are real, and real symbols let SymPy use ``|x|``, signs and orderings); two
   equations are compared as ``lhs - rhs``, also up to sign (``2x = y`` states ``y = 2x``) and,
   at the points, up to a non-zero factor (``2y = 4x`` states ``y = 2x``); an
   expression against an equation, with its right-hand side. ``simplify(difference) == 0``.
4. ``numeric``: both sides evaluated (mpmath, 30 digits) at 12 random points seeded by the pair
   (a rerun gives the same verdict): 8 with every symbol in [0.1, 3] (the domain of most
   quantities in papers: variances, rates, probabilities), one with every symbol negative, 3 with
   random signs (``\\sqrt{x^2}`` is not ``x``); the bounds of finite sums are integers 1–6. A
   point counts only if both sides are finite reals computed without a complex intermediate
   (``\\sqrt{a}\\sqrt{b}`` differs from ``\\sqrt{ab}`` at ``a, b < 0`` only through ``i^2``: such
   points are skipped, not witnesses). A usable point clearly non-zero (relative 1e-6) → not
   equal; every usable point ≈ 0 (relative 1e-9) → equal; fewer than 4 usable points →
   ``numeric_too_few_points``; neither → ``numeric_inconclusive``. Terms SymPy cannot evaluate
   (undefined functions such as ``\\mathbb{E}[X]``, derivatives of plain symbols, integrals,
   limits, infinite sums) become opaque symbols, one per distinct term: zero at every point still
   shows equality (the terms cancel or agree as written), but a non-zero difference that
   involves them is no witness (one term may equal another by a law not modelled, such as the
   linearity of expectation): ``uninterpreted_terms``.

   The points are computed before ``simplify`` (cheap, and a witness spares ``simplify`` its long
   search for a zero that is not there); an equality is credited to ``sympy`` when ``simplify``
   proves it, to ``numeric`` when only the points show it.

What Math-Verify's verdicts mean here:

- **True is decisive**: nothing further runs. Its normalisation is made for competition answers
  (it lowercases symbols, drops ``\\mathbf`` and primes), so ``X`` and ``x`` are one symbol to it;
  its True is kept as the contract of this tier, but primes are marked before it reads them
  (``f'(x)`` → ``f_{\\prime}(x)``): derivations are full of derivatives, and a derivative must not
  match the function.
- **False is not decisive.** It means "found no equality", not "proved different": it simplifies
  without domain knowledge (``\\log(ab)`` vs ``\\log a + \\log b``), reads ``\\log`` as base 10
  (``\\log x`` vs ``\\ln x``) and may mis-parse. So the SymPy tier runs after it. Its equality
  (``sympy``/``numeric``) overturns the False; a numeric witness confirms it and is credited to
  ``numeric`` (the evidence that decided); when the SymPy tier cannot decide (no parse, too few
  points, opaque terms, its time spent) Math-Verify's False stands as ``math_verify``: its
  structural comparison is then the best evidence there is.

The child's time is shared: Math-Verify until 40% of the deadline, SymPy's parse until 55%, the
numeric checks until 70%, ``simplify`` until 95%; a stage that finishes early leaves its time to
the next, one over its share is interrupted by ``SIGALRM`` in the child and the next stage runs.
Work stuck inside C code (GMP multiplying huge integers) ignores the alarm: the parent kills the
child at the deadline (``verify_timeout``; ``verify_memory_limit`` when it runs out of its
allowance first).

Why a child process: Math-Verify's own timeout uses ``signal.alarm``, which fails outside the main
thread (huggingface/Math-Verify#50, #55), and SymPy can run for minutes or exhaust memory on a
hostile formula (``2^{2^{2^{2^{2^{2}}}}}``). ``tasks.core.limits.run_bounded`` forks (~7 ms here;
call ``import_math_verify`` once in the parent so that the child starts warm) and kills the child
at the deadline: one fork per comparison.

Reasons when undecided: ``no_final_answer``, ``not_comparable`` (a bound: Math-Verify compares
values, not bounds), ``unparseable_formula``, ``numeric_too_few_points``, ``numeric_inconclusive``,
``uninterpreted_terms``, ``verify_timeout``, ``verify_memory_limit``, ``verify_crash``,
``verify_error``.
"""

from __future__ import annotations

import logging
import random
import re
import signal
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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
    """``None``: undecided (nothing comparable, no tier could decide, the check failed or timed out)."""
    decided_by: str
    """``string``, ``math_verify``, ``sympy``, ``numeric`` or ``none`` (``records.DecidedBy``)."""
    reason: str | None = None


# Definition signs written as relations of their own: one top-level "=" for the split.
_DEFINED_AS = re.compile(r"\\(?:coloneqq|coloneq|eqqcolon|triangleq|doteq|stackrel\{[^{}]*\}\{=\}|"
                         r"overset\{[^{}]*\}\{=\})|:=")


def sides(latex: str) -> tuple[str | None, str]:
    """(left side or None, right side) of a formula: split at the ``=`` signs outside braces
    (``\\sum_{i=1}^n`` has none); a chain ``a = b = c`` states ``a = c``; no ``=``: (None, all)."""
    text = _DEFINED_AS.sub("=", latex)
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif char == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
        elif (char == "=" and depth == 0 and (i == 0 or text[i - 1] not in "<>!\\=")
              and (i + 1 == len(text) or text[i + 1] != "=")):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    if len(parts) < 2 or not parts[0].strip() or not parts[-1].strip():
        return None, latex
    return parts[0], parts[-1]


_PRIMES = re.compile(r"(\\[A-Za-z]+|(?<![\\A-Za-z])[A-Za-z])(?:_\{([^{}]*)\}|_([A-Za-z0-9]))?"
                     r"(?:('+)|\^\{?((?:\\prime)+)\}?)")


def _marked_primes(latex: str) -> str:
    """``f'(x)`` → ``f_{\\prime}(x)``, ``x_t'`` → ``x_{t\\prime}``: Math-Verify and latex2sympy drop
    primes, which would make a derivative the function itself."""
    def mark(m: re.Match) -> str:
        count = len(m.group(4)) if m.group(4) else m.group(5).count("\\prime")
        return m.group(1) + "_{" + (m.group(2) or m.group(3) or "") + "\\prime" * count + "}"
    return _PRIMES.sub(mark, latex)


# -- the child: budgets ---------------------------------------------------------------------------

class _OutOfTime(BaseException):
    """A stage's share of the deadline is spent (a BaseException: SymPy's and Math-Verify's
    ``except Exception`` blocks must not swallow it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _OutOfTime


@contextmanager
def _until(deadline: float, alarms: bool) -> Iterator[None]:
    """Interrupt the block at ``deadline`` (``time.monotonic``) with ``_OutOfTime``."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise _OutOfTime
    if alarms:
        signal.setitimer(signal.ITIMER_REAL, left)
    try:
        yield
    finally:
        if alarms:
            signal.setitimer(signal.ITIMER_REAL, 0)


# -- the child: Math-Verify -----------------------------------------------------------------------

def _math_verify(pairs: list[tuple[str, str]]) -> bool | None:
    """True/False when Math-Verify parses both formulas of every pair, None when it cannot."""
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

    for a, b in pairs:
        gold, answer = read(a), read(b)
        if gold is None or answer is None:
            return None
        if not verify(gold, answer, timeout_seconds=None):
            return False
    return True


# -- the child: SymPy -----------------------------------------------------------------------------

_CLEAN = [
    (re.compile(r"\\(?:label|tag)\{[^{}]*\}|\\(?:nonumber|notag)(?![a-zA-Z])"), " "),
    (re.compile(r"\\(?:left|right)\.|\\(?:big|Big|bigg|Bigg)[lrm]?(?![a-zA-Z])"), " "),
    (re.compile(r"\\(?:displaystyle|textstyle|scriptstyle|quad|qquad)(?![a-zA-Z])|\\[,;:! ]|~|\\\\"), " "),
    (re.compile(r"&"), ""),
    (re.compile(r"\\log(?![a-zA-Z_])"), r"\\ln"),                # in papers \log is natural; Math-Verify's is base 10
    (re.compile(r"\\operatorname\*?\{([^{}]*)\}"), r"\\mathrm{\1}"),  # \operatorname{Var}(X): a function, as \mathrm
    (re.compile(r"(\d)\s*(?=\\[dt]?frac)"), r"\1\\cdot "),       # 2\frac{1}{2} is a product, not a mixed number
    (re.compile(r"\\ensuremath(?![a-zA-Z])"), ""),
    (re.compile(r"\\(?:textup|textrm|textsf|textit|mathsf|mathit)(?![a-zA-Z])"), r"\\mathrm"),
    # {\mathbf{y}}_1, {\theta}^2: braces around one command before a sub/superscript
    (re.compile(r"\{(\\[a-zA-Z]+(?:\{[^{}]*\})?)\}(?=\s*[_^])"), r"\1"),
    # \hat \varphi: an accent without braces
    (re.compile(r"\\(hat|bar|tilde|vec|dot|ddot|check|breve|widehat|widetilde|overline)\s+(\\[a-zA-Z]+|[A-Za-z])"),
     r"\\\1{\2}"),
    # p(y \mid \theta), p(y | \theta): a conditional is read as one more argument of the density
    (re.compile(r"\\mid(?![a-zA-Z])"), ","),
    (re.compile(r"(?<=[A-Za-z}]\()([^()|]*?)\|([^()|]*?)(?=\))"), r"\1,\2"),
]


_BRACED_INDEX = re.compile(r"_\{([A-Za-z0-9]|\\[a-zA-Z]+)\}")


def sympy_reading(latex: str):
    """The formula as the SymPy tier reads it (symbols real, case kept, ``\\log`` natural), or None
    when it does not parse to an expression (a set, a relation, a matrix, an error). Unbounded:
    call it on untrusted text inside ``run_bounded``."""
    import sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig, NormalizationConfig, latex2sympy
    from sympy.core.function import AppliedUndef

    text = _marked_primes(latex)
    for pattern, replacement in _CLEAN:
        text = pattern.sub(replacement, text)
    text = _TRAILING.sub("", text).strip()
    if not text:
        return None
    try:
        expr = latex2sympy(text, is_real=True,
                           normalization_config=NormalizationConfig(basic_latex=True, units=False,
                                                                    malformed_operators=True, nits=False,
                                                                    boxed="all", equations=False),
                           conversion_config=ConversionConfig(interpret_as_mixed_fractions=False,
                                                              interpret_contains_as_eq=False,
                                                              lowercase_symbols=False))
    except MemoryError:
        raise
    except Exception:  # the parser's own errors: not a formula it reads
        return None
    if not isinstance(expr, sympy.Expr):
        return None
    # the parser names the symbol of x_{1} x_1, but the function of f_{Y}(t) "f_{Y}": one name for both spellings
    return expr.replace(lambda e: isinstance(e, AppliedUndef) and _BRACED_INDEX.search(e.func.__name__),
                        lambda e: sympy.Function(_BRACED_INDEX.sub(r"_\1", e.func.__name__))(*e.args))


_POINTS, _POSITIVE, _MIN_USABLE = 12, 8, 4
_EQUAL_RTOL, _CLEAR_RTOL = 1e-9, 1e-6


def _opaque(exprs: list, table: dict) -> list:
    """``exprs`` with every term SymPy cannot evaluate replaced by a real symbol, one per distinct
    term across all of them (``table``: term → symbol)."""
    import sympy
    from sympy.core.function import AppliedUndef

    def unevaluable(node) -> bool:
        if isinstance(node, (AppliedUndef, sympy.Derivative, sympy.Integral, sympy.Limit)):
            return True
        if isinstance(node, (sympy.Sum, sympy.Product)):
            return any(bound.has(sympy.oo, -sympy.oo, sympy.zoo) for _, *bounds in node.limits for bound in bounds)
        return False

    for expr in exprs:
        for node in sympy.preorder_traversal(expr):
            if unevaluable(node) and node not in table:
                table[node] = sympy.Dummy(f"opaque{len(table)}", real=True)
    return [expr.xreplace(table) for expr in exprs]


def _real(value: Any):
    """A finite real mpf, or None (complex, infinite, not a number)."""
    import mpmath

    if isinstance(value, (bool, complex, mpmath.mpc)):
        return None
    try:
        value = mpmath.mpmathify(value)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, mpmath.mpf) and mpmath.isfinite(value) else None


@dataclass
class _Points:
    usable: int = 0
    equal: tuple[bool, ...] = ()
    """Per sign: every usable point ≈ 0."""
    clear: tuple[bool, ...] = ()
    """Per sign: some usable point clearly non-zero."""
    witness: tuple[bool, ...] = ()
    """Per sign: the difference involves no opaque term (a non-zero value is a witness)."""


RATIO = "ratio"
"""A "sign" of ``_numeric``: ``expected - r·given`` for one constant ``r`` the points must share
(two equations are the same when one is the other times a non-zero constant: ``2y = 4x`` is
``y = 2x``)."""


def _numeric(expected, given, signs: tuple[int | str, ...], seed: int) -> _Points:
    """``expected - s·given`` for each sign ``s`` (or ``RATIO``) at seeded random points."""
    import mpmath
    import sympy

    mpmath.mp.dps = 30
    table: dict = {}
    e, g = _opaque([expected, given], table)
    opaque = set(table.values())
    symbols = sorted(e.free_symbols | g.free_symbols, key=lambda s: (s.name, isinstance(s, sympy.Dummy)))
    integers = set()  # the bounds of finite sums and products: integers at the points
    for expr in (e, g):
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, (sympy.Sum, sympy.Product)):
                for _, *bounds in node.limits:
                    integers |= set().union(*(b.free_symbols for b in bounds))
    fn = sympy.lambdify(symbols, [e, g], modules="mpmath")
    rng = random.Random(seed)
    points = _POINTS if symbols else 1
    equal, clear = [True] * len(signs), [False] * len(signs)
    usable = 0
    ratio = None
    for k in range(points):
        # the first points positive; then one with every symbol negative, then signs at random
        signed = [1] * len(symbols) if k < _POSITIVE else [-1] * len(symbols) if k == _POSITIVE else \
            [rng.choice((1, -1)) for _ in symbols]
        point = [rng.randint(1, 6) if s in integers else sign * mpmath.mpf(rng.uniform(0.1, 3.0))
                 for s, sign in zip(symbols, signed, strict=True)]
        try:
            a, b = (_real(v) for v in fn(*point))
        except MemoryError:
            raise
        except Exception:  # outside the domain (a division by zero, an integer bound that is not one…)
            continue
        if a is None or b is None:
            continue
        usable += 1
        scale = max(abs(a), abs(b))
        for n, sign in enumerate(signs):
            if sign == RATIO:
                if ratio is None:
                    if abs(a) > mpmath.mpf("1e-12") and abs(b) > mpmath.mpf("1e-12"):
                        ratio = a / b  # the first point fixes the scale; the others must keep it
                    continue
                sign = ratio  # noqa: PLW2901
            off = abs(a - sign * b)
            equal[n] = equal[n] and off <= _EQUAL_RTOL * scale + mpmath.mpf("1e-20")
            clear[n] = clear[n] or off > _CLEAR_RTOL * scale + mpmath.mpf("1e-12")
    if RATIO in signs and ratio is None:  # never fixed (both sides zero everywhere, or no point)
        equal[signs.index(RATIO)] = False
    witness = tuple(not ((e - (1 if sign == RATIO else sign) * g).free_symbols & opaque) for sign in signs)
    return _Points(usable, tuple(equal), tuple(clear), witness)


def _solves_to(left_e, right_e, left_g, right_g, seed: int) -> bool:
    """Does solving the given equation for the expected left side give the expected right side?
    (``b\\sigma^2 = a`` states ``\\sigma^2 = \\frac{a}{b}``: a factor that is not a constant,
    which comparing ``lhs - rhs`` cannot see.) Tried only for a left side that is a symbol or a
    power of one, as results are written; each solution is compared at the random points."""
    import sympy

    if not (isinstance(left_e, sympy.Symbol) or (isinstance(left_e, sympy.Pow) and isinstance(left_e.base, sympy.Symbol))):
        return False
    if not (left_g - right_g).has(left_e if isinstance(left_e, sympy.Symbol) else left_e.base):
        return False
    for solution in sympy.solve(sympy.Eq(left_g, right_g), left_e)[:4]:
        points = _numeric(right_e, solution, (1,), seed)
        if points.usable >= _MIN_USABLE and points.equal[0]:
            return True
    return False


def _sympy_tier(expected: str, given: str, deadlines: tuple[float, float, float],
                alarms: bool) -> tuple[bool | None, str, str | None]:
    """(same, decided_by, reason) from SymPy: parse (until ``deadlines[0]``), the numeric checks
    (until ``deadlines[1]``), ``simplify`` (until ``deadlines[2]``). The numeric checks run
    first: they are cheap, and a witness spares ``simplify`` its long search for a zero that is
    not there; an equality is credited to ``simplify`` when it proves it, to the points otherwise."""
    import sympy

    parse_until, numeric_until, simplify_until = deadlines
    left_e, right_e = sides(expected)
    left_g, right_g = sides(given)
    try:
        with _until(parse_until, alarms):
            if left_e is not None and left_g is not None:  # two equations: lhs - rhs, up to a factor
                parts = [sympy_reading(s) for s in (left_e, right_e, left_g, right_g)]
                if any(s is None for s in parts):
                    return None, "none", "unparseable_formula"
                e, g, signs = parts[0] - parts[1], parts[2] - parts[3], (1, -1, RATIO)
            else:  # an expression: compared with the other's right-hand side
                e, g, signs = sympy_reading(right_e), sympy_reading(right_g), (1,)
                if e is None or g is None:
                    return None, "none", "unparseable_formula"
    except _OutOfTime:
        return None, "none", "verify_timeout"
    points, failed = None, False
    seed = zlib.crc32(f"{expected}\0{given}".encode())
    if len(signs) > 1:  # two equations written differently: is the given one the expected, rearranged?
        try:
            with _until(numeric_until, alarms):
                if _solves_to(parts[0], parts[1], parts[2], parts[3], seed):
                    return True, "sympy", None
        except _OutOfTime:
            pass
        except MemoryError:
            raise
        except Exception:  # solve raised on this formula: compare as below
            pass
    try:
        with _until(numeric_until, alarms):
            points = _numeric(e, g, signs, seed)
    except _OutOfTime:
        pass
    except MemoryError:
        raise
    except Exception:  # SymPy or mpmath raised on this formula (lambdify, a traversal): no points
        failed = True
    if points is not None and points.usable and all(c and w for c, w in zip(points.clear, points.witness,
                                                                             strict=True)):
        return False, "numeric", None
    simplified = False
    try:
        with _until(simplify_until, alarms):
            difference = e - g
            if difference == 0 or sympy.simplify(difference) == 0:
                return True, "sympy", None
        simplified = True
    except _OutOfTime:
        pass
    except MemoryError:
        raise
    except Exception:  # simplify raised: as if it found no zero
        simplified = True
    if points is None:
        return None, "none", "verify_error" if failed else "verify_timeout"
    if points.usable < (_MIN_USABLE if e.free_symbols | g.free_symbols else 1):
        return None, "none", "numeric_too_few_points" if simplified else "verify_timeout"
    if any(points.equal):
        return True, "numeric", None
    if all(points.clear):
        return None, "none", "uninterpreted_terms"
    return None, "none", "numeric_inconclusive"


def _compare_in_child(expected: str, given: str, timeout_s: float) -> tuple[bool | None, str, str | None]:
    """Runs in the child: Math-Verify, then (unless it said True) the SymPy tier."""
    started = time.monotonic()
    try:
        signal.signal(signal.SIGALRM, _on_alarm)
        alarms = True
    except ValueError:  # not the main thread (cannot happen in a forked child; then the parent's deadline only)
        alarms = False
    expected, given = _marked_primes(expected), _marked_primes(given)
    left_e, right_e = sides(expected)
    left_g, right_g = sides(given)
    if left_e is not None and left_g is not None and normalise_math(left_e) == normalise_math(left_g):
        # the same left side as written (often one no parser reads: p(x \mid \theta)): compare the rest
        expected, given = right_e, right_g
        left_e = left_g = None
    pairs = [(right_e, right_g)]
    if left_e is not None and left_g is not None:
        pairs.insert(0, (left_e, left_g))
    try:
        with _until(started + 0.4 * timeout_s, alarms):
            verdict: bool | None | str = _math_verify(pairs)
    except _OutOfTime:
        verdict = "timeout"
    except MemoryError:
        raise
    except Exception:  # Math-Verify raised on this formula: the SymPy tier may still read it
        verdict = "error"
    if verdict is True:
        return True, "math_verify", None
    same, by, reason = _sympy_tier(expected, given, tuple(started + share * timeout_s for share in (0.55, 0.7, 0.95)),
                                   alarms)
    if same is not None:
        return same, by, reason
    if verdict is False:
        return False, "math_verify", None
    if verdict == "timeout":  # given its time, Math-Verify might have decided
        return None, "none", "verify_timeout"
    if verdict == "error" and reason == "unparseable_formula":
        return None, "none", "verify_error"
    return None, "none", reason


def import_math_verify() -> None:
    """Import Math-Verify and the SymPy tier's modules in this process so that every child
    starts with them loaded (call it once before the checks, outside any thread that forks)."""
    import latex2sympy2_extended.latex2sympy2  # noqa: F401
    import math_verify  # noqa: F401
    import mpmath  # noqa: F401
    import sympy  # noqa: F401
    from sympy.utilities import lambdify  # noqa: F401


def same_result(expected: str, given: str | None, timeout_s: float, memory_mb: int = 512) -> Comparison:
    """Does ``given`` (a solver's final formula) state the result ``expected`` (the target)?"""
    if not given or not given.strip():
        return Comparison(None, "none", "no_final_answer")
    expected_n, given_n = normalise_math(expected), normalise_math(given)
    if expected_n == given_n or (sides(expected_n)[1] == given_n and sides(expected_n)[0] is not None):
        return Comparison(True, "string")
    if _RELATION.search(expected):  # inequalities: Math-Verify compares values, not bounds
        return Comparison(None, "none", "not_comparable")
    try:
        outcome = run_bounded(_compare_in_child, expected, given, timeout_s, deadline_s=timeout_s,
                              memory_mb=memory_mb)
    except Exception:  # the checkers raised in the child: a formula they cannot handle
        return Comparison(None, "none", "verify_error")
    if isinstance(outcome, Limited):
        return Comparison(None, "none", f"verify_{outcome.reason}")
    same, decided_by, reason = outcome
    return Comparison(same, decided_by, reason)
