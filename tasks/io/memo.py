"""Skip-if-unchanged: remember what a step did for given inputs and code, and recall it.

A step's memo lives in the lake under ``state/<step>/<entity…>.json``: one small file per
entity (a paper, a document, a batch), rewritten when the entity's inputs or the step's code
change. Its key hashes the inputs and the source files of the code that computes the result, so
editing a step's code re-runs it on the next run without anyone bumping a version string, and an
unchanged rerun reads one small file per entity and does nothing else. A killed run resumes
entity by entity: whatever was remembered before the kill is skipped.

Steps that remember an answer from outside (a download, a licence lookup) pass no code: the
answer does not change when our code does.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from tasks.core.records import Record
from tasks.io.storage import Lake, safe_key


def _digestible(part: Any) -> Any:
    """A JSON-able form of an input. Records drop their run id and timestamp: the same row
    produced by another run is the same input."""
    if isinstance(part, Record):
        volatile = {"run_id", getattr(part, "TIME", "")}
        return part.model_dump(mode="json", exclude=volatile)
    if isinstance(part, (list, tuple)):
        return [_digestible(p) for p in part]
    if isinstance(part, dict):
        return {str(k): _digestible(v) for k, v in part.items()}
    return part


def fingerprint(*parts: Any) -> str:
    """A sha256 over inputs (records, lists, dicts, strings, numbers, None)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(_digestible(part), sort_keys=True, default=str).encode())
        digest.update(b"\x1f")
    return digest.hexdigest()


@lru_cache(maxsize=64)
def code_fingerprint(*modules: str) -> str:
    """A sha256 over the source of the named modules (a package: every ``.py`` file in it)."""
    digest = hashlib.sha256()
    for name in sorted(modules):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"no source for {name!r}")
        origin = Path(spec.origin)
        sources = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        for source in sources:
            digest.update(source.relative_to(origin.parent).as_posix().encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


class Memo:
    """What one step remembers, per entity, in the lake."""

    def __init__(self, lake: Lake, step: str, code: tuple[str, ...] = ()):
        self.lake = lake
        self.step = step
        self.code = code_fingerprint(*code) if code else ""

    def key(self, *inputs: Any) -> str:
        return fingerprint(self.code, *inputs)

    def recall(self, entity: str | tuple[str, ...], *inputs: Any,
               legacy: Callable[[dict], Any | None] | None = None) -> Any | None:
        """The value remembered for ``entity`` when its inputs and the code are unchanged.

        ``legacy`` reads a record written at the same path before memos had keys (the fetch
        and licence answers of lakes older than this helper), so upgrading a lake does not
        download every body or ask every licence again; it returns the value, or None."""
        try:
            seen = self.lake.get_json(*self._path(entity))
        except ValueError:  # an unreadable memo is a miss: the step runs again and rewrites it
            return None
        if not isinstance(seen, dict):
            return None
        if "key" not in seen:
            return legacy(seen) if legacy is not None else None
        return seen.get("value") if seen["key"] == self.key(*inputs) else None

    def remember(self, entity: str | tuple[str, ...], value: Any, *inputs: Any) -> None:
        """Store ``value`` (JSON-able, not None) for ``entity`` under the key of ``inputs``."""
        self.lake.put_json({"key": self.key(*inputs), "value": value}, *self._path(entity))

    def _path(self, entity: str | tuple[str, ...]) -> tuple[str, ...]:
        parts = (entity,) if isinstance(entity, str) else entity
        *folders, name = (safe_key(p) for p in parts)
        return ("state", *self.step.split("/"), *folders, f"{name}.json")
