"""Comparing a final formula with the target: strings after normalisation, then Math-Verify, SymPy
and random-point numeric checks in one child process with a deadline, and every way it can fail
said."""

import time

import pytest

from tasks.core.equivalence import (
    _marked_primes,
    import_math_verify,
    math_segments,
    normalise_math,
    same_result,
    sides,
)


@pytest.fixture(scope="module", autouse=True)
def warm():
    import_math_verify()  # as the stages do: every check forks from a process that has them loaded


@pytest.mark.parametrize(("expected", "given", "same", "by"), [
    (r"y = \frac{a}{b}", r"y=\dfrac{a}{b}", True, "string"),           # spacing and \dfrac
    (r"y = x", r"x", True, "string"),                                   # the right-hand side alone
    (r"L(\theta) = \left( x + 1 \right)^2", r"x^2 + 2x + 1", True, "math_verify"),  # \left is not \le
    (r"L(\theta) = x^2 + 2x + 1", r"(x+1)^2", True, "math_verify"),
    (r"z = \sin^2 x + \cos^2 x", r"1", True, "math_verify"),
    (r"y = 2x", r"y = x + x", True, "math_verify"),                     # side by side
    (r"\frac{a}{b}+\frac{c}{b}", r"\frac{a+c}{b}", True, "math_verify"),
])
def test_decided_by_strings_or_math_verify(expected, given, same, by):
    out = same_result(expected, given, timeout_s=10)
    assert (out.same, out.decided_by, out.reason) == (same, by, None)


@pytest.mark.parametrize(("expected", "given"), [
    (r"\log x", r"\ln x"),                              # Math-Verify's \log is base 10; a paper's is natural
    (r"\log(e^{x})", r"x"),
    (r"\exp(\log(x) + 1)", r"e x"),
    (r"\frac{d}{dx}\log x", r"\frac{1}{x}"),
    (r"y = \frac{1}{n f_Y(\mu_n)}", r"y = \frac{1}{n f_{Y}{\left(\mu_{n} \right)}}"),  # one function, two spellings
])
def test_simplify_decides_what_math_verify_misses(expected, given):
    out = same_result(expected, given, timeout_s=10)
    assert (out.same, out.decided_by, out.reason) == (True, "sympy", None)


@pytest.mark.parametrize(("expected", "given"), [
    (r"y = 2x", r"2x = y"),
    (r"y = 2x", r"2y = 4x"),                            # a constant factor
    (r"\sigma^2 = \frac{a}{b}", r"b\sigma^2 = a"),     # a factor that is a variable: lhs - rhs cannot see it
])
def test_a_rearranged_equation_is_solved_for_the_expected_left_side(expected, given):
    out = same_result(expected, given, timeout_s=10)
    assert (out.same, out.decided_by, out.reason) == (True, "sympy", None)


def test_a_rearranged_equation_with_another_result_is_not_the_same():
    out = same_result(r"\sigma^2 = \frac{a}{b}", r"b\sigma^2 = 2a", timeout_s=10)
    assert out.same is False


@pytest.mark.parametrize(("expected", "given"), [
    (r"\log(ab)", r"\log a + \log b"),                  # true where the logarithms are real
    (r"\log \sigma^2", r"2 \log \sigma"),
    (r"\tanh x", r"\frac{e^{2x}-1}{e^{2x}+1}"),
    (r"\sqrt{a}\sqrt{b}", r"\sqrt{ab}"),                # not refuted by a, b < 0 (an i·i intermediate)
])
def test_random_points_decide_identities_simplify_does_not_prove(expected, given):
    out = same_result(expected, given, timeout_s=10)
    assert (out.same, out.decided_by, out.reason) == (True, "numeric", None)


@pytest.mark.parametrize(("expected", "given"), [
    (r"y = x^2", r"x^3"),
    (r"y = 2x", r"z = 2x"),                             # equations as lhs - rhs: another left side
    (r"\sin^2 x + \cos^2 x", r"1 + x"),
    (r"\sqrt{x^2}", r"x"),                              # |x|: the point with x < 0 refutes it
    (r"\mathbb{E}[X] = \mu", r"\mathbb{E}[X] = \mu + 1"),  # the opaque term cancels: a witness
    (r"y = \frac{1}{2}", r"y = 2\frac{1}{2}"),          # a product in a paper, not the mixed number 5/2
])
def test_a_numeric_witness_says_not_equal(expected, given):
    out = same_result(expected, given, timeout_s=10)
    assert (out.same, out.decided_by, out.reason) == (False, "numeric", None)


