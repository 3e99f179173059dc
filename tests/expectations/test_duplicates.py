"""Suite ``duplicates``: well-formed duplicates pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import Duplicate
from tests.expectations import (
    BETWEEN,
    IN_SET,
    NOT_NULL,
    UNIQUE,
    assert_all_pass,
    assert_caught,
    assert_duplicates_caught,
    params,
)

STAGE = "duplicates"


def dropped(n: int, **fields) -> Duplicate:
    """A candidate dropped as a near duplicate of one kept in this run."""
    return Duplicate(**{**dict(candidate_id=f"cand-{n:04d}", twin_id="cand-0100", method="minhash",
                               similarity=0.92), **fields})


SEPARATELY = ((UNIQUE, "candidate_id"),)
"""Expectations tested on their own below (uniqueness needs two rows)."""
MODEL = Duplicate
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (NOT_NULL, "twin_id", {"twin_id": None}),
    (IN_SET, "method", {"method": "exact"}),
    (BETWEEN, "similarity", {"similarity": 0.0}),
    (BETWEEN, "similarity", {"similarity": 1.2}),
]


def test_a_well_formed_duplicate_passes():
    assert_all_pass(STAGE, [dropped(1), dropped(2, method="embedding", similarity=1.0),
                            dropped(3, method="ngram", similarity=0.01, twin_id="cand-0007", twin_earlier=True)])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, dropped(2).model_copy(update=update), dropped(1), expectation, column)


def test_both_rows_of_one_candidate_are_quarantined():
    assert_duplicates_caught(STAGE, [dropped(1), dropped(1, twin_id="cand-0200", method="embedding")], dropped(2),
                             UNIQUE, "candidate_id")
