"""Suite ``papers``: well-formed papers pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import Paper
from tests.expectations import (
    BETWEEN,
    IN_SET,
    LENGTH,
    MATCH,
    NOT_NULL,
    UNIQUE,
    assert_all_pass,
    assert_caught,
    assert_duplicates_caught,
    params,
)

STAGE = "papers"


def paper(n: int, **fields) -> Paper:
    return Paper(**{**dict(
        paper_id=f"arxiv:2406.0{n}123", source="arxiv", title=f"Sharper generalisation bounds, part {n}",
        authors=["Ada Lovelace", "Alan Turing"], abstract="We derive sharper bounds.", arxiv_id=f"2406.0{n}123",
        arxiv_version="v2", categories=["cs.LG", "stat.ML"], primary_category="cs.LG",
        pdf_url=f"https://arxiv.org/pdf/2406.0{n}123v2", license="http://creativecommons.org/licenses/by/4.0/",
        license_source="arxiv", openreview_id=f"forum{n}", venue="ICLR 2025", match_method="arxiv_id",
        match_score=100.0), **fields})


SEPARATELY = ((UNIQUE, "paper_id"),)
"""Expectations tested on their own below (uniqueness needs two rows)."""
MODEL = Paper
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (NOT_NULL, "paper_id", {"paper_id": None}),
    (MATCH, "paper_id", {"paper_id": "doi:10.1000/182"}),
    (NOT_NULL, "title", {"title": None}),
    (LENGTH, "title", {"title": ""}),
    (IN_SET, "source", {"source": "crossref"}),
    (NOT_NULL, "license", {"license": None}),
    (IN_SET, "match_method", {"match_method": "doi"}),
    (BETWEEN, "match_score", {"match_score": 100.5}),
]


def test_well_formed_papers_pass():
    assert_all_pass(STAGE, [
        paper(1),
        paper(2, paper_id="openreview:Hk3xZ9", source="openreview", arxiv_id=None, match_method="not_applicable",
              match_score=None),
        paper(3, paper_id="local:9f86d081884c", source="local", local_path="inbox/notes.pdf", license="unknown",
              match_method="none", match_score=None),
    ])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, paper(2).model_copy(update=update), paper(1), expectation, column)


def test_both_papers_with_one_id_are_quarantined():
    assert_duplicates_caught(STAGE, [paper(1), paper(1, title="A revised title")], paper(2), UNIQUE, "paper_id")