def test_math_verify_false_stands_when_sympy_cannot_decide():
    # an opaque term on each side: no witness (expectation is linear), so Math-Verify's False stands
    out = same_result(r"\mathbb{E}[X+Y]", r"\mathbb{E}[X]+\mathbb{E}[Y]", timeout_s=10)
    assert (out.same, out.decided_by) == (False, "math_verify")
    # a derivative is not its function: primes are marked before either tier reads them
    out = same_result(r"f'(x) = 2x", r"f(x) = 2x", timeout_s=10)
    assert (out.same, out.decided_by) == (False, "math_verify")


def test_sympy_reads_what_papers_write():
    # a conditional density is one more argument; \mid and | alike; \textup is upright text
    out = same_result(r"p(y \mid \theta) = \frac{p(y, \theta)}{p(\theta)}", r"p(y|\theta) = p(y,\theta)/p(\theta)", 10)
    assert (out.same, out.decided_by) == (True, "sympy")
    out = same_result(r"D = \textup{KL}(p, q) + {\mathbf{y}}_1", r"D = \mathrm{KL}(p, q) + \mathbf{y}_1", 10)
    assert out.same is True
    # a different density: the opaque terms do not cancel, so no witness either way
    out = same_result(r"q = p(y \mid \theta)", r"q = p(\theta \mid y)", 10)
    assert (out.same, out.decided_by, out.reason) == (None, "none", "uninterpreted_terms")


def test_undecided_results_say_why():
    assert same_result("y = 1", None, 5).reason == "no_final_answer"
    assert same_result(r"a \le b", r"a < b", 5).reason == "not_comparable"  # a bound, not a value
    assert same_result(r"y = \mathcal{Q}", "@@@", 5).reason == "unparseable_formula"  # no formula in it
    assert same_result(r"y = \mathcal{Q}", r"\frac{", 5).reason == "unparseable_formula"
    out = same_result(r"\langle x, y \rangle", r"x^\top y", 5)  # neither tier reads inner products
    assert (out.same, out.decided_by, out.reason) == (None, "none", "unparseable_formula")


def test_a_comparison_over_its_deadline_is_killed_not_waited_for():
    start = time.monotonic()
    out = same_result(r"y = (x+1)^{200}", r"\sum_{k=0}^{200} \binom{200}{k} x^k", timeout_s=0.05)
    assert (out.same, out.decided_by, out.reason) == (None, "none", "verify_timeout")
    assert time.monotonic() - start < 2


def test_a_pathological_formula_times_out_with_a_reason():
    # 2^(2^65536): Math-Verify, SymPy and the points each spend their share of the deadline on it
    start = time.monotonic()
    out = same_result(r"2^{2^{2^{2^{2^{2}}}}}", "1", timeout_s=1.5)
    assert (out.same, out.decided_by, out.reason) == (None, "none", "verify_timeout")
    assert time.monotonic() - start < 1.5 + 1.0
    # the next comparison runs as usual: nothing of the killed child is left behind
    assert same_result(r"y = x^2", r"x \cdot x", timeout_s=10).same is True


def test_a_power_tower_is_recorded_with_a_verdict_or_a_reason_within_the_deadline():
    start = time.monotonic()
    out = same_result(r"x^{x^{x^{x^{x^{99999}}}}}", r"x^{x^{x^{x^{x^{99998}}}}}", timeout_s=2)
    assert time.monotonic() - start < 2 + 1.0
    assert out.same is False or out.reason == "verify_timeout"


def test_sides_split_at_top_level_equals_only():
    assert sides(r"\sum_{i=1}^n x_i = S") == (r"\sum_{i=1}^n x_i ", " S")
    assert sides("a = b = c") == ("a ", " c")                 # a chain states its ends
    assert sides(r"f(x) := x^2") == ("f(x) ", " x^2")
    assert sides(r"f \triangleq g") == ("f ", " g")
    assert sides(r"a \ne b") == (None, r"a \ne b")
    assert sides("a == b") == (None, "a == b")


def test_primes_are_marked():
    assert _marked_primes("f'(x) + x_t''") == r"f_{\prime}(x) + x_{t\prime\prime}"
    assert _marked_primes(r"\sigma^{\prime}(z)") == r"\sigma_{\prime}(z)"


def test_formulas_of_a_question():
    text = r"Let $a = b$ and \[ c = d, \] then \begin{equation} e = f \label{x} \end{equation} holds."
    assert [normalise_math(f) for f in math_segments(text)] == ["a=b", "c=d", "e=f"]
