"""Analyst dashboard page loads over a catalog of 100,000 candidates.

    .venv/bin/python -m benchmarks.bench_dashboard [--candidates 100000] [--loads 5]

Builds a lake in a temporary folder, written vectorised with pyarrow (a pydantic object per row
would dominate the set-up): ``--candidates`` candidates over ``candidates/100`` papers in 10 part
files, 12 monthly runs, rejects, LLM calls (one per candidate), validations, quarantined rows, a
review queue of every done candidate, 2,000 expert reviews; publishes the catalog; serves the
dashboard with uvicorn on a loopback port and times each page with a plain HTTP client: the
median (and min/max) of ``--loads`` loads after one warm-up load, in milliseconds.
"""

from __future__ import annotations

import argparse
import io
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.core.records import (
    Candidate,
    ExpertReview,
    LLMCall,
    Paper,
    Quarantine,
    QueueEntry,
    Reject,
    ReviewAssignment,
    Run,
    Validation,
)
from tasks.core.settings import load_settings
from tasks.io.storage import Lake, arrow_schema, publish_catalog

PARTS = 10


def write(lake: Lake, model, columns: dict, part: str) -> None:
    """One part file of ``model``'s table from column arrays; missing columns are NULL."""
    schema = arrow_schema(model)
    n = len(next(iter(columns.values())))
    arrays = [pa.array(columns[f.name], type=f.type) if f.name in columns else pa.nulls(n, type=f.type)
              for f in schema]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), buf, compression="zstd")
    lake.write_bytes(lake.path("tables", model.TABLE, f"{part}.parquet"), buf.getvalue())


