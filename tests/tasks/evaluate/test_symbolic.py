"""The symbolic check of a derivation: its final result read from the text, then graded against the
target by the tiers of ``tasks.core.equivalence``, each grade saying which tier decided or why none
could."""

import time

import pytest

from tasks.core.equivalence import import_math_verify
from tasks.core.records import Grade, GradeTier, allowed
from tasks.evaluate.symbolic import SymbolicGrade, final_result, grade


@pytest.fixture(scope="module", autouse=True)
def warm():
    import_math_verify()


@pytest.mark.parametrize(("derivation", "result"), [
    # the last \boxed{…}, braces balanced
    (r"First \boxed{y = 3x}, corrected: \boxed{y = \frac{2}{x^{2}}}.", r"y = \frac{2}{x^{2}}"),
    (r"$\boxed{\frac{\partial L}{\partial w} = X^\top (Xw - y)}$", r"\frac{\partial L}{\partial w} = X^\top (Xw - y)"),
    (r"\boxed { \mathbb{E}[X] = \mu }", r"\mathbb{E}[X] = \mu"),
    # an unbalanced box is no result: the cue is read instead
    (r"Final answer: $y = 2x$. Oops \boxed{y = {2x", "y = 2x"),
    # after "final result" / "final answer", delimited or not
    (r"... so the final result is $L = \frac{1}{2}\|w\|^2$.", r"L = \frac{1}{2}\|w\|^2"),
    ("Step 1. x = 1.\nFinal answer: y = 2x + 1.", "y = 2x + 1"),
    # after "Therefore" / "Hence": the paragraph's display, else its first inline relation
    ("Therefore, with $a = 1$ we get\n\\[ y = 2x + a \\]\nas claimed.", "y = 2x + a"),
    ("We expand. Hence $z = x^2 + 1$ for every $t$.", "z = x^2 + 1"),
    ("Hence $y = 1$.\n\nTherefore $y = 2$.", "y = 2"),                     # the last cue with a formula
    # else the last display with a relation; a continued chain keeps its left side
    ("First \\[ a = b \\] then\n\\begin{align}\n L &= \\sum_i x_i \\\\\n &= n \\bar{x} \\label{eq:m}\n\\end{align}\nDone.",
     r"L = n \bar{x}"),
    ("$$ f(x) = x^2 $$ and then $$ x + 1 $$ (a display without a relation).", "f(x) = x^2"),
])
def test_final_result_is_read_from_the_derivation(derivation, result):
    assert final_result(derivation) == result


@pytest.mark.parametrize("derivation", [
    "", "   ", "No mathematics at all, only words.", "Inline symbols $x$ and $y$ but no result.",
    "Therefore the claim holds.",
])
def test_no_final_result(derivation):
    assert final_result(derivation) is None


@pytest.mark.parametrize(("target", "derivation", "expected"), [
    ("y = 2x", r"... so \boxed{y=2x}", SymbolicGrade("correct", "string", "y=2x")),
    ("y = 2x", r"... so \boxed{y = x + x}", SymbolicGrade("correct", "math_verify", "y = x + x")),
    (r"y = \log x", r"Thus \boxed{y = \ln x}", SymbolicGrade("correct", "sympy", r"y = \ln x")),
    (r"y = \log(ab)", r"Final answer: $y = \log a + \log b$", SymbolicGrade("correct", "numeric", r"y = \log a + \log b")),
    ("y = x^2", r"\boxed{y = x^3}", SymbolicGrade("incorrect", "numeric", "y = x^3")),
    ("y = 2x", r"\boxed{z = 2x}", SymbolicGrade("incorrect", "numeric", "z = 2x")),
    ("y = 2x", "I could not finish the derivation.", SymbolicGrade("unparsed", "none", None, "no_final_result")),
    (r"y = \mathcal{Q}", r"\boxed{@@@}", SymbolicGrade("undecided", "none", "@@@", "unparseable_formula")),
    (r"a \le b", r"\boxed{a < b}", SymbolicGrade("undecided", "none", "a < b", "not_comparable")),
])
def test_grade(target, derivation, expected):
    assert grade(target, derivation, timeout_s=10, memory_mb=512) == expected


def test_a_pathological_result_is_undecided_within_the_deadline():
    start = time.monotonic()
    out = grade("y = 1", r"\boxed{y = 2^{2^{2^{2^{2^{2}}}}}}", timeout_s=1.5, memory_mb=512)
    assert (out.grade, out.tier, out.reason) == ("undecided", "none", "verify_timeout")
    assert time.monotonic() - start < 2.5


def test_grades_and_tiers_are_the_records_values():
    assert {"correct", "incorrect", "undecided", "unparsed"} <= set(allowed(Grade))
    assert {"string", "math_verify", "sympy", "numeric", "none"} <= set(allowed(GradeTier))
