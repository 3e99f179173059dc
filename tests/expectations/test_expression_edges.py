"""Suite ``expression_edges``: well-formed references pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import ExpressionEdge
from tests.expectations import (
    COMPOUND_UNIQUE,
    IN_SET,
    NOT_NULL,
    assert_all_pass,
    assert_caught,
    assert_duplicates_caught,
    params,
)

STAGE = "expression_edges"


def edge(n: int, **fields) -> ExpressionEdge:
    """The proof of a lemma citing an equation."""
    return ExpressionEdge(**{**dict(
        paper_id="arxiv:2406.01123", from_expr=f"expr-proof-{n}", to_expr="expr-1", via="proof", command="eqref",
        label="eq:mean1"), **fields})


SEPARATELY = ((COMPOUND_UNIQUE, None),)
"""Expectations tested on their own below (uniqueness needs two rows)."""
MODEL = ExpressionEdge
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (NOT_NULL, "from_expr", {"from_expr": None}),
    (NOT_NULL, "to_expr", {"to_expr": None}),
    (IN_SET, "via", {"via": "footnote"}),
    (NOT_NULL, "label", {"label": None}),
]


def test_well_formed_edges_pass():
    assert_all_pass(STAGE, [edge(1), edge(1, via="statement", command="ref"),
                            edge(2, from_expr="expr-7", to_expr="expr-3", via="introduction", command="cref",
                                 label="eq:loss")])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, edge(2).model_copy(update=update), edge(1), expectation, column)


def test_both_copies_of_one_reference_are_quarantined():
    """Both rows are named by their ``from_expr``, the same one, and the compound check has no column."""
    assert_duplicates_caught(STAGE, [edge(1), edge(1, command="ref")], edge(2), COMPOUND_UNIQUE, None)
