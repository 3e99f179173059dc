"""Decontamination: candidates that overlap an item of a benchmark the user configured.

Input: ``settings.benchmarks`` (``BenchmarkFile``: a JSONL file, a Parquet file or a local
Hugging Face dataset folder as ``save_to_disk`` writes it, with its text fields, id field and
encoding), read by ``load_benchmark``; the candidates as ``Item`` (``item_id``, ``text`` =
question + answer); optionally L2-normalised embeddings of both.
Output: ``Contamination`` rows (``candidate_id``, ``benchmark``, ``item_id``, ``method``,
``matched_span``, ``similarity``), one per (candidate, benchmark item): each candidate named is
dropped as ``dropped/contaminated``. ``load_benchmark`` also returns its problems as
``(reason, detail)`` pairs for ``rejects``: ``benchmark_missing_file``, ``benchmark_unreadable``,
``benchmark_encoding_error``, ``benchmark_missing_field``, ``benchmark_too_large``; the stage
records them and goes on with what could be read.

An n-gram hit is ``settings.ngram`` (13) consecutive normalised tokens (``near_duplicates.
normalise``: LaTeX spacing, sizing and braces do not count) shared with a benchmark item; an
embedding hit is a cosine of at least ``settings.contamination_similarity``. No benchmark data is
bundled.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from tasks.core.records import Contamination
from tasks.core.settings import BenchmarkFile, RefineSettings
from tasks.refine.near_duplicates import Item, cosine_pairs, ngram_hashes, normalise

DEFAULT_MAX_BYTES = 1 << 30
"""Bytes read from one benchmark at most (JSONL lines, or Arrow/Parquet batches of the columns
read): a benchmark is thousands of problems, a gigabyte is a mistake or an attack."""
SPAN_CHARS = 300
"""The matched span is cut to this many characters."""
EMBEDDING_SPAN_CHARS = 200
"""An embedding hit shows the benchmark item's opening, this long."""
EMBEDDING_HITS_PER_CANDIDATE = 5
"""At most this many benchmark items reported per candidate by embeddings (the most similar)."""
FIRST_ROWS_SHOWN = 5
"""Row numbers named in a problem's detail (the count covers all)."""
BATCH_ROWS = 4096


@dataclass(frozen=True, slots=True)
class BenchmarkItem:
    benchmark: str
    item_id: str
    text: str


# -- reading a benchmark --------------------------------------------------------------------------

@dataclass
class _Reading:
    """What one benchmark read produced so far."""

    bench: BenchmarkFile
    max_bytes: int
    items: list[BenchmarkItem] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    bytes_read: int = 0
    missing_field_rows: list[int] = field(default_factory=list)
    bad_rows: list[int] = field(default_factory=list)
    bad_row_error: str = ""

    def problem(self, reason: str, detail: str) -> None:
        self.problems.append((reason, f"{self.bench.name} ({self.bench.path}): {detail}"))

    def over_limit(self, more: int, where: str) -> bool:
        """Count ``more`` bytes; past the limit record it once and say stop."""
        self.bytes_read += more
        if self.bytes_read <= self.max_bytes:
            return False
        self.problem("benchmark_too_large", f"stopped reading at {where}: more than {self.max_bytes} bytes; "
                                            f"the {len(self.items)} items read before it are used")
        return True

    def add(self, row: dict[str, Any], row_number: int, id_prefix: str = "") -> None:
        texts = [_as_text(row.get(f)) for f in self.bench.text_fields]
        text = "\n".join(t for t in texts if t)
        if not text:
            self.missing_field_rows.append(row_number)
            return
        raw_id = row.get(self.bench.id_field) if self.bench.id_field else None
        item_id = str(raw_id) if raw_id not in (None, "") else str(row_number)
        self.items.append(BenchmarkItem(self.bench.name, id_prefix + item_id, text))

    def finish(self) -> None:
        if self.bad_rows:
            self.problem("benchmark_unreadable", f"{len(self.bad_rows)} rows are not JSON objects and were skipped "
                                                 f"(rows {_first(self.bad_rows)}; {self.bad_row_error})")
        if self.missing_field_rows:
            self.problem("benchmark_missing_field",
                         f"{len(self.missing_field_rows)} rows have none of the text fields "
                         f"{self.bench.text_fields} and were skipped (rows {_first(self.missing_field_rows)})")


