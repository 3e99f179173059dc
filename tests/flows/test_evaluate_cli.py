"""``stormborn evaluate`` on a dataset file, then ``stormborn audit``: the flow lands graded answers,
the catalog's views show them, and flagged items reach the review app's adjudication queue."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks.curate import audit_queue, review
from tasks.io.storage import query
from tests.llm_server import Script, ScriptedLLM
from tests.tasks.evaluate.test_steps import catalogue

pytestmark = pytest.mark.usefixtures("prefect_api")
runner = CliRunner()


def test_evaluate_a_dataset_file_then_audit(settings, monkeypatch, tmp_path):
    items, key = catalogue(6, planted=2)
    path = tmp_path / "storm-born.jsonl"
    rows = [{"id": i.item_id, "paper": "A paper", "paper_id": i.paper_id, "paper_date": f"{i.paper_month}-01",
             "question": i.question, "whole_label": i.answer, "target": i.target, "choices": list(i.choices),
             "answer_index": i.answer_index} for i in items]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"title": "not an item"}\n')
    monkeypatch.setenv("STORMBORN_HOME", settings.home)
    monkeypatch.setenv("STORMBORN_EVALUATE__MODELS", json.dumps({"scripted-p90": {"training_cutoff": "2026-09"}}))
    with ScriptedLLM(Script(answer_key=key)) as server:
        monkeypatch.setenv("STORMBORN_LLM__BASE_URL", server.base_url)
        result = runner.invoke(app, ["evaluate", "--model", "scripted-p90", "--model", "scripted-french",
                                     "--dataset", str(path), "--samples", "2", "--format", "mc,options_only,symbolic",
                                     "--output", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["run"]["evaluations"] == 6 * 2 * 3 * 2 and report["skipped"] == {"unknown_schema": 1}
    french = next(a for a in report["accuracy"] if a["model"] == "scripted-french" and a["format"] == "mc")
    assert french["accuracy"] == round(4 / 6, 4)  # right everywhere but on the two planted keys
    months = {m["paper_month"]: m["after_cutoff"] for m in report["accuracy_by_month"] if m["model"] == "scripted-p90"}
    assert months == {"2026-09": False, "2026-10": True, "2026-11": True}

    rates = query(settings, "SELECT model, format, count(*) AS n FROM solve_rates GROUP BY ALL")
    assert len(rates) == 2 * 3 and set(rates.n) == {6}
    assert len(query(settings, "SELECT * FROM accuracy_by_month")) > 0

    audited = runner.invoke(app, ["audit", "--format", "json"])
    assert audited.exit_code == 0, audited.output
    shown = json.loads(audited.stdout)
    assert {f["item_id"] for f in shown["flags"] if f["flag"] == "all_fail"} == {"item-004", "item-005"}
    assert shown["sent"] >= 2
    queue = audit_queue.audit_queue(review.open_db(settings))
    assert {"item-004", "item-005"} <= {q["item_id"] for q in queue}
    assert query(settings, "SELECT count(*) AS n FROM item_audits WHERE flag = 'all_fail'").n[0] == 2


def test_evaluation_at_a_release_uses_the_items_active_at_it(settings, monkeypatch):
    from tests.flows.test_release_cli import _selected

    monkeypatch.setenv("STORMBORN_HOME", settings.home)
    with ScriptedLLM() as server:
        monkeypatch.setenv("STORMBORN_LLM__BASE_URL", server.base_url)
        _selected(settings, n=3)
        assert runner.invoke(app, ["export", "--release", "2026-11", "--format", "jsonl"]).exit_code == 0
        manifest = json.loads(open(f"{settings.home}/releases/2026-11/manifest.json").read())
        retired = manifest["added"][0]
        assert runner.invoke(app, ["retire", retired, "--reason", "wrong_key"]).exit_code == 0
        assert runner.invoke(app, ["export", "--release", "2026-12", "--format", "jsonl"]).exit_code == 0

        def evaluated(*release):
            result = runner.invoke(app, ["evaluate", "--model", "scripted-always-a", "--samples", "1",
                                         "--format", "mc,options_only", "--output", "json", *release])
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout)

        latest = evaluated()
        earlier = evaluated("--release", "2026-11")
    assert latest["run"]["items_evaluated"] == 2 and earlier["run"]["items_evaluated"] == 3
    assert sum(a["answers"] for a in latest["accuracy"]) == 2 * 2
    assert sum(a["answers"] for a in earlier["accuracy"]) == 3 * 2
    # an item's answer is a fact about the item: evaluating it at another release reuses its row
    assert query(settings, "SELECT count(DISTINCT item_id) AS n FROM evaluations").n[0] == 3
