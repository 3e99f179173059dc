"""Skip-if-unchanged: keys follow inputs and code, not run ids or clocks; misses are safe."""

from __future__ import annotations

from tasks.core.records import Paper
from tasks.io.memo import Memo, code_fingerprint, fingerprint
from tasks.io.storage import Lake


def test_a_memo_is_recalled_only_for_the_same_inputs_and_code(settings):
    lake = Lake.from_settings(settings)
    memo = Memo(lake, "parsed", code=("tasks.documents.read",))
    assert memo.recall(("pdf", "abc"), "pdf", "abc") is None
    memo.remember(("pdf", "abc"), {"ok": True}, "pdf", "abc")
    assert memo.recall(("pdf", "abc"), "pdf", "abc") == {"ok": True}
    assert memo.recall(("pdf", "abc"), "pdf", "other") is None  # other inputs: run again
    assert lake.exists(lake.path("state", "parsed", "pdf", "abc.json"))  # readable layout, one file per entity
    other_code = Memo(lake, "parsed", code=("tasks.documents.eprint",))
    assert other_code.recall(("pdf", "abc"), "pdf", "abc") is None  # other code: run again


def test_a_changed_source_file_changes_the_code_fingerprint(tmp_path, monkeypatch):
    package = tmp_path / "memo_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "step.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = code_fingerprint("memo_probe")
    (package / "step.py").write_text("X = 2\n")
    code_fingerprint.cache_clear()
    assert code_fingerprint("memo_probe") != before
    assert code_fingerprint("memo_probe.step") != code_fingerprint("memo_probe")


def test_records_are_fingerprinted_without_run_ids_and_timestamps():
    paper = Paper(paper_id="arxiv:1", source="arxiv", title="T", run_id="run-1")
    again = paper.model_copy(update={"run_id": "run-2", "ingested_at": paper.ingested_at.replace(year=2020)})
    assert fingerprint([paper]) == fingerprint([again])
    assert fingerprint([paper]) != fingerprint([paper.model_copy(update={"title": "U"})])


def test_an_unreadable_memo_is_a_miss_and_is_rewritten(settings):
    lake = Lake.from_settings(settings)
    memo = Memo(lake, "license")
    lake.write_bytes(lake.path("state", "license", "arxiv_1.json"), b"{half a file")
    assert memo.recall("arxiv:1", "arxiv:1") is None
    memo.remember("arxiv:1", {"license": None}, "arxiv:1")
    assert memo.recall("arxiv:1", "arxiv:1") == {"license": None}


def test_answers_recorded_before_memos_had_keys_are_still_recalled(settings):
    """A lake written by earlier code keeps its fetch and licence answers: no second download."""
    lake = Lake.from_settings(settings)
    lake.put_json({"url": "https://arxiv.org/pdf/1", "sha256": "ab" * 32, "bytes": 3}, "state", "fetch", "pdf",
                  "arxiv_1.json")
    memo = Memo(lake, "fetch")

    def same_url(url):
        return lambda old: old if old.get("url") == url else None

    url = "https://arxiv.org/pdf/1"
    assert memo.recall(("pdf", "arxiv:1"), url, legacy=same_url(url))["sha256"] == "ab" * 32
    assert memo.recall(("pdf", "arxiv:1"), "https://other", legacy=same_url("https://other")) is None
    assert memo.recall(("pdf", "arxiv:1"), url) is None  # no legacy reader: a miss
