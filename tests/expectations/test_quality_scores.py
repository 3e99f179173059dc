"""Suite ``quality_scores``: well-formed scores pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import QualityScore
from tests.expectations import (
    BETWEEN,
    IN_SET,
    LENGTH,
    assert_all_pass,
    assert_caught,
    params,
)

STAGE = "quality_scores"


def scored(n: int, **fields) -> QualityScore:
    """A seed-filter score (each candidate has one row per criterion: rows differ in candidate_id here)."""
    return QualityScore(**{**dict(
        candidate_id=f"cand-{n:04d}", stage="candidate_score", criterion="complexity", score=3.0,
        rationale="A multi-step derivation from the stated assumptions.", model="gpt-4.1-mini"), **fields})


def joint(n: int, **fields) -> QualityScore:
    return scored(n, **{**dict(stage="joint_score", criterion="derivation_correctness", score=4.0,
                               rationale="The derivation follows from the question as stated."), **fields})


MODEL = QualityScore
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (IN_SET, "stage", {"stage": "expert_score"}),
    (IN_SET, "criterion", {"criterion": "elegance"}),
    (BETWEEN, "score", {"stage": "candidate_score", "score": 5.5}),
    (BETWEEN, "score", {"stage": "candidate_score", "score": -1.0}),
    (BETWEEN, "score", {"stage": "joint_score", "criterion": "problem_clarity", "score": 0.0}),
    (BETWEEN, "score", {"stage": "joint_score", "criterion": "problem_clarity", "score": 6.0}),
    (LENGTH, "rationale", {"rationale": ""}),
]


def test_a_well_formed_score_passes():
    assert_all_pass(STAGE, [scored(1), scored(1, criterion="information_value", score=0.0),
                            scored(1, criterion="precision", score=5.0), joint(1, score=1.0),
                            joint(1, criterion="human_heuristics", score=5.0), joint(2, criterion="reasoning_density")])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, scored(2).model_copy(update=update), joint(1), expectation, column)

