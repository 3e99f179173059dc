"""Suite ``selections``: well-formed selection rows pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import Selection
from tests.expectations import (
    BETWEEN,
    IN_SET,
    LENGTH,
    MATCH,
    NOT_NULL,
    UNIQUE,
    assert_all_pass,
    assert_caught,
    assert_duplicates_caught,
    conditional_value_sets,
    failures,
    literal_values,
    params,
)

STAGE = "selections"


def chosen(n: int, **fields) -> Selection:
    return Selection(**{**dict(
        selection_id="sel-20250301T120000000000Z", candidate_id=f"cand-{n:04d}", paper_id=f"arxiv:2406.0{n}123",
        topic="learning theory", selected=True, rank=n, expert_score=4.4, adjusted_score=4.2, reviewers=3,
        reason="selected", detail="3/3 keep"), **fields})


def not_chosen(n: int, **fields) -> Selection:
    return chosen(n, **{**dict(selected=False, rank=None, adjusted_score=None, reason="below_cut",
                               detail="3/3 keep; expert score 2.60 below the 2 chosen", expert_score=2.6), **fields})


SEPARATELY = ((MATCH, "reason"), (UNIQUE, "candidate_id"), (UNIQUE, "rank"))
"""Expectations tested on their own below (uniqueness needs two rows)."""
MODEL = Selection
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (IN_SET, "reason", {"reason": "too_long"}),
    (LENGTH, "detail", {"detail": ""}),
    (BETWEEN, "expert_score", {"expert_score": 5.5}),
    (NOT_NULL, "rank", {"selected": True, "reason": "selected", "rank": None}),
    (IN_SET, "reason", {"selected": True, "rank": 2, "reason": "paper_cap"}),
]


def test_a_well_formed_selection_passes():
    assert_all_pass(STAGE, [chosen(1), chosen(2, expert_score=5.0), not_chosen(3),
                            not_chosen(4, reason="incomplete_reviews", detail="1 of 3 reviews in", expert_score=None,
                                       reviewers=1)])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, not_chosen(2).model_copy(update=update), chosen(1), expectation, column)


def test_a_reason_that_is_not_snake_case_is_also_outside_the_set():
    """The snake_case regex never fails alone: every allowed reason is snake_case already."""
    bad = not_chosen(2).model_copy(update={"reason": "Below cut"})
    assert failures(STAGE, [chosen(1), bad]) == {("cand-0002", IN_SET, "reason"), ("cand-0002", MATCH, "reason")}


def test_both_rows_of_one_candidate_are_quarantined():
    assert_duplicates_caught(STAGE, [not_chosen(1), not_chosen(1, reason="paper_cap")], chosen(2), UNIQUE,
                             "candidate_id")


def test_both_rows_with_one_rank_are_quarantined():
    assert_duplicates_caught(STAGE, [chosen(1), chosen(2, rank=1)], chosen(3), UNIQUE, "rank")




def test_a_chosen_row_must_say_selected():
    assert conditional_value_sets(STAGE) == {"reason": ["selected"]}
    assert set(conditional_value_sets(STAGE)["reason"]) <= set(literal_values(Selection, "reason"))
