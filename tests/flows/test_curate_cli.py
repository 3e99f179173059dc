"""The admin's path through the CLI: accounts, assignment, agreement, selection, export."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flows.cli import app
from tasks.core.records import PRINCIPLES
from tasks.curate import review
from tests.factories import candidate_catalog

runner = CliRunner()


def test_add_reviewers_assign_review_stats_select_export(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("STORMBORN_HOME", settings.home)
    ids = candidate_catalog(settings, papers=3, per_paper=2, broken=False)
    tokens = {}
    for name in ("ana", "ben"):
        result = runner.invoke(app, ["review", "add-reviewer", name])
        assert result.exit_code == 0, result.output
        tokens[name] = result.stdout.strip().splitlines()[-1]
    assert runner.invoke(app, ["review", "add-reviewer", "boss", "--admin"]).exit_code == 0
    again = runner.invoke(app, ["review", "add-reviewer", "ana"])
    assert again.exit_code == 2 and "--rotate" in again.output

    result = runner.invoke(app, ["review", "assign"])
    assert result.exit_code == 0 and "6 new candidates loaded; 12 assignments made" in result.stdout

    db = review.open_db(settings)
    for i, cid in enumerate(ids):
        for name in ("ana", "ben"):
            who = review.authenticate(db, tokens[name])
            score = 5 if i % 2 == 0 else 2
            review.submit(db, who, cid, review.ReviewForm(
                **{p: score for p in PRINCIPLES}, decision="keep" if i % 2 == 0 else "reject",
                submission_id=f"s-{cid}-{name}"))

    stats = runner.invoke(app, ["review", "stats", "--format", "json"])
    assert stats.exit_code == 0
    shown = json.loads(stats.stdout)
    assert shown["units"] == 6 and shown["alpha"]["decision"] == 1.0
    assert {p["reviewer"]: p["reviewed"] for p in shown["progress"]} == {"ana": 6, "ben": 6}
    table = runner.invoke(app, ["review", "stats"])
    assert "Krippendorff" in table.stdout and "ana: 6/6 reviewed" in table.stdout

    chosen = runner.invoke(app, ["select", "--n", "3", "--per-paper", "1"])
    assert chosen.exit_code == 0, chosen.output
    assert "3 chosen from 3 papers" in chosen.stdout and "rejected_by_experts 3" in chosen.stdout

    out = tmp_path / "release"
    exported = runner.invoke(app, ["export", "--out", str(out), "--format", "jsonl,parquet"])
    assert exported.exit_code == 0, exported.output
    rows = [json.loads(line) for split in ("train", "test")
            for line in (out / "jsonl" / "derivation" / f"{split}.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and len({r["paper_id"] for r in rows}) == 3
    assert "licence check" in exported.stdout and (out / "README.md").exists()
    assert not (out / "hf").exists()

    # The review database is lost (another working directory, a deleted file): the lake still has
    # the reviews, select refuses to replace them, and restore brings them back.
    lost = tmp_path / "elsewhere" / "review.sqlite"
    monkeypatch.setenv("STORMBORN_REVIEW__DB", str(lost))
    refused = runner.invoke(app, ["select", "--n", "3"])
    said = " ".join(refused.output.split())  # the console wraps long lines
    assert refused.exit_code == 2 and "refusing to replace them" in said
    assert "stormborn review restore" in said and "Traceback" not in said
    restored = runner.invoke(app, ["review", "restore"])
    assert restored.exit_code == 0, restored.output
    assert "restored 12 reviews" in restored.stdout and "ana: " in restored.stdout
    assert runner.invoke(app, ["select", "--n", "3", "--per-paper", "1"]).exit_code == 0