def _first(rows: list[int]) -> str:
    return ", ".join(map(str, rows[:FIRST_ROWS_SHOWN])) + (", …" if len(rows) > FIRST_ROWS_SHOWN else "")


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bytes | bytearray):
        return ""  # undecoded bytes are not text; a binary column is decoded before (_decoded)
    if isinstance(value, int | float | bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def load_benchmark(bench: BenchmarkFile, max_bytes: int = DEFAULT_MAX_BYTES,
                   ) -> tuple[list[BenchmarkItem], list[tuple[str, str]]]:
    """The items of one benchmark and the problems met reading it (``(reason, detail)``).

    Never raises for a bad file: a missing or unreadable file gives no items and one problem;
    bad rows are skipped and counted (one problem per kind and file); reading stops at
    ``max_bytes`` (counted while reading) and keeps what came before. A row's text is its
    configured text fields that are present, joined; its id the ``id_field`` or its row number
    (0-based); in a ``DatasetDict`` folder the id is prefixed with the split (``test/17``).
    """
    reading = _Reading(bench, max_bytes)
    path = Path(bench.path)
    try:
        codecs.lookup(bench.encoding)
    except LookupError:
        reading.problem("benchmark_unreadable", f"unknown encoding {bench.encoding!r}")
        return [], reading.problems
    if not path.exists():
        reading.problem("benchmark_missing_file", "no such file or folder")
        return [], reading.problems
    try:
        if path.is_dir():
            _read_hf_folder(reading, path)
        elif _is_parquet(path):
            _read_parquet(reading, path)
        else:
            _read_jsonl(reading, path)
    except (OSError, pa.ArrowException, ValueError, KeyError, TypeError, AttributeError) as exc:
        reading.problem("benchmark_unreadable", f"{type(exc).__name__}: {str(exc)[:300]}; "
                                                f"the {len(reading.items)} items read before it are used")
    reading.finish()
    return reading.items, reading.problems


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() == ".parquet":
        return True
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


def _read_jsonl(reading: _Reading, path: Path) -> None:
    encoding = reading.bench.encoding
    if "\n".encode(encoding) != b"\n":
        # UTF-16/32: a newline byte can sit inside a character, so lines cannot be split as bytes
        reading.problem("benchmark_unreadable", f"JSONL in {encoding} is not read line by line; convert it to UTF-8")
        return
    undecodable: list[int] = []
    first_error = ""
    with path.open("rb") as f:
        for row_number, raw in enumerate(_lines(f, reading)):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                undecodable.append(row_number)
                first_error = first_error or str(exc)
                line = raw.decode(encoding, errors="replace")
            line = line.lstrip("\ufeff").strip() if row_number == 0 else line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                row, reading.bad_row_error = None, reading.bad_row_error or f"first error: {exc}"
            if not isinstance(row, dict):
                reading.bad_rows.append(row_number)
                reading.bad_row_error = reading.bad_row_error or "first: not an object"
                continue
            reading.add(row, row_number)
    if undecodable:
        reading.problem("benchmark_encoding_error",
                        f"{len(undecodable)} lines are not {encoding} (lines {_first(undecodable)}; {first_error}); "
                        f"decoded with errors='replace' (U+FFFD) and used")


def _lines(f: Any, reading: _Reading) -> Iterator[bytes]:
    """The file's lines, never reading past the byte limit (a single endless line included)."""
    line_number = 0
    while raw := f.readline(reading.max_bytes - reading.bytes_read + 1):
        line_number += 1
        if reading.over_limit(len(raw), f"line {line_number}"):
            return
        yield raw


def _wanted(reading: _Reading, names: Sequence[str]) -> list[str]:
    wanted = [*reading.bench.text_fields, *([reading.bench.id_field] if reading.bench.id_field else [])]
    return [n for n in dict.fromkeys(wanted) if n in names]


def _no_text_columns(reading: _Reading, names: Sequence[str], rows: str, where: str) -> bool:
    """Record a table none of whose columns is a text field (all its rows miss it)."""
    if any(f in names for f in reading.bench.text_fields):
        return False
    reading.problem("benchmark_missing_field", f"{where} has none of the text fields {reading.bench.text_fields} "
                                               f"(columns: {list(names)[:20]}); its {rows} rows were skipped")
    return True


def _decoded(batch: pa.RecordBatch, encoding: str, reading: _Reading) -> dict[str, list[Any]]:
    columns = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        values = column.to_pylist()
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            values = [_decode_bytes(v, encoding, reading, name) for v in values]
        columns[name] = values
    return columns


def _decode_bytes(value: bytes | None, encoding: str, reading: _Reading, column: str) -> str | None:
    if value is None:
        return None
    try:
        return value.decode(encoding)
    except UnicodeDecodeError as exc:
        if not any(r == "benchmark_encoding_error" for r, _ in reading.problems):
            reading.problem("benchmark_encoding_error", f"column {column!r} is not {encoding} ({exc}); "
                                                        f"decoded with errors='replace' (U+FFFD) and used")
        return value.decode(encoding, errors="replace")


def _add_batches(reading: _Reading, batches: Iterator[pa.RecordBatch], columns: list[str], where: str,
                 id_prefix: str = "", first_row: int = 0) -> int:
    """Add the rows of ``batches`` (only ``columns`` kept); returns the next row number."""
    row_number = first_row
    for batch in batches:
        if reading.over_limit(batch.nbytes, f"{where} row {row_number}"):
            break
        data = _decoded(batch.select(columns), reading.bench.encoding, reading)
        for i in range(batch.num_rows):
            reading.add({name: values[i] for name, values in data.items()}, row_number + i, id_prefix)
        row_number += batch.num_rows
    return row_number


def _read_parquet(reading: _Reading, path: Path) -> None:
    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    if _no_text_columns(reading, names, str(parquet.metadata.num_rows), "the file"):
        return
    columns = _wanted(reading, names)
    # only the columns needed are read, a batch at a time; the limit counts what was decoded
    _add_batches(reading, parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns), columns, "the file")


