"""Suite ``paper_filters``: well-formed filter decisions pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import PaperFilter
from tests.expectations import (
    BETWEEN,
    IN_SET,
    MATCH,
    NOT_NULL,
    UNIQUE,
    assert_all_pass,
    assert_caught,
    assert_duplicates_caught,
    params,
)

STAGE = "paper_filters"


def decision(n: int, **fields) -> PaperFilter:
    return PaperFilter(**{**dict(
        paper_id=f"arxiv:2406.0{n}123", venue="ICLR.cc/2025/Conference", rating_rule="pass", ratings=[6.0, 8.0],
        rating_mean=7.0, rating_threshold=5.0, keyword_rule="pass", keyword_hits={"derive": 4, "lemma": 3},
        keyword_total=7, keyword_threshold=5, keyword_text_source="latex", passed=True), **fields})


SEPARATELY = ((UNIQUE, "paper_id"),)
"""Expectations tested on their own below (uniqueness needs two rows)."""
MODEL = PaperFilter
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (NOT_NULL, "paper_id", {"paper_id": None}),
    (IN_SET, "rating_rule", {"rating_rule": "borderline"}),
    (IN_SET, "keyword_rule", {"keyword_rule": "unknown"}),
    (BETWEEN, "rating_mean", {"rating_mean": 10.5}),
    (BETWEEN, "keyword_total", {"keyword_total": -1}),
    (MATCH, "reason", {"passed": False, "reason": "Too few keywords"}),
    (NOT_NULL, "reason", {"passed": False, "reason": None}),
]


def test_well_formed_decisions_pass():
    assert_all_pass(STAGE, [
        decision(1),
        decision(2, rating_rule="fail", ratings=[3.0, 4.0], rating_mean=3.5, keyword_rule="not_evaluated",
                 keyword_hits={}, keyword_total=0, keyword_text_source="none", passed=False,
                 reason="rating_not_above_weak_accept"),
        decision(3, venue=None, rating_rule="skipped", ratings=[], rating_mean=None, rating_threshold=None),
    ])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, decision(2).model_copy(update=update), decision(1), expectation, column)


def test_both_decisions_for_one_paper_are_quarantined():
    assert_duplicates_caught(STAGE, [decision(1), decision(1, keyword_total=9)], decision(2), UNIQUE, "paper_id")
