"""The run lifecycle every flow uses: stage results on the record, failed runs marked, artifacts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from prefect import flow

from tasks.io.runs import StageResult, run_lifecycle
from tasks.io.storage import query

pytestmark = pytest.mark.usefixtures("prefect_api")


def runs(settings):
    return query(settings, "SELECT run_id, flow, status, listed, expressions, rejected, quarantined, cost_usd, "
                           "stage_seconds FROM runs ORDER BY started_at").to_dict("records")


def test_stages_add_up_on_the_run_record(settings):
    @flow(name="lifecycle-probe")
    def probe():
        with run_lifecycle(settings, "lifecycle-probe") as run:
            run.add(StageResult("one", counts={"listed": 5, "cost_usd": 0.25}, rejects=Counter({"one/bad": 2}),
                                quarantined=1, seconds={"one": 0.5}))
            run.add(StageResult("two", counts={"expressions": 7, "cost_usd": 0.5}, rejects=Counter({"two/bad": 1}),
                                stopped=True))
        return run.record

    record = probe()
    assert (record.status, record.listed, record.expressions, record.rejected, record.quarantined) == \
        ("stopped", 5, 7, 3, 1)
    assert record.cost_usd == pytest.approx(0.75) and record.finished_at is not None
    assert {"one", "publish", "data_docs"} <= set(record.stage_seconds)
    (stored,) = runs(settings)
    assert (stored["status"], stored["rejected"]) == ("stopped", 3)


def test_an_exception_marks_the_run_failed_and_propagates(settings):
    @flow(name="lifecycle-crash")
    def crash():
        with run_lifecycle(settings, "lifecycle-crash") as run:
            run.add(StageResult("one", counts={"listed": 2}))
            raise RuntimeError("stage two broke")

    with pytest.raises(RuntimeError, match="stage two broke"):
        crash()
    (stored,) = runs(settings)
    assert (stored["flow"], stored["status"], stored["listed"]) == ("lifecycle-crash", "failed", 2)


def test_the_summary_links_to_the_data_docs_and_shows_no_secret(settings, monkeypatch):
    import prefect.artifacts

    from tasks.core.settings import load_settings

    summaries = []
    monkeypatch.setattr(prefect.artifacts, "create_markdown_artifact",
                        lambda key, markdown, **_: summaries.append(markdown))
    secret = load_settings(home=settings.home, s3={"access_key_id": "AKIDEXAMPLE",
                                                   "secret_access_key": "s3cr3t-value"},
                           dashboard={"host": "10.0.0.5", "port": 9000})

    @flow(name="lifecycle-docs")
    def docs():
        with run_lifecycle(secret, "lifecycle-docs") as run:
            run.add(StageResult("one", counts={"listed": 1}))
        return run.record

    docs()
    (summary,) = summaries
    index = f"{secret.lake_url}/data_docs/index.html"
    assert f"`{index}`" in summary and "http://10.0.0.5:9000/data-docs/index.html" in summary
    assert Path(index).exists()  # every suite, even without validations in the run
    assert "s3cr3t-value" not in summary and "AKIDEXAMPLE" not in summary