def _read_hf_folder(reading: _Reading, folder: Path) -> None:
    """A ``Dataset.save_to_disk`` folder (``state.json`` + ``data-*.arrow``, Arrow IPC streams)
    or a ``DatasetDict`` folder (``dataset_dict.json`` + one such folder per split)."""
    splits_file = folder / "dataset_dict.json"
    if splits_file.exists():
        splits = json.loads(splits_file.read_text(encoding="utf-8")).get("splits", [])
        for split in splits:
            if not isinstance(split, str) or Path(split).name != split or not (folder / split).is_dir():
                reading.problem("benchmark_unreadable", f"split {split!r} of dataset_dict.json has no folder")
                continue
            if not _read_dataset_folder(reading, folder / split, f"{split}/"):
                return
        return
    _read_dataset_folder(reading, folder, "")


def _arrow_files(folder: Path) -> list[Path]:
    state_file = folder / "state.json"
    if state_file.exists():
        names = [d.get("filename") for d in json.loads(state_file.read_text(encoding="utf-8")).get("_data_files", [])]
        # a name from the folder's own metadata must stay inside the folder
        if names and all(isinstance(n, str) and Path(n).name == n for n in names):
            return [folder / n for n in names]
    return sorted(folder.glob("*.arrow"))


def _read_dataset_folder(reading: _Reading, folder: Path, id_prefix: str) -> bool:
    """Read one dataset folder; ``False`` once the byte limit stopped the reading."""
    files = _arrow_files(folder)
    if not files:
        reading.problem("benchmark_unreadable", f"{folder.name or folder}: no Arrow data files (data-*.arrow)")
        return True
    row_number = 0
    for path in files:
        with pa.memory_map(str(path)) as source:
            try:
                reader = ipc.open_stream(source)  # what save_to_disk writes
            except pa.ArrowInvalid:
                source.seek(0)
                reader = ipc.open_file(source)
            names = reader.schema.names
            where = f"{id_prefix}{path.name}"
            if _no_text_columns(reading, names, "all", where):
                continue
            batches = reader if isinstance(reader, ipc.RecordBatchStreamReader) else \
                (reader.get_batch(i) for i in range(reader.num_record_batches))
            row_number = _add_batches(reading, batches, _wanted(reading, names), where, id_prefix, row_number)
            if reading.bytes_read > reading.max_bytes:
                return False
    return True


# -- the n-gram index -----------------------------------------------------------------------------

MIN_WORDS = 4
"""An n-gram is indexed only when at least this many of its tokens are words (letters only,
two or more): normalised LaTeX splits a formula into many tokens, so thirteen tokens can be just
two common formulas (``\\sum _ i = 1 ^ n …``) that any two math texts share. On the
decontamination benchmark this took unplanted candidates flagged from 49 of 8,000 to 0, and the
recall of planted overlaps from 1.000 to 0.993 (BENCHMARKS.md)."""


def _prose_windows(token_lists: Sequence[Sequence[str]], n: int) -> np.ndarray:
    """For every ``n``-gram window of every list of ``n`` or more tokens (``ngram_hashes``'s order,
    ``short=False``), whether it holds ``MIN_WORDS`` words."""
    out = [np.zeros(0, dtype=bool)]
    for tokens in token_lists:
        if len(tokens) < n:
            continue
        words = np.fromiter((t.isalpha() and len(t) > 1 for t in tokens), dtype=np.int32, count=len(tokens))
        total = np.concatenate(([0], np.cumsum(words)))
        out.append(total[n:] - total[:-n] >= MIN_WORDS)
    return np.concatenate(out)


