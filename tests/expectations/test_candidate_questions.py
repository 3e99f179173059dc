"""Suite ``candidate_questions``: self-contained questions pass, and each expectation quarantines its own violation."""

import pytest

from tests.expectations import (
    LENGTH,
    NOT_MATCH,
    assert_all_pass,
    assert_caught,
    candidate,
    params,
    value_sets,
)

STAGE = "candidate_questions"

POINTING = ["In this paper, derive the bound on the excess risk.", "Using the result of Section 3, derive the rate.",
            "Starting from Eq. (4), derive the update rule.", "Prove the lemma stated in Appendix B.",
            "Derive the curve shown in Figure 2.", "Show that the authors' estimator is unbiased.",
            "Derive the limit of (3.2) above as n grows."]
CASES = [(LENGTH, "question", {"question": "Derive the bound."})] + \
    [(NOT_MATCH, "question", {"question": question}) for question in POINTING]


def test_self_contained_questions_pass():
    assert_all_pass(STAGE, [
        candidate(1),
        candidate(2, question="Let f be L-smooth and convex. Prove that gradient descent with step 1/L satisfies "
                              "f(x_k) - f* <= L ||x_0 - x*||^2 / (2k)."),
        candidate(3, question="Derive the equation of motion of a pendulum of length l in a table-top experiment, "
                              "to first order in the angle."),
    ])


@pytest.mark.parametrize(("expectation", "column", "update"), params(CASES))
def test_each_expectation_quarantines_its_own_violation(expectation, column, update):
    assert_caught(STAGE, candidate(2).model_copy(update=update), candidate(1), expectation, column)



def test_the_suite_has_no_value_sets_to_drift():
    assert value_sets(STAGE) == {}
