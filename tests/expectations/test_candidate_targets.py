"""Suite ``candidate_targets``: well-formed targets pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import Candidate
from tests.expectations import (
    IN_SET,
    LENGTH,
    MATCH,
    NOT_NULL,
    UNIQUE,
    assert_all_pass,
    assert_caught,
    assert_duplicates_caught,
    candidate,
    params,
)

STAGE = "candidate_targets"


def target(n: int, **fields) -> Candidate:
    """A candidate as the Math Expression Extractor leaves it: a target, nothing generated yet."""
    return candidate(n, **{**dict(query=None, answer=None, answer_evidence=None, question_evidence=[], question=None,
                                  verdict=None, verdict_rationale=None, verdict_confidence=None, grounded_score=None,
                                  answer_span=None, answer_source=None, evidence_grounded=None,
                                  stage_reached="target", status="pending"), **fields})


SEPARATELY = ((UNIQUE, "candidate_id"),)
"""Expectations tested on their own below (uniqueness needs two rows)."""
MODEL = Candidate
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (NOT_NULL, "candidate_id", {"candidate_id": None}),
    (NOT_NULL, "paper_id", {"paper_id": None}),
    (NOT_NULL, "target_expr", {"target_expr": None}),
    (LENGTH, "target_latex", {"target_latex": ""}),
    (IN_SET, "target_kind", {"target_kind": "proof"}),
    (IN_SET, "status", {"status": "queued"}),
    (MATCH, "reason", {"status": "failed", "reason": "LLM timeout"}),
]


def test_well_formed_targets_pass():
    assert_all_pass(STAGE, [target(1), target(2, target_kind="statement", target_number="2.4"),
                            candidate(3), target(4, status="failed", reason="empty_draft")])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, target(2).model_copy(update=update), target(1), expectation, column)


def test_both_candidates_with_one_id_are_quarantined():
    assert_duplicates_caught(STAGE, [target(1), target(1, target_number="9")], target(2), UNIQUE, "candidate_id")