class NgramIndex:
    """The ``n``-grams of benchmark items as sorted 64-bit hashes, each with the first item that
    has it: 12 bytes per n-gram (12 MB at a million), looked up with a binary search."""

    def __init__(self, items: Sequence[BenchmarkItem], n: int) -> None:
        self.items = list(items)
        self.n = n
        tokens = [normalise(i.text) for i in self.items]
        hashes, offsets = ngram_hashes(tokens, n, short=False)
        owners = np.repeat(np.arange(len(self.items), dtype=np.int32), np.diff(offsets))
        prose = _prose_windows(tokens, n)
        hashes, owners = hashes[prose], owners[prose]
        # np.unique's indices are of first occurrences: a shared n-gram names its first item
        self.hashes, first = np.unique(hashes, return_index=True)
        self.owners = owners[first]

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def from_settings(cls, items: Sequence[BenchmarkItem], settings: RefineSettings) -> NgramIndex:
        return cls(items, settings.ngram)

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        """For each hash, the index of the item that has it, or -1."""
        if len(self.hashes) == 0:
            return np.full(len(hashes), -1, dtype=np.int32)
        at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return np.where(self.hashes[at] == hashes, self.owners[at], -1)


# -- finding contamination ------------------------------------------------------------------------

def find_contamination(items: Sequence[Item], index: NgramIndex, settings: RefineSettings,
                       vectors: np.ndarray | None = None, bench_vectors: np.ndarray | None = None,
                       bench_items: Sequence[BenchmarkItem] | None = None, run_id: str = "") -> list[Contamination]:
    """The candidates among ``items`` that overlap a benchmark item, one row per pair.

    N-gram hits (``method="ngram"``): ``similarity`` is the share of the candidate's indexable
    n-grams (``MIN_WORDS``) that the item has, ``matched_span`` the longest run of consecutive shared n-grams as the
    candidate's normalised tokens. Embedding hits (``method="embedding"``, when ``vectors`` and
    ``bench_vectors`` are given; ``bench_items`` are their rows, by default ``index.items``):
    cosine ≥ ``settings.contamination_similarity``, ``matched_span`` the item's opening. A pair
    found both ways is reported once, as an n-gram hit.
    """
    n = index.n
    tokens = [normalise(i.text) for i in items]
    hashes, offsets = ngram_hashes(tokens, n, short=False)
    owners = index.lookup(hashes)
    prose = _prose_windows(tokens, n)
    found: dict[tuple[int, int], Contamination] = {}
    for c in np.unique(np.searchsorted(offsets, np.flatnonzero(owners >= 0), side="right") - 1):
        own = owners[offsets[c]:offsets[c + 1]]
        comparable = prose[offsets[c]:offsets[c + 1]]
        for owner in np.unique(own[own >= 0]):
            hit = own == owner
            start, length = _longest_run(hit)
            bench = index.items[owner]
            found[(int(c), int(owner))] = Contamination(
                candidate_id=items[c].item_id, benchmark=bench.benchmark, item_id=bench.item_id, method="ngram",
                matched_span=" ".join(tokens[c][start:start + length + n - 1])[:SPAN_CHARS],
                similarity=round(float(hit[comparable].sum() / max(1, comparable.sum())), 3), run_id=run_id)
    rows = list(found.values())
    if vectors is not None and bench_vectors is not None:
        bench_items = index.items if bench_items is None else bench_items
        if len(bench_vectors) != len(bench_items) or len(vectors) != len(items):
            raise ValueError("one embedding row per item and per benchmark item is needed")
        taken = {(r.benchmark, r.item_id, c) for (c, _), r in found.items()}
        rows += _embedding_hits(items, vectors, bench_vectors, bench_items, taken, settings, run_id)
    return rows


def _longest_run(hit: np.ndarray) -> tuple[int, int]:
    """Start and length of the longest run of ``True``."""
    edges = np.diff(np.r_[0, hit.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest] - starts[longest])


def _embedding_hits(items: Sequence[Item], vectors: np.ndarray, bench_vectors: np.ndarray,
                    bench_items: Sequence[BenchmarkItem], taken: set[tuple[str, str, int]],
                    settings: RefineSettings, run_id: str) -> list[Contamination]:
    by_candidate: dict[int, list[tuple[float, int]]] = {}
    for qs, ks, sims in cosine_pairs(vectors, bench_vectors, settings.contamination_similarity):
        for q, k, s in zip(qs.tolist(), ks.tolist(), sims.tolist(), strict=True):
            by_candidate.setdefault(q, []).append((s, k))
    rows = []
    for c, hits in by_candidate.items():
        for similarity, b in sorted(hits, reverse=True)[:EMBEDDING_HITS_PER_CANDIDATE]:
            bench = bench_items[b]
            if (bench.benchmark, bench.item_id, c) in taken:
                continue
            rows.append(Contamination(candidate_id=items[c].item_id, benchmark=bench.benchmark,
                                      item_id=bench.item_id, method="embedding",
                                      matched_span=bench.text[:EMBEDDING_SPAN_CHARS],
                                      similarity=round(min(similarity, 1.0), 3), run_id=run_id))
    return rows
