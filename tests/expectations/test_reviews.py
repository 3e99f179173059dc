"""Suite ``reviews``: well-formed reviews pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import Review
from tests.expectations import (
    BETWEEN,
    NOT_NULL,
    UNIQUE,
    assert_all_pass,
    assert_caught,
    assert_duplicates_caught,
    params,
    value_sets,
)

STAGE = "reviews"


def review(n: int, **fields) -> Review:
    return Review(**{**dict(
        review_id=f"rev{n}", forum_id="Hk3xZ9", paper_id="arxiv:2406.01123", venue="ICLR.cc/2025/Conference",
        rating_field="rating", rating_raw="6: marginally above the acceptance threshold", rating=6.0,
        confidence_raw="4: confident, but not absolutely certain", confidence=4.0), **fields})


SEPARATELY = ((UNIQUE, "review_id"),)
"""Expectations tested on their own below (uniqueness needs two rows)."""

CASES = [
    (NOT_NULL, "review_id", {"review_id": None}),
    (NOT_NULL, "forum_id", {"forum_id": None}),
    (NOT_NULL, "rating", {"rating": None}),
    (BETWEEN, "rating", {"rating": 10.5}),
    (BETWEEN, "confidence", {"confidence": 5.5}),
]


def test_well_formed_reviews_pass():
    assert_all_pass(STAGE, [review(1), review(2, rating=8.0, confidence=None, confidence_raw=None),
                            review(3, paper_id=None, rating=0.0, confidence=5.0)])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, review(2).model_copy(update=update), review(1), expectation, column)


def test_both_reviews_with_one_id_are_quarantined():
    assert_duplicates_caught(STAGE, [review(1), review(1, rating=3.0)], review(2), UNIQUE, "review_id")



def test_the_suite_has_no_value_sets_to_drift():
    assert value_sets(STAGE) == {}
