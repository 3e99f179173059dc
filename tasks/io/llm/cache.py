"""The gateway's answer cache: content-addressed, shared by every worker, no I/O per call.

A key (``gateway.cache_key``) maps to what the model answered: ``content`` (or ``None``), the
validation ``error``, the output ``mode`` and the ``model``. Layout under the lake::

    cache/llm/segments/<writer>.jsonl.open   entries a live gateway appends, one JSON line each
    cache/llm/segments/<writer>.jsonl        a closed segment (renamed when its gateway closed)
    cache/llm/shards/<aa>/<id>.jsonl         compacted entries whose key starts with ``aa``

- **Writes** cost one ``os.write`` of one line to the gateway's own segment file on a local lake
  (no fsync: a killed worker loses nothing, only a power cut can, and then the call is simply
  made again), and on S3 one object per ``S3_BATCH`` entries, or at the first answer more than
  ``S3_FLUSH_S`` seconds after the last object, and at close (a killed worker there repeats the
  calls of its last unwritten batch).
- **Reads** cost nothing per call: a gateway loads every segment once, at its first lookup, and
  each shard once, at the first lookup of a key in it (one thread hop per shard, shared by the
  calls waiting on it). A torn last line (a writer killed mid-write) is skipped.
- **Compaction** (``compact``, at the start and end of each run, in the flow's process) folds
  closed segments, open segments older than ``STALE_OPEN_S`` (their writer died) and the per-key
  files of the old layout (``cache/llm/<aa>/<key>.json``) into new shard files, then deletes only
  what it read. Shard files are never rewritten, so two runs compacting at once cannot lose each
  other's entries; a shard of several files is merged by the next compaction that touches it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tasks.io.storage import Lake

logger = logging.getLogger(__name__)

ROOT = ("cache", "llm")
S3_BATCH = 256
S3_FLUSH_S = 1.0
STALE_OPEN_S = 24 * 3600
"""An open segment untouched this long belongs to a writer that died: compaction takes it."""


def _lines(data: bytes) -> Iterable[dict[str, Any]]:
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:  # a line torn by a killed writer, or a damaged file: a miss, not an error
            continue
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            yield entry


class AnswerCache:
    """One gateway's view of the cache and its own segment. Use inside one event loop."""

    def __init__(self, lake: Lake):
        self.lake = lake
        self._entries: dict[str, dict[str, Any]] = {}
        self._loads: dict[str, asyncio.Future] = {}
        self._shard_names: set[str] = set()
        self._writer = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}"
        self._fd: int | None = None
        self._batch: list[bytes] = []
        self._batches = 0
        self._flushed_at = time.monotonic()
        self._flushing: set[asyncio.Task] = set()

    # -- reads -------------------------------------------------------------------------------
    async def get(self, key: str) -> dict[str, Any] | None:
        await self._load("segments", self._read_segments)
        found = self._entries.get(key)
        if found is None and key[:2] in self._shard_names:
            await self._load(key[:2], lambda: self._read_shard(key[:2]))
            found = self._entries.get(key)
        return found

    async def _load(self, name: str, read) -> None:
        """Read ``name`` (the segments, or one shard) once; callers arriving meanwhile wait for it.
        A read that fails is a miss for the calls waiting on it and is tried again by the next
        lookup (the cache is only ever slower for it, and a call never fails for it)."""
        loading = self._loads.get(name)
        if loading is None:
            loading = self._loads[name] = asyncio.get_running_loop().create_future()
            try:
                for entry in await asyncio.to_thread(read):
                    self._entries.setdefault(entry["key"], entry)
            except Exception:  # the lake did not answer: a miss now, read again next time
                logger.warning("the LLM cache could not read %s: treated as a miss", name, exc_info=True)
                del self._loads[name]
            except BaseException:  # cancelled (a paper's deadline): the next lookup reads it
                del self._loads[name]
                raise
            finally:
                loading.set_result(None)
        elif not loading.done():
            await asyncio.shield(loading)

    def _read_segments(self) -> list[dict[str, Any]]:
        """Every segment, and which shards exist (a lookup in a shard that does not is a miss
        without a read: a new cache costs nothing)."""
        self._shard_names = {path.rstrip("/").rsplit("/", 1)[-1] for path in self._list("shards", "*")}
        return [entry for path in self._list("segments", "*.jsonl*") for entry in self._read(path)]

    def _read_shard(self, shard: str) -> list[dict[str, Any]]:
        return [entry for path in self._list("shards", shard, "*.jsonl") for entry in self._read(path)]

    def _list(self, *parts: str) -> list[str]:
        return sorted(self.lake.fs.glob(self.lake.path(*ROOT, *parts)))

    def _read(self, path: str) -> list[dict[str, Any]]:
        try:
            return list(_lines(self.lake.read_bytes(path)))
        except FileNotFoundError:  # compacted away between the listing and the read
            return []

    # -- writes ------------------------------------------------------------------------------
    def put(self, key: str, content: str | None, error: str | None, mode: str | None, model: str) -> None:
        entry = {"key": key, "content": content, "error": error, "mode": mode, "model": model}
        self._entries[key] = entry
        line = json.dumps(entry).encode() + b"\n"  # ASCII escapes: a lone surrogate in a reply cannot fail it
        if not self.lake.is_s3:
            if self._fd is None:
                folder = Path(self.lake.path(*ROOT, "segments"))
                folder.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(folder / f"{self._writer}.jsonl.open", os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                                   0o644)
            os.write(self._fd, line)  # one line, one write: appends never interleave
            return
        self._batch.append(line)
        if len(self._batch) >= S3_BATCH or time.monotonic() - self._flushed_at >= S3_FLUSH_S:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        data, self._batch = b"".join(self._batch), []
        self._batches += 1
        self._flushed_at = time.monotonic()
        path = self.lake.path(*ROOT, "segments", f"{self._writer}-{self._batches:05d}.jsonl")
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self.lake.write_bytes, path, data))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def aclose(self) -> None:
        """Write what is buffered and close this gateway's segment (compaction may take it now)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            folder = Path(self.lake.path(*ROOT, "segments"))
            try:
                os.replace(folder / f"{self._writer}.jsonl.open", folder / f"{self._writer}.jsonl")
            except FileNotFoundError:  # compacted as stale (a gateway open for over a day)
                pass
        self._flush()
        if self._flushing:
            await asyncio.gather(*self._flushing)


def compact(lake: Lake, now: float | None = None) -> dict[str, int]:
    """Fold closed segments (and the old per-key layout) into shard files; returns counts."""
    now = time.time() if now is None else now
    fs, root = lake.fs, lake.path(*ROOT)
    sources = sorted(fs.glob(f"{root}/segments/*.jsonl"))
    for path in fs.glob(f"{root}/segments/*.jsonl.open"):
        try:
            modified = fs.modified(path).timestamp()
        except (FileNotFoundError, NotImplementedError):
            continue
        if now - modified > STALE_OPEN_S:
            sources.append(path)
    legacy = sorted(fs.glob(f"{root}/[0-9a-f][0-9a-f]/*.json"))
    if not sources and not legacy:
        return {"segments": 0, "legacy": 0, "entries": 0}
    by_shard: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    read: list[str] = []
    for path in sources:
        try:
            data = lake.read_bytes(path)
        except FileNotFoundError:  # another run compacted it
            continue
        read.append(path)
        for entry in _lines(data):
            by_shard[entry["key"][:2]][entry["key"]] = entry
    for path in legacy:
        key = path.rsplit("/", 1)[-1].removesuffix(".json")
        try:
            old = json.loads(lake.read_bytes(path))
        except (FileNotFoundError, ValueError):
            continue
        read.append(path)
        if isinstance(old, dict):
            by_shard[key[:2]][key] = {"key": key, **{k: old.get(k) for k in ("content", "error", "mode", "model")}}
    entries = 0
    for shard, fresh in sorted(by_shard.items()):
        old_files = sorted(fs.glob(f"{root}/shards/{shard}/*.jsonl"))
        merged: dict[str, dict[str, Any]] = {}
        kept: list[str] = []
        for path in old_files:
            try:
                data = lake.read_bytes(path)
            except FileNotFoundError:
                continue
            kept.append(path)
            merged.update((e["key"], e) for e in _lines(data))
        merged.update(fresh)
        entries += len(fresh)
        body = b"".join(json.dumps(e, ensure_ascii=False).encode() + b"\n" for e in merged.values())
        lake.write_bytes(f"{root}/shards/{shard}/{uuid.uuid4().hex}.jsonl", body)
        read += kept
    for path in read:  # only what this compaction read, and only after its shards are written
        try:
            fs.rm(path)
        except FileNotFoundError:
            pass
    return {"segments": len(sources), "legacy": len(legacy), "entries": entries}


def entries_in(lake: Lake) -> int:
    """How many distinct answers the cache holds (for tests, benchmarks and ops)."""
    keys: set[str] = set()
    for path in sorted(lake.fs.glob(lake.path(*ROOT, "**", "*.jsonl*"))):
        try:
            keys.update(e["key"] for e in _lines(lake.read_bytes(path)))
        except FileNotFoundError:
            continue
    return len(keys)
