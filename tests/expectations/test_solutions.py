"""Suite ``solutions``: well-formed samples pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import Solution
from tests.expectations import (
    BETWEEN,
    IN_SET,
    MATCH,
    NOT_NULL,
    assert_all_pass,
    assert_caught,
    conditional_value_sets,
    literal_values,
    params,
)

STAGE = "solutions"


def solved(n: int, **fields) -> Solution:
    """A sample Math-Verify found to state the target (each candidate has one row per sample: rows differ in
    candidate_id)."""
    return Solution(**{**dict(
        candidate_id=f"cand-{n:04d}", sample=1,
        solution="By linearity of expectation, E[(1/n) sum X_i] = (1/n) sum E[X_i] = theta.",
        final_answer=r"\mathbb{E}[\hat\theta_n] = \theta", outcome="solved", decided_by="math_verify",
        model="gpt-4.1-mini"), **fields})


def undecided(n: int, **fields) -> Solution:
    return solved(n, **{**dict(solution="The mean is unbiased.", final_answer=None, outcome="undecided",
                               decided_by="none", reason="no_final_answer"), **fields})


MODEL = Solution
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (IN_SET, "outcome", {"outcome": "maybe", "decided_by": "math_verify"}),
    (IN_SET, "decided_by", {"decided_by": "llm_judge"}),
    (IN_SET, "decided_by", {"outcome": "not_solved", "decided_by": "none", "reason": None}),
    (NOT_NULL, "reason", {"reason": None}),
    (MATCH, "reason", {"reason": "No final answer"}),
    (BETWEEN, "sample", {"sample": 0}),
]


def test_a_well_formed_solution_passes():
    assert_all_pass(STAGE, [solved(1), solved(1, sample=2, decided_by="string"),
                            solved(1, sample=3, outcome="not_solved", final_answer=r"\theta^2",
                                   decided_by="numeric"),
                            solved(1, sample=5, final_answer=r"\frac{1}{n}\sum_i \theta", decided_by="sympy"),
                            undecided(1, sample=4), undecided(2, reason="verify_timeout", final_answer=r"\theta")])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, undecided(2).model_copy(update=update), solved(1), expectation, column)


def test_a_decided_sample_was_decided_by_a_tier_of_the_check():
    assert conditional_value_sets(STAGE) == {"decided_by": ["math_verify", "sympy", "numeric", "string"]}
    assert set(conditional_value_sets(STAGE)["decided_by"]) <= set(literal_values(Solution, "decided_by"))
