"""Suite ``documents``: well-formed documents pass, and each expectation quarantines its own violation."""

import hashlib

import pytest

from tasks.core.records import Document
from tests.expectations import (
    BETWEEN,
    IN_SET,
    MATCH,
    NOT_NULL,
    assert_all_pass,
    assert_caught,
    params,
)

STAGE = "documents"


def document(n: int, **fields) -> Document:
    sha = hashlib.sha256(f"paper {n}".encode()).hexdigest()
    return Document(**{**dict(
        paper_id=f"arxiv:2406.0{n}123", kind="pdf", source_url=f"https://arxiv.org/pdf/2406.0{n}123v2",
        uri=f"s3://lake/raw/{sha}.pdf", text_uri=f"s3://lake/text/{sha}.txt", sha256=sha, bytes=482_113, pages=14,
        chars=61_540, parse_status="ok"), **fields})


MODEL = Document
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (NOT_NULL, "paper_id", {"paper_id": None}),
    (IN_SET, "kind", {"kind": "html"}),
    (IN_SET, "parse_status", {"parse_status": "pending"}),
    (MATCH, "sha256", {"sha256": "ABC123"}),
    (MATCH, "reason", {"parse_status": "rejected", "reason": "Encrypted PDF"}),
    (NOT_NULL, "reason", {"parse_status": "rejected", "reason": None}),
    (NOT_NULL, "sha256", {"sha256": None}),
    (BETWEEN, "chars", {"chars": 0}),
    (BETWEEN, "pages", {"pages": -1}),
]


def test_well_formed_documents_pass():
    assert_all_pass(STAGE, [
        document(1),
        document(1, kind="latex", uri=None, text_uri=None, sha256=None, bytes=0, pages=None, chars=0,
                 parse_status="rejected", reason="no_latex_source", detail="arXiv serves no source for this paper"),
        document(2, pages=0, chars=1),
    ])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, document(2).model_copy(update=update), document(1), expectation, column)
