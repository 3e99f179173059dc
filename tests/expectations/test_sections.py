"""Suite ``sections``: well-formed headings pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import Section
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

STAGE = "sections"


def section(n: int, **fields) -> Section:
    return Section(**{**dict(
        section_id=f"sec-{n}", paper_id="arxiv:2406.01123", extractor="latex", level=1, number=f"{n}",
        title="Method", path=f"{n} Method", source_file="sections/method.tex", char_start=120 * n,
        char_end=120 * n + 40), **fields})


SEPARATELY = ((UNIQUE, "section_id"),)
"""Expectations tested on their own below (uniqueness needs two rows)."""
MODEL = Section
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (NOT_NULL, "section_id", {"section_id": None}),
    (NOT_NULL, "paper_id", {"paper_id": None}),
    (IN_SET, "extractor", {"extractor": "html"}),
    (BETWEEN, "level", {"level": 4}),
    (NOT_NULL, "title", {"title": None}),
    (NOT_NULL, "source_file", {"source_file": None}),
    (BETWEEN, "page", {"extractor": "pdf", "page": 0}),
]


def test_well_formed_sections_pass():
    assert_all_pass(STAGE, [
        section(1),
        section(2, level=2, number="2.1", title="Estimator", path="2 Method > 2.1 Estimator", in_appendix=True),
        section(3, extractor="pdf", level=0, number=None, source_file=None, char_start=None, char_end=None,
                page=4, bbox=[72.0, 90.5, 300.0, 104.0]),
    ])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, section(2).model_copy(update=update), section(1), expectation, column)


def test_both_sections_with_one_id_are_quarantined():
    assert_duplicates_caught(STAGE, [section(1), section(1, title="Methods")], section(2), UNIQUE, "section_id")
