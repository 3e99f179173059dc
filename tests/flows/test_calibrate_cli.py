"""``stormborn evaluate calibrate``: the graders against the experts and the judge against the
symbolic check, as a table and as JSON."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.tasks.evaluate import calibration_lake as world

runner = CliRunner()


def test_calibrate_prints_agreement_and_corrected_pass_rates(settings, monkeypatch):
    monkeypatch.setenv("STORMBORN_HOME", settings.home)
    world.calibration_lake(settings)

    shown = runner.invoke(app, ["evaluate", "calibrate", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    keep = {k["stage"]: k for k in report["keep"]}
    assert keep["joint_score"]["true_positive_rate"] == 1.0 and keep["candidate_score"]["false_positive_rate"] == 0.5
    assert {p["principle"] for p in report["principles"] if p["stage"] == "candidate_score"} == \
        {"problem_clarity", "problem_difficulty"}
    (judge,) = report["judges"]
    assert judge["sensitivity"] == pytest.approx(0.9) and judge["specificity"] == pytest.approx(0.8)
    rates = {r["model"]: r for r in report["pass_rates"]}
    assert rates["m1"]["raw_pass_rate"] == pytest.approx(0.55) and rates["m1"]["corrected_pass_rate"] == pytest.approx(0.5)

    # A higher joint-score bar and a calibration set judged too small change what is reported.
    stricter = json.loads(runner.invoke(app, ["evaluate", "calibrate", "--format", "json", "--joint-keep", "4.5",
                                              "--min-per-class", "50"]).stdout)
    joint = next(k for k in stricter["keep"] if k["stage"] == "joint_score")
    assert joint["threshold"] == 4.5 and joint["true_positive_rate"] < 1.0
    assert {r["uncorrected_reason"] for r in stricter["pass_rates"]} == {"too_few_reference_answers"}

    table = runner.invoke(app, ["evaluate", "calibrate"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    text = table.stdout
    for expected in ("against the experts", "κ quadratic", "α interval", "problem_clarity", world.JOINT_MODEL,
                     "TPR", "FPR", "sensitivity", "specificity", world.JUDGE_PROMPT, "Rogan–Gladen", "0.550", "0.500",
                     "0.620", "0.600", "judge_calibration"):
        assert expected in text, expected


def test_calibrate_on_a_fresh_lake_says_there_is_nothing_yet(settings, monkeypatch):
    monkeypatch.setenv("STORMBORN_HOME", settings.home)
    shown = runner.invoke(app, ["evaluate", "calibrate"])
    assert shown.exit_code == 0, shown.output
    assert "Nothing to calibrate yet" in " ".join(shown.stdout.split())
    empty = json.loads(runner.invoke(app, ["evaluate", "calibrate", "--format", "json"]).stdout)
    assert empty["principles"] == [] and empty["pass_rates"] == [] and empty["notes"]
    wrong = runner.invoke(app, ["evaluate", "calibrate", "--format", "csv"])
    assert wrong.exit_code == 2 and "table or json" in wrong.output
