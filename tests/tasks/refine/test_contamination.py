"""Decontamination: benchmark files of each format are read (and bad ones recorded, not raised),
a 13-gram overlap is found with its benchmark, item and span, a 12-word one is not."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from tasks.core.settings import BenchmarkFile, RefineSettings
from tasks.refine.contamination import BenchmarkItem, NgramIndex, find_contamination, load_benchmark
from tasks.refine.near_duplicates import Item

SETTINGS = RefineSettings()

ROWS = [  # one schema (a column per field), None where a row lacks a field, as a table has it
    {"id": "gsm-1", "question": "Tom has 3 apples and buys 4 more. How many apples does he have?", "answer": "7",
     "problem": None, "solution": None, "extra": "ignored"},
    {"id": "gsm-2", "question": None, "answer": None, "problem": "Solve $x^2 = 4$ for positive $x$.",
     "solution": "$x = 2$", "extra": "ignored"},
]


def write_jsonl(path, rows, encoding="utf-8"):
    path.write_bytes("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode(encoding))
    return path


def write_arrow_stream(path, table):
    with pa.OSFile(str(path), "wb") as sink, ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=1):
            writer.write_batch(batch)


def write_dataset_folder(folder, rows):
    """What ``datasets.Dataset.save_to_disk`` writes: Arrow IPC stream files and a state.json."""
    folder.mkdir(parents=True)
    write_arrow_stream(folder / "data-00000-of-00001.arrow", pa.Table.from_pylist(rows))
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}],
                                                   "_fingerprint": "f", "_split": None}))
    (folder / "dataset_info.json").write_text("{}")


def bench(path, **kw):
    return BenchmarkFile(name="gsm", path=str(path), **kw)


def texts(items):
    return [(i.benchmark, i.item_id, i.text) for i in items]


EXPECTED = [("gsm", "gsm-1", "Tom has 3 apples and buys 4 more. How many apples does he have?\n7"),
            ("gsm", "gsm-2", "Solve $x^2 = 4$ for positive $x$.\n$x = 2$")]


# -- loading --------------------------------------------------------------------------------------

def test_jsonl_is_read_with_ids_and_text_fields(tmp_path):
    items, problems = load_benchmark(bench(write_jsonl(tmp_path / "b.jsonl", ROWS), id_field="id"))
    assert texts(items) == EXPECTED and problems == []
    items, _ = load_benchmark(bench(tmp_path / "b.jsonl", text_fields=["question"]))
    assert texts(items) == [EXPECTED[0][:1] + ("0",) + ("Tom has 3 apples and buys 4 more. How many apples does "
                                                        "he have?",)]


def test_parquet_is_read(tmp_path):
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "b.parquet")
    items, problems = load_benchmark(bench(tmp_path / "b.parquet", id_field="id"))
    assert texts(items) == EXPECTED and problems == []


def test_a_parquet_file_is_recognised_without_its_suffix(tmp_path):
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "benchmark.data")
    assert texts(load_benchmark(bench(tmp_path / "benchmark.data", id_field="id"))[0]) == EXPECTED


def test_a_saved_hugging_face_dataset_is_read(tmp_path):
    write_dataset_folder(tmp_path / "ds", ROWS)
    items, problems = load_benchmark(bench(tmp_path / "ds", id_field="id"))
    assert texts(items) == EXPECTED and problems == []


def test_a_saved_dataset_dict_prefixes_ids_with_the_split(tmp_path):
    write_dataset_folder(tmp_path / "dd" / "train", ROWS[:1])
    write_dataset_folder(tmp_path / "dd" / "test", ROWS[1:])
    (tmp_path / "dd" / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    items, problems = load_benchmark(bench(tmp_path / "dd"))
    assert [(i.item_id, i.text) for i in items] == [("train/0", EXPECTED[0][2]), ("test/0", EXPECTED[1][2])]
    assert problems == []


def test_a_missing_file_is_recorded(tmp_path):
    assert load_benchmark(bench(tmp_path / "nowhere.jsonl")) == (
        [], [("benchmark_missing_file", f"gsm ({tmp_path / 'nowhere.jsonl'}): no such file or folder")])


def test_rows_without_a_text_field_are_counted_once(tmp_path):
    rows = [ROWS[0], {"id": "x"}, ROWS[1], {"question": None, "other": "y"}]
    items, problems = load_benchmark(bench(write_jsonl(tmp_path / "b.jsonl", rows)))
    assert [i.item_id for i in items] == ["0", "2"]
    assert [reason for reason, _ in problems] == ["benchmark_missing_field"]
    assert "2 rows have none of the text fields" in problems[0][1] and "(rows 1, 3)" in problems[0][1]


def test_a_table_without_text_columns_is_recorded(tmp_path):
    pq.write_table(pa.Table.from_pylist([{"id": 1, "body": "x"}]), tmp_path / "b.parquet")
    items, problems = load_benchmark(bench(tmp_path / "b.parquet"))
    assert items == [] and [r for r, _ in problems] == ["benchmark_missing_field"]
    assert "['id', 'body']" in problems[0][1] and "its 1 rows were skipped" in problems[0][1]


def test_a_file_in_another_encoding_is_recorded_and_read_with_replacement(tmp_path):
    rows = [{"question": "Le café coûte 3 euros."}, {"question": "plain"}]
    items, problems = load_benchmark(bench(write_jsonl(tmp_path / "b.jsonl", rows, encoding="latin-1")))
    assert [i.text for i in items] == ["Le caf\ufffd co\ufffdte 3 euros.", "plain"]
    assert [r for r, _ in problems] == ["benchmark_encoding_error"]
    assert "1 lines are not utf-8 (lines 0;" in problems[0][1] and "errors='replace'" in problems[0][1]
    items, problems = load_benchmark(bench(tmp_path / "b.jsonl", encoding="latin-1"))
    assert items[0].text == "Le café coûte 3 euros." and problems == []


def test_garbage_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"question": "one"}\n\x00\x01garbage\n[1, 2]\n\n{"question": "two"}\n{"question": "thr')
    items, problems = load_benchmark(bench(path))
    assert [i.text for i in items] == ["one", "two"]
    assert [r for r, _ in problems] == ["benchmark_unreadable"]
    assert problems[0][1].startswith(f"gsm ({path}): 3 rows are not JSON objects and were skipped (rows 1, 2, 5;")


def test_a_garbage_parquet_file_is_unreadable(tmp_path):
    (tmp_path / "b.parquet").write_bytes(b"PAR1" + bytes(range(256)) * 4)
    items, problems = load_benchmark(bench(tmp_path / "b.parquet"))
    assert items == [] and [r for r, _ in problems] == ["benchmark_unreadable"]


def test_a_truncated_arrow_stream_keeps_the_rows_before_the_cut(tmp_path):
    rows = [{"question": f"question {k}"} for k in range(20)]
    write_dataset_folder(tmp_path / "ds", rows)
    data = tmp_path / "ds" / "data-00000-of-00001.arrow"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    items, problems = load_benchmark(bench(tmp_path / "ds"))
    assert 0 < len(items) < 20 and [i.text for i in items] == [f"question {k}" for k in range(len(items))]
    assert [r for r, _ in problems] == ["benchmark_unreadable"]
    assert f"the {len(items)} items read before it are used" in problems[0][1]


def test_a_state_file_cannot_point_outside_its_folder(tmp_path):
    write_dataset_folder(tmp_path / "ds", ROWS)
    write_arrow_stream(tmp_path / "secret.arrow", pa.Table.from_pylist([{"question": "secret"}]))
    (tmp_path / "ds" / "state.json").write_text(json.dumps({"_data_files": [{"filename": "../secret.arrow"}]}))
    items, _ = load_benchmark(bench(tmp_path / "ds"))
    assert "secret" not in [i.text for i in items] and len(items) == 2


def test_the_size_limit_stops_the_reading(tmp_path):
    rows = [{"question": f"question number {k:04d}"} for k in range(1000)]  # 37 bytes a line
    items, problems = load_benchmark(bench(write_jsonl(tmp_path / "b.jsonl", rows)), max_bytes=370)
    assert len(items) == 10
    assert problems == [("benchmark_too_large", f"gsm ({tmp_path / 'b.jsonl'}): stopped reading at line 11: more "
                                                f"than 370 bytes; the 10 items read before it are used")]


def test_one_endless_line_is_not_read_past_the_limit(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"question": "' + b"x" * 30_000_000 + b'"}\n')
    tracemalloc.start()
    items, problems = load_benchmark(bench(path), max_bytes=10_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert items == [] and [r for r, _ in problems] == ["benchmark_too_large"]
    assert peak < 1_000_000  # the 30 MB line was never held


def test_the_size_limit_holds_for_arrow_folders(tmp_path):
    write_dataset_folder(tmp_path / "ds", [{"question": f"question {k}"} for k in range(100)])
    items, problems = load_benchmark(bench(tmp_path / "ds"), max_bytes=500)
    assert 0 < len(items) < 100 and [r for r, _ in problems] == ["benchmark_too_large"]


# -- finding --------------------------------------------------------------------------------------

BENCH_TEXT = (r"Let $f(x) = x^{3} - 3x + 1$ on the real line. Find all critical points of $f$ and decide for "
              r"each whether it is a local minimum or a local maximum, then give the global minimum on $[0, 2]$.")
BENCH_ITEMS = [BenchmarkItem("math", "algebra/17", "What is the sum of the first hundred positive integers?"),
               BenchmarkItem("aime", "2024-I-5", BENCH_TEXT)]


def test_a_13_gram_overlap_is_found_with_its_benchmark_item_and_span():
    index = NgramIndex(BENCH_ITEMS, SETTINGS.ngram)
    # 20 consecutive words of the AIME item (with LaTeX spacing of its own) inside a new problem
    candidate = (r"We study cubic maps. Find all critical points of $\,f\,$ and decide for each whether it is a "
                 r"local minimum or a local maximum, and prove it.")
    found = find_contamination([Item("c1", candidate), Item("c2", "Something else entirely.")], index, SETTINGS,
                               run_id="r1")
    assert [(c.candidate_id, c.benchmark, c.item_id, c.method, c.run_id) for c in found] == [
        ("c1", "aime", "2024-I-5", "ngram", "r1")]
    assert found[0].matched_span == ("find all critical points of f and decide for each whether it is a local "
                                     "minimum or a local maximum")
    assert found[0].similarity == round(8 / 15, 3)  # 8 of the candidate's 15 13-grams are the item's


def test_a_12_word_overlap_is_not_a_hit():
    index = NgramIndex(BENCH_ITEMS, SETTINGS.ngram)
    twelve = "Here we find all critical points of f and decide for each whether it holds always."
    assert find_contamination([Item("c", twelve)], index, SETTINGS) == []
    thirteen = twelve.replace("it holds", "it is holds")
    assert [c.matched_span for c in find_contamination([Item("c", thirteen)], index, SETTINGS)] == [
        "find all critical points of f and decide for each whether it is"]


def test_an_index_counts_each_ngram_once_and_names_the_first_item():
    items = [BenchmarkItem("a", "1", BENCH_TEXT), BenchmarkItem("b", "2", BENCH_TEXT + " Also x.")]
    index = NgramIndex(items, 13)
    assert len(index) == len(NgramIndex(items[1:], 13))
    found = find_contamination([Item("c", BENCH_TEXT)], index, SETTINGS)
    assert [(c.benchmark, c.item_id, c.similarity) for c in found] == [("a", "1", 1.0)]


def test_embedding_contamination_reports_the_item_opening():
    index = NgramIndex(BENCH_ITEMS, SETTINGS.ngram)
    vectors = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    bench_vectors = np.array([[0.0, 0.0, 1.0], [0.0, 0.999, 0.0447]], dtype=np.float32)
    bench_vectors /= np.linalg.norm(bench_vectors, axis=1, keepdims=True)
    found = find_contamination([Item("p", "A paraphrase of the cubic problem."), Item("q", "Unrelated.")],
                               index, SETTINGS, vectors, bench_vectors)
    assert [(c.candidate_id, c.item_id, c.method, c.similarity) for c in found] == [
        ("p", "2024-I-5", "embedding", 0.999)]
    assert found[0].matched_span == BENCH_TEXT[:200]


def test_a_pair_found_both_ways_is_reported_once_as_ngram():
    index = NgramIndex(BENCH_ITEMS, SETTINGS.ngram)
    vectors = np.array([[0.0, 1.0]], dtype=np.float32)
    bench_vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    found = find_contamination([Item("c", BENCH_TEXT)], index, SETTINGS, vectors, bench_vectors)
    assert [(c.item_id, c.method, c.similarity) for c in found] == [("2024-I-5", "ngram", 1.0)]


def test_a_shared_formula_alone_is_not_contamination():
    """Thirteen tokens of two common formulas are shared by unrelated texts: not a hit."""
    formulas = r"$\sum_{i=1}^n z_i \le \sum_{i=1}^m w_i$ and $\mathbb{E}[c] = \int_0^1 u(x) dx$"
    bench = [BenchmarkItem("b", "1", f"How many ways can a committee be chosen when {formulas} holds?")]
    candidate = Item("c", f"For the discounted return we show {formulas} under the stated mixing assumption.")
    assert find_contamination([candidate], NgramIndex(bench, 13), SETTINGS) == []
