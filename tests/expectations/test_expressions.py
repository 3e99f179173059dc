"""Suite ``expressions``: well-formed expressions pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import Expression
from tests.expectations import (
    A_AT_LEAST_B,
    BETWEEN,
    IN_SET,
    LENGTH,
    MATCH,
    NOT_NULL,
    NULL_BESIDE_A_LIST,
    UNIQUE,
    assert_all_pass,
    assert_caught,
    assert_duplicates_caught,
    params,
)

STAGE = "expressions"


def expression(n: int, **fields) -> Expression:
    """A numbered LaTeX equation, placed on its PDF page."""
    return Expression(**{**dict(
        expr_id=f"expr-{n}", paper_id="arxiv:2406.01123", extractor="latex", kind="equation", env="equation",
        latex=r"\hat\theta_n = \frac{1}{n}\sum_{i=1}^n X_i", latex_expanded=r"\hat\theta_n = \frac{1}{n}\sum_i X_i",
        text="θ̂ₙ = (1/n) Σᵢ Xᵢ", label=f"eq:mean{n}", number=f"{n}", section="2 Method", section_id="sec-2",
        source_file="sections/method.tex", char_start=1000 * n, char_end=1000 * n + 48, page=4,
        bbox=[72.0, 310.2, 540.0, 332.8], context_before="The estimator is", definitions="where n is the sample size"),
        **fields})


SEPARATELY = ((UNIQUE, "expr_id"),)
"""Expectations tested on their own below (uniqueness needs two rows)."""
MODEL = Expression
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (NOT_NULL, "expr_id", {"expr_id": None}),
    (NOT_NULL, "paper_id", {"paper_id": None}),
    (IN_SET, "extractor", {"extractor": "ocr"}),
    (IN_SET, "kind", {"kind": "figure"}),
    (LENGTH, "text", {"text": ""}),
    (NOT_NULL, "latex", {"latex": None}),
    (NOT_NULL, "latex_expanded", {"latex_expanded": None}),
    (NOT_NULL, "source_file", {"source_file": None}),
    (BETWEEN, "char_start", {"char_start": -1}),
    (A_AT_LEAST_B, None, {"char_end": 10}),
    (BETWEEN, "page", {"extractor": "pdf", "page": 0}),
    (NOT_NULL, "bbox", {"extractor": "pdf", "bbox": None}, NULL_BESIDE_A_LIST),
    (MATCH, "number", {"number": "A 1"}),
]


def test_well_formed_expressions_pass():
    assert_all_pass(STAGE, [
        expression(1),
        expression(2, kind="statement", env="lemma", title="Lemma 2 (Hoeffding)", latex=r"P(|\bar X - \mu| > t)",
                   latex_expanded=r"P(|\bar X - \mu| > t)", text="P(|X̄ − μ| > t) ≤ 2exp(−2nt²)", number="2.4",
                   page=None, bbox=None),
        expression(3, extractor="pdf", env="display", latex=None, latex_expanded=None, source_file=None,
                   char_start=None, char_end=None, label=None, number="(A.1)", page=12),
    ])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, expression(2).model_copy(update=update), expression(1), expectation, column)


def test_a_pdf_expression_without_bbox_is_caught_when_no_other_row_has_a_bbox():
    assert_caught(STAGE, expression(2, extractor="pdf", bbox=None), expression(1, bbox=None), NOT_NULL, "bbox")


def test_both_expressions_with_one_id_are_quarantined():
    assert_duplicates_caught(STAGE, [expression(1), expression(1, row=2)], expression(2), UNIQUE, "expr_id")
