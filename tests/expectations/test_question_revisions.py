"""Suite ``question_revisions``: well-formed rounds pass, and each expectation quarantines its own violation."""

import pytest

from expectations import load
from tasks.core.records import QuestionRevision
from tests.expectations import (
    BETWEEN,
    IN_SET,
    LENGTH,
    MATCH,
    NOT_NULL,
    assert_all_pass,
    assert_caught,
    failed_validations,
    literal_values,
    params,
    quarantined,
    validate,
)

STAGE = "question_revisions"


def original(n: int, **fields) -> QuestionRevision:
    """Round 0: the question generation wrote (each candidate has one row per round: rows differ in candidate_id)."""
    return QuestionRevision(**{**dict(
        candidate_id=f"cand-{n:04d}", round=0, outcome="original",
        question="Let X_1, ..., X_n be i.i.d. with mean theta. Show that their sample mean is unbiased.",
        clarity=4.0, self_containment=3.0, faithfulness=5.0, review_score=4.0,
        review_comment="Say what theta is."), **fields})


def revised(n: int, round: int = 1, **fields) -> QuestionRevision:
    return original(n, **{**dict(
        round=round, outcome="accepted",
        question="Let X_1, ..., X_n be i.i.d. random variables with mean theta. Show that their sample mean "
                 "is an unbiased estimator of theta.",
        clarity=5.0, self_containment=5.0, faithfulness=5.0, review_score=5.0, review_comment=""), **fields})


MODEL = QuestionRevision
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (IN_SET, "outcome", {"round": 0, "outcome": "accepted"}),
    (IN_SET, "outcome", {"round": 2, "outcome": "original"}),
    (NOT_NULL, "reason", {"outcome": "refused", "reason": None}),
    (MATCH, "reason", {"outcome": "refused", "reason": "Revision changed the math"}),
    (LENGTH, "question", {"question": ""}),
    (BETWEEN, "clarity", {"clarity": 5.5}),
    (BETWEEN, "self_containment", {"self_containment": -1.0}),
    (BETWEEN, "faithfulness", {"faithfulness": 6.0}),
    (BETWEEN, "review_score", {"review_score": 5.1}),
]


def test_a_well_formed_revision_passes():
    assert_all_pass(STAGE, [original(1, clarity=0.0, self_containment=0.0, faithfulness=0.0, review_score=0.0),
                            revised(1, outcome="refused", reason="revision_changed_math"),
                            revised(1, round=2), original(2, clarity=None, self_containment=None, faithfulness=None,
                                                         review_score=None, review_comment=""),
                            revised(2, outcome="refused", reason="revision_unchanged", clarity=None,
                                    self_containment=None, faithfulness=None, review_score=None)])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, revised(2).model_copy(update=update), original(1), expectation, column)


def test_an_unknown_outcome_is_also_outside_its_rounds_set():
    """The outcome set never fails alone: every round is 0 or later, and each has its own narrower set."""
    outcome = validate(STAGE, [original(1), revised(2).model_copy(update={"outcome": "withdrawn"})])
    assert quarantined(outcome) == [("cand-0002", IN_SET, "outcome")] * 2
    assert failed_validations(outcome) == [(IN_SET, "outcome")] * 2


def test_round_zero_is_the_original_and_later_rounds_are_decided():
    """Two conditional sets on ``outcome`` (``conditional_value_sets`` keeps one per column): round 0, then later."""
    sets = [list(e.value_set) for e in load(STAGE).expectations() if e.expectation_type == IN_SET and e.row_condition]
    assert sets == [["original"], ["accepted", "refused"]]
    assert [v for s in sets for v in s] == literal_values(QuestionRevision, "outcome")
