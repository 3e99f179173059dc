"""Decontamination: an index of a million benchmark 13-grams, planted overlaps, speed and recall.

    .venv/bin/python -m benchmarks.bench_decontam [--ngrams 1000000] [--candidates 10000] [--planted 2000]

Benchmark items of synthetic math text (sentences of words and inline LaTeX, as in
``bench_dedup``) are generated until they hold ``--ngrams`` 13-grams, written as a JSONL file and
as a Parquet file, and read back with ``load_benchmark``. ``--candidates`` new problems are
generated, ``--planted`` of them with 13 to 40 contiguous words of a benchmark item copied in,
typeset differently (LaTeX spacing and sizing, ``^{2}`` → ``^2``, ``\\displaystyle``). Then, side
by side in one run: load time per format, index build time and size, query throughput, recall of
the planted overlaps (the right benchmark item found; target ≥ 0.95) and false positives (an
unplanted candidate flagged), plus the embedding path on random vectors.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_dedup import TextMaker, peak_rss_mb, render, respace, timed


def copied_span(units: list[str], rng: random.Random, normalise, low: int = 13, high: int = 40) -> list[str]:
    """Contiguous whole units of a benchmark item holding ``low``…``high`` normalised tokens (at
    least ``low``: a start too near the end is drawn again)."""
    want = rng.randint(low, high)
    while True:
        span: list[str] = []
        for unit in units[rng.randrange(len(units)):]:
            span.append(unit)
            if len(normalise(" ".join(span))) >= want:
                return span


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngrams", type=int, default=1_000_000)
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--planted", type=int, default=2_000)
    parser.add_argument("--embed-bench", type=int, default=20_000)
    args = parser.parse_args()

    import pyarrow as pa
    import pyarrow.parquet as pq

    from tasks.core.settings import BenchmarkFile, RefineSettings
    from tasks.refine.contamination import NgramIndex, find_contamination, load_benchmark
    from tasks.refine.near_duplicates import Item, normalise

    settings = RefineSettings()
    n = settings.ngram
    maker = TextMaker(11)
    rng = maker.rng

    # benchmark items until they hold --ngrams n-grams
    started = time.perf_counter()
    bench_units: list[list[str]] = []
    total = 0
    while total < args.ngrams:
        sentences = [maker.sentence(10, 22) for _ in range(rng.randint(3, 7))]
        bench_units.append([u for s in sentences for u in s])
        total += max(0, len(normalise(render(sentences))) - n + 1)
    rows = [{"id": f"b{i}", "problem": " ".join(u), "solution": maker.formula()} for i, u in enumerate(bench_units)]
    folder = Path(tempfile.mkdtemp(prefix="bench-decontam-"))
    try:
        jsonl = folder / "bench.jsonl"
        jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        pq.write_table(pa.Table.from_pylist(rows), folder / "bench.parquet")
        print(f"{len(rows)} benchmark items ({total:,} {n}-grams of their problems) generated and written in "
              f"{time.perf_counter() - started:.1f} s ({jsonl.stat().st_size / 1e6:.0f} MB JSONL, "
              f"{(folder / 'bench.parquet').stat().st_size / 1e6:.0f} MB Parquet)")

        print(f"\n   {'step':<44}{'seconds':>9}{'rate':>22}")
        loaded = {}
        for name in ("bench.jsonl", "bench.parquet"):
            (items, problems), t = timed(load_benchmark, BenchmarkFile(name="synthetic", path=str(folder / name),
                                                                       id_field="id"))
            assert not problems and len(items) == len(rows), problems
            loaded[name] = items
            print(f"   {'load_benchmark ' + name:<44}{t:>9.2f}{len(items) / t:>15,.0f} rows/s")
        bench_items = loaded["bench.jsonl"]
        index, t_build = timed(NgramIndex, bench_items, n)
        print(f"   {'NgramIndex build':<44}{t_build:>9.2f}{len(index) / t_build:>13,.0f} n-grams/s   "
              f"({len(index):,} distinct n-grams, {(index.hashes.nbytes + index.owners.nbytes) / 1e6:.0f} MB)")

        # candidates: fresh text, some with a copied (and re-typeset) benchmark span inside
        planted_into = set(rng.sample(range(args.candidates), args.planted))
        truth: dict[int, str] = {}
        candidates = []
        for c in range(args.candidates):
            sentences = [maker.sentence() for _ in range(rng.randint(3, 5))]
            if c in planted_into:
                source = rng.randrange(len(bench_units))
                span = [respace(u, rng) for u in copied_span(bench_units[source], rng, normalise)]
                sentences.insert(rng.randrange(len(sentences) + 1), span)
                truth[c] = f"b{source}"
            candidates.append(Item(f"c{c}", render(sentences)))
        found, t_query = timed(find_contamination, candidates, index, settings)
        print(f"   {'find_contamination (n-grams)':<44}{t_query:>9.2f}{len(candidates) / t_query:>13,.0f} candidates/s")

        flagged: dict[int, set[str]] = {}
        for row in found:
            flagged.setdefault(int(row.candidate_id[1:]), set()).add(row.item_id)
        recalled = sum(1 for c, item in truth.items() if item in flagged.get(c, set()))
        false_positives = [c for c in flagged if c not in truth]
        wrong_item = sum(1 for c in truth if c in flagged and truth[c] not in flagged[c])
        print(f"\n   recall of planted overlaps: {recalled}/{len(truth)} = {recalled / len(truth):.3f} (target ≥ 0.95)")
        print(f"   unplanted candidates flagged (false positives): {len(false_positives)} of "
              f"{args.candidates - len(truth)}; planted ones flagged with another item only: {wrong_item}")
        for c in false_positives[:3]:
            print(f"     e.g. c{c}: " + next(r.matched_span for r in found if r.candidate_id == f"c{c}"))
        spans = [len(r.matched_span.split()) for r in found if int(r.candidate_id[1:]) in truth]
        print(f"   matched span, normalised tokens: median {int(np.median(spans))}, min {min(spans)}, max {max(spans)}")

        # embeddings against the benchmark: random directions, planted near copies at cosine ~0.98
        m = min(args.embed_bench, len(bench_items))
        np_rng = np.random.default_rng(5)
        bench_vectors = np_rng.normal(size=(m, 384)).astype(np.float32)
        vectors = np_rng.normal(size=(len(candidates), 384)).astype(np.float32)
        near = np_rng.choice(m, size=100, replace=False)
        vectors[:100] = bench_vectors[near] + 0.15 * np_rng.normal(size=(100, 384)).astype(np.float32)
        bench_vectors /= np.linalg.norm(bench_vectors, axis=1, keepdims=True)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        empty = NgramIndex([], n)
        found_e, t_embed = timed(find_contamination, candidates, empty, settings, vectors, bench_vectors,
                                 bench_items[:m])
        caught = sum(1 for r in found_e if r.item_id == f"b{near[int(r.candidate_id[1:])]}"
                     if int(r.candidate_id[1:]) < 100)
        print(f"\n   embeddings: {len(candidates)} × {m} × 384 blockwise in {t_embed:.2f} s "
              f"({len(candidates) / t_embed:,.0f} candidates/s); planted 100, found {caught}, other hits "
              f"{len(found_e) - caught}")
        print(f"   peak RSS {peak_rss_mb():.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
