"""Suite ``contamination``: well-formed hits pass, and each expectation quarantines its own violation."""

import pytest

from tasks.core.records import Contamination
from tests.expectations import (
    BETWEEN,
    IN_SET,
    LENGTH,
    assert_all_pass,
    assert_caught,
    params,
)

STAGE = "contamination"


def hit(n: int, **fields) -> Contamination:
    """A candidate overlapping a benchmark item (one row per item: rows differ in candidate_id here)."""
    return Contamination(**{**dict(
        candidate_id=f"cand-{n:04d}", benchmark="MATH", item_id="test/algebra/1234", method="ngram",
        matched_span="sample mean is an unbiased estimator of", similarity=0.8), **fields})


MODEL = Contamination
"""The record whose Literal fields the suite's value sets must equal."""

CASES = [
    (LENGTH, "benchmark", {"benchmark": ""}),
    (LENGTH, "item_id", {"item_id": ""}),
    (LENGTH, "matched_span", {"matched_span": ""}),
    (IN_SET, "method", {"method": "exact"}),
    (BETWEEN, "similarity", {"similarity": 0.0}),
    (BETWEEN, "similarity", {"similarity": 1.5}),
]


def test_a_well_formed_hit_passes():
    assert_all_pass(STAGE, [hit(1), hit(1, item_id="test/algebra/99", method="minhash", similarity=1.0),
                            hit(2, benchmark="GSM8K", item_id="42", method="embedding", similarity=0.01,
                                matched_span="Let X_1, ..., X_n be i.i.d.")])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, hit(2).model_copy(update=update), hit(1), expectation, column)
