"""Comparing a solver's final formula with the paper's target: strings after normalisation,
Math-Verify in a child process with a deadline, and every way it can fail said."""

import time

import pytest

from tasks.refine.equivalence import math_segments, normalise_math, same_result


@pytest.mark.parametrize(("expected", "given", "same", "by"), [
    (r"y = \frac{a}{b}", r"y=\dfrac{a}{b}", True, "string"),           # spacing and \dfrac
    (r"y = x", r"x", True, "string"),                                   # the right-hand side alone
    (r"L(\theta) = \left( x + 1 \right)^2", r"x^2 + 2x + 1", True, "math_verify"),  # \left is not \le
    (r"L(\theta) = x^2 + 2x + 1", r"(x+1)^2", True, "math_verify"),
    (r"y = x^2", r"x^3", False, "math_verify"),
    (r"z = \sin^2 x + \cos^2 x", r"1", True, "math_verify"),
])
def test_decided_by_strings_or_math_verify(expected, given, same, by):
    out = same_result(expected, given, timeout_s=10)
    assert (out.same, out.decided_by, out.reason) == (same, by, None)


def test_undecided_results_say_why():
    assert same_result("y = 1", None, 5).reason == "no_final_answer"
    assert same_result(r"a \le b", r"a < b", 5).reason == "not_comparable"  # a bound, not a value
    assert same_result(r"y = \mathcal{Q}", "@@@", 5).reason == "unparseable_formula"  # no formula in it
    assert same_result(r"y = \mathcal{Q}", r"\frac{", 5).reason == "unparseable_formula"


def test_a_comparison_over_its_deadline_is_killed_not_waited_for():
    start = time.monotonic()
    out = same_result(r"y = (x+1)^{200}", r"\sum_{k=0}^{200} \binom{200}{k} x^k", timeout_s=0.05)
    assert (out.same, out.decided_by, out.reason) == (None, "none", "verify_timeout")
    assert time.monotonic() - start < 2


def test_formulas_of_a_question():
    text = r"Let $a = b$ and \[ c = d, \] then \begin{equation} e = f \label{x} \end{equation} holds."
    assert [normalise_math(f) for f in math_segments(text)] == ["a=b", "c=d", "e=f"]
