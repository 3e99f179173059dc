"""Suite ``extractions``: well-formed extractions pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import Extraction
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

STAGE = "extractions"


def extraction(n: int, **fields) -> Extraction:
    return Extraction(**{**dict(
        paper_id=f"arxiv:2406.0{n}123", extractor="latex", extractor_version="latex-3", latex_sha256="ab" * 32,
        pdf_sha256="cd" * 32, main_file="main.tex", files=6, status="ok", sections=9, expressions=124, edges=41,
        pages_mapped=118, seconds=2.4), **fields})


SEPARATELY = ((UNIQUE, "paper_id"),)
"""Expectations tested on their own below (uniqueness needs two rows)."""
MODEL = Extraction
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (NOT_NULL, "paper_id", {"paper_id": None}),
    (IN_SET, "extractor", {"extractor": "ocr"}),
    (IN_SET, "status", {"status": "skipped"}),
    (BETWEEN, "expressions", {"expressions": -1}),
    (BETWEEN, "seconds", {"seconds": -0.5}),
]


def test_well_formed_extractions_pass():
    assert_all_pass(STAGE, [
        extraction(1),
        extraction(2, extractor="pdf", latex_sha256=None, main_file=None, files=0, status="partial",
                   issues=["unnumbered_display"], expressions=37, edges=0, pages_mapped=0, seconds=0.8),
        extraction(3, extractor="none", latex_sha256=None, pdf_sha256=None, main_file=None, files=0,
                   status="failed", issues=["no_readable_text"], sections=0, expressions=0, edges=0,
                   pages_mapped=0, seconds=0.0),
    ])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, extraction(2).model_copy(update=update), extraction(1), expectation, column)


def test_both_extractions_of_one_paper_are_quarantined():
    assert_duplicates_caught(STAGE, [extraction(1), extraction(1, status="partial", issues=["bad_macro"])],
                             extraction(2), UNIQUE, "paper_id")
