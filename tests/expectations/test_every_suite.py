"""What every suite owes: each of its expectations is exercised by its own test module, and its
value sets are the records' ``Literal`` values, not hand-copied lists."""

import importlib

import pytest

from expectations import SUITES
from tests.expectations import assert_every_expectation_exercised, assert_value_sets_are_the_models, value_sets


def suite_tests(stage: str):
    return importlib.import_module(f"tests.expectations.test_{stage}")


@pytest.mark.parametrize("stage", SUITES)
def test_every_expectation_is_exercised(stage):
    module = suite_tests(stage)
    assert_every_expectation_exercised(stage, module.CASES, *getattr(module, "SEPARATELY", ()))


@pytest.mark.parametrize("stage", [s for s in SUITES if value_sets(s)])
def test_value_sets_are_the_models_literals(stage):
    assert_value_sets_are_the_models(stage, suite_tests(stage).MODEL)
