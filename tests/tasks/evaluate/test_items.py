"""Dataset files in our export format and STORM-BORN's; bad rows are skipped with a reason."""

import json

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.evaluate import items


def write_jsonl(path, rows, extra_lines=()):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "".join(extra_lines))
    return path


def test_storm_borns_two_files_merge_into_items(tmp_path):
    write_jsonl(tmp_path / "derivation.jsonl", [
        {"paper": "P1", "question": "Derive Q1.", "whole_label": "Since a = b, \\[ y = 2x \\]"}])
    (tmp_path / "mc.json").write_text(json.dumps([
        {"paper": "P1", "question": "Derive Q1.", "A": "w", "B": "right", "C": "w2", "D": "w3", "ground-truth": "B"}]))
    loaded = items.read_dataset(tmp_path)
    assert loaded.skipped == []
    [item] = loaded.items
    assert item.choices == ("w", "right", "w2", "w3") and item.answer_index == 1
    assert item.answer.startswith("Since") and item.paper == "P1"


def test_our_export_folder_reads_both_variants_with_paper_month(tmp_path):
    d = tmp_path / "jsonl" / "derivation"
    m = tmp_path / "jsonl" / "multiple_choice"
    d.mkdir(parents=True)
    m.mkdir(parents=True)
    write_jsonl(d / "test.jsonl", [{"id": "c1", "paper": "T", "paper_id": "arxiv:1", "question": "q",
                                     "whole_label": "x = 1", "paper_date": "2026-10-04", "target": "x = 1"}])
    write_jsonl(m / "test.jsonl", [{"id": "c1", "question": "q", "choices": ["x = 2", "x = 1"], "answer_index": 1}])
    [item] = items.read_dataset(tmp_path).items
    assert (item.item_id, item.paper_month, item.target, item.answer_index) == ("c1", "2026-10", "x = 1", 1)


def test_bad_rows_are_skipped_with_reasons_and_the_rest_is_read(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        {"paper": "P", "question": "ok", "whole_label": "a = b"},
        {"paper": "P", "question": "no answer"},
        {"title": "another schema", "text": "…"},
        {"paper": "P", "question": "q", "A": "1", "B": "2", "C": "3", "D": "4", "ground-truth": "E"},
        {"id": "c9", "question": "q", "choices": ["1", "2"], "answer_index": 5},
        ["not", "an", "object"],
    ], extra_lines=["{broken json\n"])
    loaded = items.read_dataset(path)
    assert [i.question for i in loaded.items] == ["ok"]
    assert sorted(s.reason for s in loaded.skipped) == ["bad_answer_key", "bad_answer_key", "invalid_json",
                                                        "missing_field", "unknown_schema", "unknown_schema"]
    assert any(s.where == "mixed.jsonl:7" for s in loaded.skipped)


def test_parquet_files_are_read(tmp_path):
    pq.write_table(pa.Table.from_pylist([{"id": "c1", "question": "q", "whole_label": "y = 2"}]), tmp_path / "d.parquet")
    assert [i.item_id for i in items.read_dataset(tmp_path / "d.parquet").items] == ["c1"]


def test_fields_of_the_wrong_type_or_range_are_skipped_not_crashed_on(tmp_path):
    path = write_jsonl(tmp_path / "typed.jsonl", [
        {"id": "a", "question": "q", "whole_label": {"not": "text"}},
        {"id": 7, "paper": "P", "question": "q", "A": "1", "B": "2", "ground-truth": "A"},
        {"id": "c", "question": "q", "whole_label": "x = 1", "choices": ["1", "2"], "answer_index": 5},
        {"id": "d", "question": "q", "choices": ["1", "2"], "answer_index": True},
        {"id": "e", "question": "q", "choices": [str(i) for i in range(11)], "answer_index": 0},
        {"id": "f", "question": "q", "choices": "AB", "answer_index": 0},
    ])
    loaded = items.read_dataset(path)
    assert [i.item_id for i in loaded.items] == ["7"]  # an integer id is read as text
    assert sorted(s.reason for s in loaded.skipped) == ["bad_answer_key", "bad_answer_key", "bad_field",
                                                        "bad_field", "bad_field"]
