"""Suite ``review_queue``: well-formed queue entries pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import QueueEntry
from tests.expectations import (
    BETWEEN,
    IN_SET,
    UNIQUE,
    assert_all_pass,
    assert_caught,
    assert_duplicates_caught,
    params,
)

STAGE = "review_queue"


def queued(n: int, **fields) -> QueueEntry:
    """A candidate ranked with DS²."""
    return QueueEntry(**{**dict(
        candidate_id=f"cand-{n:04d}", paper_id="arxiv:2406.01234", rank=n, raw_score=4.2, curated_score=4.0,
        long_tail_score=0.35, solve_rate=0.5, reason="ranked"), **fields})


SEPARATELY = ((UNIQUE, "candidate_id"), (UNIQUE, "rank"))
"""Expectations tested on their own below (uniqueness needs two rows)."""
MODEL = QueueEntry
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (BETWEEN, "rank", {"rank": 0}),
    (BETWEEN, "raw_score", {"raw_score": 0.5}),
    (BETWEEN, "curated_score", {"curated_score": 5.5}),
    (BETWEEN, "solve_rate", {"solve_rate": 1.2}),
    (IN_SET, "reason", {"reason": "unranked"}),
]


def test_a_well_formed_entry_passes():
    assert_all_pass(STAGE, [queued(1, raw_score=5.0, curated_score=5.0, solve_rate=1.0),
                            queued(2, raw_score=1.0, curated_score=1.0, solve_rate=0.0),
                            queued(3, curated_score=4.2, long_tail_score=None, reason="uncorrected_no_embeddings"),
                            queued(4, curated_score=4.2, reason="uncorrected_no_transition_matrix"),
                            queued(5, raw_score=None, curated_score=None, long_tail_score=None, solve_rate=None,
                                   reason="unscored"),
                            queued(6, curated_score=4.2, reason="uncorrected_by_setting")])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, queued(2).model_copy(update=update), queued(1), expectation, column)


def test_both_rows_of_one_candidate_are_quarantined():
    assert_duplicates_caught(STAGE, [queued(1), queued(1, rank=7, raw_score=3.0)], queued(2), UNIQUE, "candidate_id")


def test_both_rows_with_one_rank_are_quarantined():
    assert_duplicates_caught(STAGE, [queued(1), queued(2, rank=1)], queued(3), UNIQUE, "rank")
