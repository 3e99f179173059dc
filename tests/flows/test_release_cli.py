"""The release path through the CLI: export --release, retire, the next release, releases, sql."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flows.cli import app
from tasks.curate.selection import select
from tests.factories import candidate_catalog, keep_everything

runner = CliRunner()


def _selected(settings, n):
    ids = candidate_catalog(settings, papers=3, per_paper=2, broken=False)
    keep_everything(settings, ids)
    select(settings, n=n)
    return ids


def _said(result) -> str:
    return " ".join(result.output.split())  # the console wraps long lines


def test_release_retire_and_the_next_release(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("STORMBORN_HOME", settings.home)
    _selected(settings, n=3)

    first = runner.invoke(app, ["export", "--release", "2026-11", "--format", "jsonl"])
    assert first.exit_code == 0, first.output
    said = _said(first)
    assert "release 2026-11 (previous: none): 3 active, 3 added, 0 retired" in said and "lake copy:" in said
    out = settings.home + "/releases/2026-11"  # the default folder of a release
    manifest = json.loads(open(f"{out}/manifest.json").read())
    assert manifest["release"] == "2026-11" and len(manifest["added"]) == 3
    item = manifest["added"][0]

    again = runner.invoke(app, ["export", "--release", "2026-11"])
    assert again.exit_code == 2 and "pass --force" in _said(again) and "Traceback" not in again.output
    older = runner.invoke(app, ["export", "--release", "2026-10", "--out", str(tmp_path / "x")])
    assert older.exit_code == 2 and "older than the latest release 2026-11" in _said(older)
    bad = runner.invoke(app, ["export", "--release", "2026-13"])
    assert bad.exit_code == 2 and "like 2026-12" in _said(bad)
    assert runner.invoke(app, ["export"]).exit_code == 2  # neither --out nor --release
    assert runner.invoke(app, ["export", "--out", str(tmp_path / "y"), "--force"]).exit_code == 2

    retired = runner.invoke(app, ["retire", item, "--reason", "wrong_key", "--detail", "key is wrong", "--by", "lee"])
    assert retired.exit_code == 0, retired.output
    assert f"retired {item} (wrong_key)" in retired.stdout
    twice = runner.invoke(app, ["retire", item, "--reason", "trivial"])
    assert twice.exit_code == 2 and "already retired" in _said(twice)
    unknown = runner.invoke(app, ["retire", "nope", "--reason", "trivial"])
    assert unknown.exit_code == 2 and "no item 'nope'" in _said(unknown)
    reason = runner.invoke(app, ["retire", item, "--reason", "boring"])
    assert reason.exit_code == 2 and "unknown reason" in _said(reason)

    select(settings, n=5)
    second = runner.invoke(app, ["export", "--release", "2026-12", "--out", str(tmp_path / "r2"),
                                 "--format", "jsonl,parquet"])
    assert second.exit_code == 0, second.output
    assert "release 2026-12 (previous: 2026-11): 4 active, 2 added, 1 retired" in _said(second)
    manifest = json.loads((tmp_path / "r2" / "manifest.json").read_text())
    assert manifest["retired"] == [item] and manifest["retired_items"][0]["retire_reason"] == "wrong_key"

    listed = runner.invoke(app, ["releases"])
    assert listed.exit_code == 0 and "2026-11" in listed.stdout and "2026-12" in listed.stdout
    sql = runner.invoke(app, ["sql", "--format", "json", "SELECT release, items_retired FROM releases ORDER BY release"])
    assert sql.exit_code == 0, sql.output
    assert json.loads(sql.stdout) == [{"release": "2026-11", "items_retired": 0},
                                      {"release": "2026-12", "items_retired": 1}]
    forced = runner.invoke(app, ["export", "--release", "2026-12", "--out", str(tmp_path / "r2b"), "--force"])
    assert forced.exit_code == 0, forced.output
