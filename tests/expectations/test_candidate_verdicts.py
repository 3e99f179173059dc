"""Suite ``candidate_verdicts``: well-formed verdicts pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import Candidate
from tests.expectations import (
    BETWEEN,
    IN_SET,
    LENGTH,
    NOT_NULL,
    assert_all_pass,
    assert_caught,
    candidate,
    conditional_value_sets,
    literal_values,
    params,
)

STAGE = "candidate_verdicts"

MODEL = Candidate
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (IN_SET, "verdict", {"verdict": "maybe", "status": "pending"}),
    (NOT_NULL, "verdict", {"verdict": None}),
    (BETWEEN, "verdict_confidence", {"verdict_confidence": 1.2}),
    (LENGTH, "verdict_rationale", {"verdict_rationale": ""}),
    (IN_SET, "verdict", {"verdict": "other", "status": "done"}),
]


def test_well_formed_verdicts_pass():
    assert_all_pass(STAGE, [candidate(1), candidate(2, verdict="define", verdict_confidence=0.0, status="dropped",
                                                     reason="not_a_derivation"),
                            candidate(3, verdict="other", verdict_confidence=1.0, status="failed",
                                      reason="invalid_output")])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, candidate(2).model_copy(update=update), candidate(1), expectation, column)




def test_only_a_derivation_can_be_done():
    assert conditional_value_sets(STAGE) == {"verdict": ["derive"]}
    assert set(conditional_value_sets(STAGE)["verdict"]) <= set(literal_values(Candidate, "verdict"))
