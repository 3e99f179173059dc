"""Suite ``candidate_drafts``: well-formed drafts pass, and each expectation quarantines its own violation."""

import pytest

from tests.expectations import (
    LENGTH,
    MATCH,
    assert_all_pass,
    assert_caught,
    candidate,
    params,
    value_sets,
)

STAGE = "candidate_drafts"

CASES = [
    (LENGTH, "query", {"query": "Derive it"}),
    (MATCH, "query", {"query": "What learning rate was used for the ImageNet runs?"}),
]


def test_well_formed_drafts_pass():
    assert_all_pass(STAGE, [candidate(1), candidate(2, query="Prove that the bound holds for every t > 0."),
                            candidate(3, query="Show how the ELBO OBTAINS its closed form.")])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, candidate(2).model_copy(update=update), candidate(1), expectation, column)



def test_the_suite_has_no_value_sets_to_drift():
    assert value_sets(STAGE) == {}
