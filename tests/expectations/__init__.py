"""Helpers for the suite tests: validate a batch, name what was quarantined, read a suite's value sets."""

from __future__ import annotations

import re
import types
import typing
import warnings

import pytest

from expectations import load
from tasks.core.records import Candidate, Record
from tasks.io.validate import StageValidation, validate_stage

NOT_NULL = "expect_column_values_to_not_be_null"
UNIQUE = "expect_column_values_to_be_unique"
COMPOUND_UNIQUE = "expect_compound_columns_to_be_unique"
IN_SET = "expect_column_values_to_be_in_set"
BETWEEN = "expect_column_values_to_be_between"
LENGTH = "expect_column_value_lengths_to_be_between"
MATCH = "expect_column_values_to_match_regex"
NOT_MATCH = "expect_column_values_to_not_match_regex"
A_AT_LEAST_B = "expect_column_pair_values_a_to_be_greater_than_b"

Failure = tuple[str, str, str | None]

NULL_BESIDE_A_LIST = ("validate._frame stores a list column as JSON text, None included (as 'null'), whenever "
                      "another row holds a list: not-null never sees the missing value")


def validate(stage: str, records: list[Record]) -> StageValidation:
    with warnings.catch_warnings():  # bad records hold values their field's type refuses
        warnings.filterwarnings("ignore", "Pydantic serializer warnings", UserWarning)
        return validate_stage(stage, records, "run-test")


def failures(stage: str, records: list[Record]) -> set[Failure]:
    """What the suite quarantined in this batch: ``(entity_id, expectation, column)``, with no column for
    expectations over two or more columns (pair, compound)."""
    return set(quarantined(validate(stage, records)))


def entity(stage: str, record: Record) -> str:
    """The quarantine's name for a record (pandas holds a missing string as NaN: ``"nan"``)."""
    value = getattr(record, load(stage).ENTITY)
    return "nan" if value is None else str(value)


def quarantined(outcome: StageValidation) -> list[Failure]:
    return [(q.entity_id, q.expectation, q.column) for q in outcome.quarantined]


def failed_validations(outcome: StageValidation) -> list[tuple[str, str]]:
    return [(v.expectation, v.column) for v in outcome.validations if not v.success]


def assert_all_pass(stage: str, records: list[Record]) -> None:
    outcome = validate(stage, records)
    assert quarantined(outcome) == [], f"quarantined: {quarantined(outcome)}"
    assert failed_validations(outcome) == [], f"failed: {failed_validations(outcome)}"
    assert outcome.passed == records and outcome.success


def assert_caught(stage: str, bad: Record, good: Record, expectation: str, column: str | None) -> None:
    """``bad`` is quarantined by that expectation alone and ``good``, validated with it, passes."""
    outcome = validate(stage, [good, bad])
    expected = [(entity(stage, bad), expectation, column)]
    assert quarantined(outcome) == expected, f"quarantined {quarantined(outcome)}, expected {expected}"
    assert failed_validations(outcome) == [(expectation, column or "")], f"failed: {failed_validations(outcome)}"
    assert outcome.passed == [good]


def assert_duplicates_caught(stage: str, duplicates: list[Record], other: Record, expectation: str,
                             column: str | None) -> None:
    """GX flags every row of a repeated value, so each duplicate is quarantined; ``other`` passes."""
    outcome = validate(stage, [*duplicates, other])
    expected = [(entity(stage, d), expectation, column) for d in duplicates]
    assert quarantined(outcome) == expected, f"quarantined {quarantined(outcome)}, expected {expected}"
    assert outcome.passed == [other]


def params(cases: list[tuple]) -> list:
    """One ``pytest.param(expectation, column, update)`` per case ``(expectation, column, update[, gap])``,
    named ``column-expectation``. The update turns a good record into one only that expectation refuses;
    ``gap``, when present, says why the suite misses it today: the case is a strict xfail."""
    out = []
    for expectation, column, update, *gap in cases:
        short = re.sub(r"^expect_(?:column_pair_values_|compound_columns_|column_values?_)(?:to_)?", "", expectation)
        name = f"{column or 'columns'}-{short}"
        marks = [pytest.mark.xfail(strict=True, reason=gap[0])] if gap else []
        out.append(pytest.param(expectation, column, update, id=name, marks=marks))
    return out


def assert_every_expectation_exercised(stage: str, cases: list[tuple], *others: tuple[str, str | None]) -> None:
    """The cases (and ``others``, tested on their own) cover each expectation of the suite."""
    suite = {(e.expectation_type, getattr(e, "column", None)) for e in load(stage).expectations()}
    exercised = {(expectation, column) for expectation, column, *_ in cases} | set(others)
    assert exercised == suite, f"untested: {suite - exercised}, not in the suite: {exercised - suite}"


def value_sets(stage: str) -> dict[str, list]:
    """Column → value set of the suite's unconditional ``in_set`` expectations."""
    return {e.column: list(e.value_set) for e in load(stage).expectations()
            if e.expectation_type == IN_SET and not e.row_condition}


def conditional_value_sets(stage: str) -> dict[str, list]:
    """Column → value set of the ``in_set`` expectations that apply to some rows only (subsets)."""
    return {e.column: list(e.value_set) for e in load(stage).expectations()
            if e.expectation_type == IN_SET and e.row_condition}


def literal_values(model: type[Record], field: str) -> list:
    """The values a model field's ``Literal`` annotation allows (``None`` left out)."""
    annotation = typing.get_type_hints(model)[field]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    assert typing.get_origin(annotation) is typing.Literal, f"{model.__name__}.{field} is not a Literal"
    return list(typing.get_args(annotation))


def assert_value_sets_are_the_models(stage: str, model: type[Record]) -> None:
    sets = value_sets(stage)
    assert sets, f"{stage} has no in_set expectation"
    models = {column: literal_values(model, column) for column in sets}
    assert sets == models, f"suite {sets} != model {models}"


def candidate(n: int, **fields) -> Candidate:
    """A candidate that went through all six agents and was kept (every candidate suite passes it)."""
    return Candidate(**{**dict(
        candidate_id=f"cand-{n:04d}", paper_id="arxiv:2406.01234", target_expr=f"arxiv:2406.01234/eq-{n}",
        target_kind="equation", target_number=f"{n}", target_latex=r"\mathbb{E}[\hat\theta_n] = \theta",
        precondition_exprs=["arxiv:2406.01234/eq-1"], setting="i.i.d. samples X_1, ..., X_n with mean theta",
        symbols="theta: the mean; hat theta_n: the sample mean",
        query="Derive that the sample mean is an unbiased estimator of the mean.",
        answer="By linearity of expectation, E[(1/n) sum X_i] = (1/n) sum E[X_i] = theta.",
        answer_evidence="Proof of Lemma 3", question_evidence=["Let X_1, ..., X_n be i.i.d. with mean theta."],
        question="Let X_1, ..., X_n be i.i.d. random variables with mean theta. Show that their sample mean "
                 "is an unbiased estimator of theta.",
        verdict="derive", verdict_rationale="A short but genuine derivation from the stated assumptions.",
        verdict_confidence=0.9, grounded_score=93.5, answer_span=[1200, 1288], answer_source="main.tex",
        evidence_grounded=88.0, stage_reached="answer_filter", status="done",
        prompt_versions={"query_draft": "v3", "answer_filter": "v2"},
        models={"query_draft": "gpt-4.1-mini", "answer_filter": "gpt-4.1"}), **fields})
