"""The answer cache: appends, loads once, survives a killed writer, compacts without losing entries."""

import asyncio
import json
import os

from tasks.io.llm.cache import ROOT, STALE_OPEN_S, AnswerCache, compact, entries_in
from tasks.io.storage import Lake


def key(i: int, shard: str = "ab") -> str:
    return f"{shard}{i:062x}"


def put_all(lake: Lake, keys: list[str], close: bool = True) -> AnswerCache:
    async def go():
        cache = AnswerCache(lake)
        for k in keys:
            cache.put(k, f"content of {k}", None, "json_schema", "m")
        if close:
            await cache.aclose()
        return cache
    return asyncio.run(go())


def get_all(lake: Lake, keys: list[str]) -> list[dict | None]:
    async def go():
        cache = AnswerCache(lake)
        found = await asyncio.gather(*(cache.get(k) for k in keys))
        await cache.aclose()
        return found
    return asyncio.run(go())


def test_entries_are_appended_to_one_segment_and_found_by_another_gateway(tmp_path):
    lake = Lake(str(tmp_path))
    keys = [key(i) for i in range(5)] + [key(1, "cd")]
    put_all(lake, keys)
    segments = sorted((tmp_path / "cache" / "llm" / "segments").iterdir())
    assert [p.suffix for p in segments] == [".jsonl"]  # closed: renamed from .jsonl.open
    assert len(segments[0].read_text().splitlines()) == 6
    found = get_all(lake, keys + [key(9)])
    assert [f and f["content"] for f in found] == [f"content of {k}" for k in keys] + [None]


def test_a_killed_writer_loses_nothing_it_wrote_and_a_torn_line_is_a_miss(tmp_path):
    lake = Lake(str(tmp_path))
    cache = put_all(lake, [key(1), key(2)], close=False)  # never closed: the process was killed
    os.close(cache._fd)
    (segment,) = (tmp_path / "cache" / "llm" / "segments").iterdir()
    assert segment.name.endswith(".jsonl.open")
    with segment.open("ab") as handle:
        handle.write(b'{"key": "' + key(3).encode() + b'", "content": "half')  # cut mid-line
    assert [f and f["content"] for f in get_all(lake, [key(1), key(2), key(3)])] == \
        [f"content of {key(1)}", f"content of {key(2)}", None]


def test_compaction_folds_segments_and_the_old_layout_into_shards(tmp_path):
    lake = Lake(str(tmp_path))
    put_all(lake, [key(1), key(2, "cd")])
    put_all(lake, [key(3)])
    live = put_all(lake, [key(4)], close=False)  # a gateway still running: its segment stays
    legacy = tmp_path / "cache" / "llm" / "ef" / f"{key(5, 'ef')}.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({"content": "old", "error": None, "mode": "text", "model": "m"}))

    counts = compact(lake)
    assert counts == {"segments": 2, "legacy": 1, "entries": 4}
    root = tmp_path / "cache" / "llm"
    assert not legacy.exists() and [p.name.endswith(".open") for p in (root / "segments").iterdir()] == [True]
    assert sorted(p.name for p in (root / "shards").iterdir()) == ["ab", "cd", "ef"]
    found = get_all(lake, [key(1), key(2, "cd"), key(3), key(4), key(5, "ef")])
    assert [f["content"] for f in found] == [f"content of {key(1)}", f"content of {key(2, 'cd')}",
                                             f"content of {key(3)}", f"content of {key(4)}", "old"]
    assert entries_in(lake) == 5

    # a second compaction touching shard ab merges its files into one; nothing is lost
    asyncio.run(live.aclose())
    put_all(lake, [key(6)])
    assert compact(lake)["entries"] == 2
    assert len(list((root / "shards" / "ab").iterdir())) == 1
    assert entries_in(lake) == 6 and not list((root / "segments").iterdir())


def test_an_open_segment_of_a_dead_writer_is_compacted_once_stale(tmp_path):
    lake = Lake(str(tmp_path))
    cache = put_all(lake, [key(1)], close=False)
    os.close(cache._fd)
    assert compact(lake)["segments"] == 0
    assert compact(lake, now=os_time(tmp_path) + STALE_OPEN_S + 1)["segments"] == 1
    assert get_all(lake, [key(1)])[0]["content"] == f"content of {key(1)}"


def os_time(root) -> float:
    (segment,) = (root / "cache" / "llm" / "segments").iterdir()
    return segment.stat().st_mtime


def test_two_compactions_of_one_shard_keep_both_runs_entries(tmp_path):
    """Shard files are never rewritten: two runs that each read the old shard and write their own
    new one leave both, and the union holds every entry."""
    lake = Lake(str(tmp_path))
    put_all(lake, [key(1)])
    compact(lake)
    shard = tmp_path / "cache" / "llm" / "shards" / "ab"
    (old,) = shard.iterdir()
    copy = old.read_bytes()
    put_all(lake, [key(2)])
    compact(lake)
    old.write_bytes(copy)  # the other run wrote its shard from the same old file, with key 3
    lake.write_bytes(str(shard / "other.jsonl"), copy + json.dumps(
        {"key": key(3), "content": "three", "error": None, "mode": None, "model": "m"}).encode() + b"\n")
    assert entries_in(lake) == 3
    assert [f["content"] for f in get_all(lake, [key(1), key(2), key(3)])][2] == "three"
    assert ROOT == ("cache", "llm")


def test_the_cache_on_an_s3_lake_writes_batches_and_compacts(moto_server, monkeypatch):
    import uuid

    from tasks.core.settings import S3Settings
    from tasks.io.llm import cache as cache_module

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(cache_module, "S3_BATCH", 3)
    bucket = f"cache-{uuid.uuid4().hex[:8]}"
    s3 = S3Settings(endpoint_url=moto_server, access_key_id="testing", secret_access_key="testing")
    lake = Lake(f"s3://{bucket}/lake", s3)
    lake.fs.mkdir(bucket)
    keys = [key(i) for i in range(7)]
    put_all(lake, keys)
    segments = lake.fs.glob(lake.path("cache", "llm", "segments", "*"))
    assert len(segments) == 3  # 3 + 3 as the batch filled, 1 at close
    assert [f["content"] for f in get_all(lake, keys)] == [f"content of {k}" for k in keys]
    assert compact(lake)["entries"] == 7
    assert not lake.fs.glob(lake.path("cache", "llm", "segments", "*"))
    assert [f["content"] for f in get_all(lake, keys)] == [f"content of {k}" for k in keys]


def test_a_lake_that_fails_a_read_is_a_miss_and_is_read_again_next_time(tmp_path, monkeypatch):
    lake = Lake(str(tmp_path))
    put_all(lake, [key(1)])
    compact(lake)
    failures = [1]
    real = lake.read_bytes

    def flaky(path):
        if failures and "shards" in path:
            failures.pop()
            raise OSError("the lake did not answer")
        return real(path)
    monkeypatch.setattr(lake, "read_bytes", flaky)

    async def go():
        cache = AnswerCache(lake)
        first = await cache.get(key(1))  # the shard read fails: a miss, no exception
        second = await cache.get(key(1))  # read again
        await cache.aclose()
        return first, second
    first, second = asyncio.run(go())
    assert first is None and second["content"] == f"content of {key(1)}"