def build(settings, n: int) -> None:
    rng = np.random.default_rng(0)
    lake = Lake.from_settings(settings)
    now = datetime(2025, 1, 5, tzinfo=UTC)
    months = [date(2024, m, 1) for m in range(1, 13)]
    runs = [f"run-2024-{m:02d}" for m in range(1, 13)]
    write(lake, Run, {
        "run_id": runs, "flow": ["monthly-harvest"] * 12, "source": ["live"] * 12, "since": months,
        "until": [d + timedelta(days=27) for d in months], "lake": [lake.url] * 12,
        "status": ["completed"] * 11 + ["stopped"], "started_at": [datetime(2024, m, 28, tzinfo=UTC) for m in range(1, 13)],
        "listed": [4000] * 12, "matched": [3000] * 12, "rating_pass": [1500] * 12, "documents_fetched": [1400] * 12,
        "keyword_pass": [1000] * 12, "papers_extracted": [900] * 12, "candidates": [n // 12] * 12,
        "candidates_kept": [n // 20] * 12, "candidates_drafted": [n // 40] * 12, "rejected": [3000] * 12,
        "quarantined": [10] * 12, "llm_calls": [n // 12] * 12, "cost_usd": [40.0] * 12}, "runs")
    papers = n // 100
    paper_ids = [f"arxiv:2401.{i:05d}" for i in range(papers)]
    write(lake, Paper, {"paper_id": paper_ids, "source": ["arxiv"] * papers,
                        "title": [f"Paper {i}" for i in range(papers)], "ingested_at": [now] * papers}, "papers")
    statuses = np.array(["done", "drafted", "dropped", "failed", "pending"])
    status = statuses[rng.choice(5, n, p=[0.3, 0.1, 0.45, 0.1, 0.05])]
    reasons = np.array(["ungrounded_answer", "define_not_derive", "near_duplicate", "low_quality_score"])
    ids = np.array([f"c{i:06d}" for i in range(n)])
    for part in range(PARTS):
        sl = slice(part * n // PARTS, (part + 1) * n // PARTS)
        k = sl.stop - sl.start
        idx = np.arange(sl.start, sl.stop)
        st = status[sl]
        write(lake, Candidate, {
            "candidate_id": ids[sl].tolist(), "paper_id": [paper_ids[i // 100] for i in idx],
            "target_expr": [f"e{i}" for i in idx], "target_kind": ["equation"] * k,
            "precondition_exprs": [[f"e{i - 1}"] for i in idx], "question": [f"Derive $x_{{{i}}} = y$." for i in idx],
            "answer": [f"By definition \\[ x_{{{i}}} = y \\]." for i in idx], "answer_evidence": ["Proof of Lemma 1"] * k,
            "question_evidence": [["We assume x."]] * k, "grounded_score": rng.uniform(40, 100, k).round(1).tolist(),
            "stage_reached": ["answer_filter"] * k, "status": st.tolist(),
            "reason": [reasons[i % 4] if s in ("dropped", "failed") else None for i, s in zip(idx, st)],
            "prompt_versions": ["{}"] * k, "models": ['{"answer_filter": "gpt-4o-mini"}'] * k,
            "unrenderable_latex": [[]] * k, "run_id": [runs[i % 12] for i in idx],
            "prompt_tokens": [0] * k, "completion_tokens": [0] * k, "cost_usd": [0.0] * k,
            "transient_failure": [False] * k, "updated_at": [now] * k}, f"part-{part}")
        write(lake, LLMCall, {
            "call_id": [f"call{i}" for i in idx], "run_id": [runs[i % 12] for i in idx],
            "stage": [("query_draft", "answer_retriever", "answer_filter")[i % 3] for i in idx],
            "entity_id": ids[sl].tolist(), "model": ["gpt-4o-mini"] * k, "cache_key": [f"k{i}" for i in idx],
            "prompt_tokens": [1200] * k, "completion_tokens": [300] * k, "cost_usd": [0.0004] * k,
            "latency_ms": [800.0] * k, "cache_hit": [i % 5 == 0 for i in idx], "attempts": [1] * k,
            "status": ["ok"] * k, "at": [now] * k}, f"part-{part}")
    write(lake, Reject, {"run_id": [runs[i % 12] for i in range(20_000)], "stage": ["harvest"] * 20_000,
                         "entity_id": [f"p{i}" for i in range(20_000)],
                         "reason": [("below_rating", "few_keywords", "no_match", "unreadable_pdf")[i % 4] for i in range(20_000)],
                         "at": [now] * 20_000}, "rejects")
    write(lake, Validation, {"run_id": [r for r in runs for _ in range(6)], "stage": ["papers", "candidates"] * 36,
                             "suite": ["s"] * 72, "expectation": [f"expect_{j}" for _ in runs for j in range(6)],
                             "column": [""] * 72, "success": [j != 0 for _ in runs for j in range(6)],
                             "element_count": [1000] * 72, "unexpected_count": [3 if j == 0 else 0 for _ in runs for j in range(6)],
                             "validated_at": [now] * 72}, "validations")
    write(lake, Quarantine, {"run_id": [runs[i % 12] for i in range(120)], "stage": ["papers"] * 120,
                             "entity_id": [f"q{i}" for i in range(120)], "expectation": ["expect_0"] * 120,
                             "row_json": ["{}"] * 120, "at": [now] * 120}, "quarantine")
    queued = ids[np.isin(status, ["done", "drafted"])]
    q = len(queued)
    write(lake, QueueEntry, {"candidate_id": queued.tolist(), "paper_id": [paper_ids[int(c[1:]) // 100] for c in queued],
                             "rank": list(range(1, q + 1)), "raw_score": rng.uniform(1, 5, q).tolist(),
                             "curated_score": rng.uniform(1, 5, q).tolist(), "reason": ["ranked"] * q,
                             "ranked_at": [now] * q}, "queue")
    reviewed = queued[:1000].tolist()
    pairs = [(c, r) for c in reviewed for r in ("ana", "ben")]
    write(lake, ReviewAssignment, {"candidate_id": [c for c, _ in pairs], "reviewer": [r for _, r in pairs],
                                   "assigned_at": [now] * len(pairs)}, "assignments")
    write(lake, ExpertReview, {"candidate_id": [c for c, _ in pairs], "reviewer": [r for _, r in pairs],
                               **{p: rng.integers(1, 6, len(pairs)).tolist() for p in
                                  ("reasoning_density", "problem_clarity", "derivation_correctness",
                                   "problem_difficulty", "human_heuristics")},
                               "decision": ["keep" if i % 3 else "reject" for i in range(len(pairs))],
                               "comment": [""] * len(pairs), "revision": [1] * len(pairs),
                               "submitted_at": [now] * len(pairs)}, "reviews")
    publish_catalog(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()

    import uvicorn

    from dashboards.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(home=str(Path(tmp) / "home"))
        start = time.perf_counter()
        build(settings, args.candidates)
        print(f"lake + catalog with {args.candidates:,} candidates built in {time.perf_counter() - start:.1f} s")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        last_page = args.candidates // 50
        pages = ["/funnel", "/validation", "/spend", "/candidates", "/candidates?status=done&min_score=90",
                 "/candidates?paper=2401.00042", f"/candidates?page_no={last_page}", "/candidates/c050000", "/review"]
        print("\n| page | median ms | min ms | max ms | bytes |\n|---|---:|---:|---:|---:|")
        try:
            for path in pages:
                times, size = [], 0
                for i in range(args.loads + 1):
                    t0 = time.perf_counter()
                    with urllib.request.urlopen(base + path) as response:
                        assert response.status == 200, path
                        size = len(response.read())
                    if i:  # the first load warms up (imports, templates)
                        times.append(1000 * (time.perf_counter() - t0))
                print(f"| `{path}` | {statistics.median(times):.0f} | {min(times):.0f} | {max(times):.0f} | {size:,} |")
        finally:
            server.should_exit = True
            thread.join(timeout=20)


if __name__ == "__main__":
    main()
