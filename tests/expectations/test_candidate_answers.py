"""Suite ``candidate_answers``: well-formed answers pass, and each expectation quarantines its own violation."""

import pytest

from tests.expectations import (
    BETWEEN,
    LENGTH,
    NOT_NULL,
    NULL_BESIDE_A_LIST,
    assert_all_pass,
    assert_caught,
    candidate,
    params,
    value_sets,
)

STAGE = "candidate_answers"

CASES = [
    (LENGTH, "answer", {"answer": ""}),
    (NOT_NULL, "grounded_score", {"grounded_score": None}),
    (BETWEEN, "grounded_score", {"grounded_score": 100.5}),
    (NOT_NULL, "answer_span", {"answer_span": None}, NULL_BESIDE_A_LIST),
]


def test_well_formed_answers_pass():
    assert_all_pass(STAGE, [candidate(1), candidate(2, stage_reached="answer_retriever", status="pending"),
                            candidate(3, grounded_score=41.0, answer_span=None, status="dropped",
                                      reason="ungrounded_answer")])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, candidate(2).model_copy(update=update), candidate(1), expectation, column)


def test_a_done_candidate_without_a_span_is_caught_when_no_other_row_has_a_span():
    other = candidate(1, status="dropped", reason="ungrounded_answer", answer_span=None)
    assert_caught(STAGE, candidate(2, answer_span=None), other, NOT_NULL, "answer_span")



def test_the_suite_has_no_value_sets_to_drift():
    assert value_sets(STAGE) == {}
