"""Suite ``evaluations``: well-formed graded answers pass, and each expectation quarantines its own
violation."""

import pytest

from tasks.core.records import Evaluation
from tests.expectations import (
    BETWEEN,
    IN_SET,
    MATCH,
    NOT_NULL,
    assert_all_pass,
    assert_caught,
    conditional_value_sets,
    params,
)

STAGE = "evaluations"
MODEL = Evaluation


def answered(n: int, **fields) -> Evaluation:
    """A multiple-choice answer read as a letter (rows differ in item_id)."""
    return Evaluation(**{**dict(
        eval_id="evaluate-1", dataset="2026-12", item_id=f"item-{n:04d}", model="gpt-4.1-mini", format="mc",
        sample=1, prompt_version="abc123", raw_answer="Answer: B", parsed_answer="B", expected="B",
        grade="correct", tier="letter", choice_order=[2, 0, 1, 3]), **fields})


def judged(n: int, **fields) -> Evaluation:
    return answered(n, **{**dict(format="judge", parsed_answer=None, expected=None, tier="judge", grade="incorrect",
                                 correctness=0.0, clarity=2.0, completeness=1.5, similarity=1.0,
                                 order_disagreement=False, grader_model="gpt-4o"), **fields})


CASES = [
    (IN_SET, "format", {"format": "essay"}),
    (IN_SET, "grade", {"grade": "wrong"}),
    (IN_SET, "tier", {"tier": "regex", "grade": "unparsed", "parsed_answer": None, "reason": "no_letter"}),
    (IN_SET, "tier", {"tier": "none"}),
    (NOT_NULL, "reason", {"grade": "unparsed", "parsed_answer": None, "reason": None}),
    (MATCH, "reason", {"reason": "Two letters"}),
    (MATCH, "parsed_answer", {"parsed_answer": "B or C"}),
    (BETWEEN, "correctness", {"correctness": 3.0}),
    (BETWEEN, "sample", {"sample": 0}),
]


def test_well_formed_answers_pass():
    assert_all_pass(STAGE, [
        answered(1), answered(2, grade="unparsed", parsed_answer=None, tier="letter", reason="multiple_letters"),
        answered(3, format="options_only", grade="incorrect", parsed_answer="A"),
        answered(4, grade="failed", parsed_answer=None, tier="none", reason="failed"), judged(5),
        judged(6, format="symbolic", tier="sympy", grade="correct", correctness=None, parsed_answer="x^2"),
        judged(7, format="symbolic", tier="none", grade="undecided", correctness=None, reason="verify_timeout")])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, answered(2).model_copy(update=update), answered(1), expectation, column)


def test_a_graded_answer_was_decided_by_a_grader():
    assert "none" not in conditional_value_sets(STAGE)["tier"]
