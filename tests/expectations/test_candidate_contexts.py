"""Suite ``candidate_contexts``: well-formed evidence lists pass, and each expectation quarantines its own violation."""

import pytest

from tests.expectations import (
    BETWEEN,
    MATCH,
    NOT_NULL,
    NULL_BESIDE_A_LIST,
    assert_all_pass,
    assert_caught,
    candidate,
    failures,
    params,
    value_sets,
)

STAGE = "candidate_contexts"

CASES = [
    (NOT_NULL, "question_evidence", {"question_evidence": None}, NULL_BESIDE_A_LIST),
    (MATCH, "question_evidence", {"question_evidence": "Let X_1, ..., X_n be i.i.d."}),
    (BETWEEN, "evidence_grounded", {"evidence_grounded": 100.5}),
]


def test_well_formed_evidence_passes():
    assert_all_pass(STAGE, [candidate(1), candidate(2, question_evidence=[], evidence_grounded=None),
                            candidate(3, question_evidence=["Assume $\\|x\\| \\le 1$.", "Let\nL be convex."],
                                      evidence_grounded=0.0)])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, candidate(2).model_copy(update=update), candidate(1), expectation, column)


def test_missing_evidence_beside_a_list_is_caught_by_the_regex_instead():
    bad = candidate(2).model_copy(update={"question_evidence": None})
    assert failures(STAGE, [candidate(1), bad]) == {("cand-0002", MATCH, "question_evidence")}



def test_the_suite_has_no_value_sets_to_drift():
    assert value_sets(STAGE) == {}
