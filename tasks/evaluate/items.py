"""The items an evaluation asks: from a release, or from a dataset file in our export format or
STORM-BORN's.

Input: rows of a release (``tasks.curate.release.items_at``: ``id``, ``paper``, ``paper_id``,
``paper_date``, ``question``, ``whole_label``, ``target``, ``choices``, ``answer_index``), or a
file: JSONL, a JSON list, or Parquet; or an export folder (its ``jsonl/derivation`` and
``jsonl/multiple_choice`` files). Row schemas read:

- ours, derivation: ``id``, ``question``, ``whole_label`` (``paper``, ``paper_id``, ``paper_date``,
  ``target`` when present);
- ours, multiple choice: ``id``, ``question``, ``choices``, ``answer_index``;
- STORM-BORN, derivation: ``paper``, ``question``, ``whole_label``;
- STORM-BORN, multiple choice: ``paper``, ``question``, ``A`` … ``D``, ``ground-truth`` (a letter).

Rows naming the same item (the same ``id``, or for STORM-BORN's files the same paper and question)
merge into one item. Output: ``EvalItem`` values and, for each unusable row, a ``Skipped`` with a
snake_case reason (``invalid_json``, ``unknown_schema``, ``missing_field``, ``bad_answer_key``,
``bad_field``: a field of the wrong type or too many options, ``file_too_large``); the rest are
evaluated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tasks.core.records import stable_id

LETTERS = "ABCDEFGHIJ"
MAX_FILE_BYTES = 512 * 2**20
"""A dataset file larger than this is refused before it is parsed."""


@dataclass(frozen=True)
class EvalItem:
    item_id: str
    question: str
    answer: str = ""
    """The paper's derivation (``whole_label``): the judge's reference."""
    target: str | None = None
    """The result the derivation reaches (LaTeX): what the symbolic check compares with."""
    choices: tuple[str, ...] = ()
    answer_index: int | None = None
    paper: str = ""
    paper_id: str = ""
    paper_month: str | None = None


@dataclass(frozen=True)
class Skipped:
    where: str
    """``file:line`` (or ``file:row``)."""
    reason: str
    detail: str = ""


@dataclass
class Loaded:
    items: list[EvalItem] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _month(value: Any) -> str | None:
    text = str(value or "")[:7]
    return text if len(text) == 7 and text[4] == "-" and text[:4].isdigit() else None


def item_from_row(row: dict[str, Any]) -> tuple[EvalItem | None, str | None, str]:
    """One row as an item, or (None, reason, detail): a row is read by its schema, then every
    field is checked for its type and range (a file is not trusted to match its schema)."""
    try:
        item, reason, detail = _read(row)
    except (TypeError, ValueError, AttributeError) as exc:
        return None, "bad_field", f"{type(exc).__name__}: {str(exc)[:200]}"
    if item is None:
        return item, reason, detail
    problem = _problem(item)
    return (None, *problem) if problem else (item, None, "")


def _problem(item: EvalItem) -> tuple[str, str] | None:
    """(reason, detail) when a field of a read item is of the wrong type or out of range."""
    for name in ("item_id", "question", "answer", "paper", "paper_id"):
        if not isinstance(getattr(item, name), str):
            return "bad_field", f"{name} is a {type(getattr(item, name)).__name__}, not text"
    if item.target is not None and not isinstance(item.target, str):
        return "bad_field", f"target is a {type(item.target).__name__}, not text"
    if len(item.choices) > len(LETTERS):
        return "bad_field", f"{len(item.choices)} choices; at most {len(LETTERS)} are read"
    if item.choices:
        index = item.answer_index
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(item.choices):
            return "bad_answer_key", f"answer_index {index!r} with {len(item.choices)} choices"
    return None


def _read(row: Any) -> tuple[EvalItem | None, str | None, str]:
    if not isinstance(row, dict):
        return None, "unknown_schema", f"a row is a {type(row).__name__}, not an object"
    question = row.get("question")
    if "ground-truth" in row or all(k in row for k in "ABCD"):  # STORM-BORN's multiple choice
        letters = [k for k in LETTERS if k in row]
        missing = [k for k in ("paper", "question", "ground-truth") if not row.get(k)]
        if missing or len(letters) < 2:
            return None, "missing_field", ", ".join(missing) or "fewer than two options"
        key = str(row["ground-truth"]).strip().strip("()").upper()
        if key not in letters:
            return None, "bad_answer_key", f"ground-truth {row['ground-truth']!r} is not one of {letters}"
        return EvalItem(item_id=str(row.get("id") or stable_id(row["paper"], question)), question=question,
                        choices=tuple(str(row[k]) for k in letters), answer_index=letters.index(key),
                        paper=str(row["paper"])), None, ""
    if "whole_label" in row or "derivation" in row:  # ours or STORM-BORN's derivation
        answer = row.get("whole_label") or row.get("derivation")
        missing = [k for k in ("question",) if not row.get(k)] + ([] if answer else ["whole_label"])
        if not row.get("id") and not row.get("paper"):
            missing.append("id or paper")
        if missing:
            return None, "missing_field", ", ".join(missing)
        if isinstance(row.get("choices"), str):
            return None, "bad_field", "choices is text, not a list"
        choices = tuple(str(c) for c in row.get("choices") or ())
        return EvalItem(item_id=str(row.get("id") or stable_id(row["paper"], question)), question=question,
                        answer=answer, target=row.get("target") or None, choices=choices,
                        answer_index=row.get("answer_index") if choices else None,
                        paper=row.get("paper", ""), paper_id=row.get("paper_id", ""),
                        paper_month=_month(row.get("paper_date"))), None, ""
    if "choices" in row or "answer_index" in row:  # ours, multiple choice
        missing = [k for k in ("id", "question", "choices") if not row.get(k)]
        if missing or row.get("answer_index") is None:
            return None, "missing_field", ", ".join(missing or ["answer_index"])
        if isinstance(row["choices"], str):
            return None, "bad_field", "choices is text, not a list"
        choices = tuple(str(c) for c in row["choices"])
        return EvalItem(item_id=str(row["id"]), question=question, choices=choices, answer_index=row["answer_index"],
                        paper=row.get("paper", ""), paper_id=row.get("paper_id", "")), None, ""
    if "question" in row and ("paper" in row or "id" in row):  # one of ours or STORM-BORN's, without an answer
        return None, "missing_field", "whole_label, or choices and answer_index"
    return None, "unknown_schema", "fields " + ", ".join(sorted(map(str, row))[:12])


def merge(items: list[EvalItem]) -> list[EvalItem]:
    """Items with the same id as one: the derivation from one file, the options from another."""
    merged: dict[str, EvalItem] = {}
    for item in items:
        have = merged.get(item.item_id)
        if have is None:
            merged[item.item_id] = item
            continue
        merged[item.item_id] = replace(
            have, answer=have.answer or item.answer, target=have.target or item.target,
            choices=have.choices or item.choices,
            answer_index=have.answer_index if have.choices else item.answer_index,
            paper=have.paper or item.paper, paper_id=have.paper_id or item.paper_id,
            paper_month=have.paper_month or item.paper_month)
    return list(merged.values())


def from_rows(rows: list[dict[str, Any]], where: str = "release") -> Loaded:
    loaded = Loaded()
    for n, row in enumerate(rows, 1):
        item, reason, detail = item_from_row(row)
        if item is None:
            loaded.skipped.append(Skipped(f"{where}:{n}", reason, detail))
        else:
            loaded.items.append(item)
    loaded.items = merge(loaded.items)
    return loaded


def _rows_of(path: Path, loaded: Loaded) -> list[dict[str, Any]]:
    if path.stat().st_size > MAX_FILE_BYTES:
        loaded.skipped.append(Skipped(str(path), "file_too_large",
                                      f"{path.stat().st_size} bytes > {MAX_FILE_BYTES}"))
        return []
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    with path.open(encoding="utf-8", errors="replace") as handle:
        head = handle.read(1)
        handle.seek(0)
        if head == "[":
            try:
                rows = json.load(handle)
            except json.JSONDecodeError as exc:
                loaded.skipped.append(Skipped(str(path), "invalid_json", str(exc)[:200]))
                return []
            return rows if isinstance(rows, list) else [rows]
        rows = []
        for n, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                loaded.skipped.append(Skipped(f"{path.name}:{n}", "invalid_json", str(exc)[:200]))
        return rows


def read_dataset(path: str | Path) -> Loaded:
    """The items of a dataset file or an export folder (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        files = sorted((path / "jsonl").glob("*/*.jsonl")) if (path / "jsonl").is_dir() else \
            sorted([*path.glob("*.jsonl"), *path.glob("*.json"), *path.glob("*.parquet")])
    else:
        files = [path]
    if not files:
        raise FileNotFoundError(f"no dataset files in {path}")
    loaded = Loaded()
    found: list[EvalItem] = []
    for file in files:
        part = from_rows(_rows_of(file, loaded), file.name)
        found += part.items
        loaded.skipped += part.skipped
    loaded.items = merge(found)
    return loaded
