"""Review app and curation: submissions under load, page latency, agreement, selection, export.

    .venv/bin/python -m benchmarks.bench_review [--candidates 2000] [--reviewers 10] [--clients 16]

A lake with ``--candidates`` finished candidates (20 per paper, a PDF each) is loaded into a real
``stormborn review serve`` process (uvicorn, SQLite review database); every candidate gets k=2
of ``--reviewers`` reviewers. Then, side by side in one run:

1. All k × candidates reviews submitted over HTTP by ``--clients`` concurrent clients, against
   the same number submitted by one client at a time (a fresh database each): reviews per
   second, the ratio, and latency percentiles. Every form is also posted a second time in the
   concurrent run (a double-submit) and must change nothing.
2. Review page (GET /candidates/{id}) latency with the concurrent clients.
3. Agreement (Krippendorff's α, 5 principles + overall + decision) over all reviews.
4. The app's copy of the reviews into the lake (with the catalog republish), ``select --n 100``
   (including its Great Expectations suite) and ``export`` (jsonl + parquet + hf, no LLM).

The benchmark's clients are Python threads on the same 2 cores as the server, so the
concurrent figures are a floor for the server, not its limit.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import quantiles

import httpx

from benchmarks.common import ROOT

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(home: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "STORMBORN_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "review", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, cwd=ROOT)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("review app did not start")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def _world(root: Path, candidates: int, reviewers: int):
    from tasks.core.settings import load_settings
    from tasks.curate import review
    from tests.factories import candidate_catalog

    settings = load_settings(home=str(root / "home"))
    candidate_catalog(settings, papers=max(1, candidates // 20), per_paper=min(20, candidates), broken=False)
    db = review.open_db(settings)
    tokens = {f"r{i:02d}": review.add_reviewer(db, f"r{i:02d}") for i in range(reviewers)}
    return settings, db, tokens


def _forms(db, seed: int = 1):
    """Reviews like experts': each candidate has a quality, each reviewer scores it give or take
    one point, keeps it when it is 3 or more, and 5 % of the time decides the other way."""
    from tasks.core.records import PRINCIPLES

    rng = random.Random(seed)
    pairs = db.rows("SELECT candidate_id, reviewer FROM assignments ORDER BY candidate_id, reviewer")
    quality = {p["candidate_id"]: rng.randint(1, 5) for p in pairs}
    forms = []
    for p in pairs:
        q = quality[p["candidate_id"]]
        keep = (q >= 3) != (rng.random() < 0.05)
        forms.append((p["candidate_id"], p["reviewer"], {
            **{k: min(5, max(1, q + rng.choice((-1, 0, 0, 1)))) for k in PRINCIPLES},
            "decision": "keep" if keep else "reject", "comment": "benchmark",
            "submission_id": f"s-{p['candidate_id']}-{p['reviewer']}"}))
    return forms


def _submit_all(port: int, tokens: dict, forms: list, clients: int, twice: bool) -> tuple[float, list[float]]:
    jobs = [f for f in forms for _ in range(2 if twice else 1)]
    random.Random(2).shuffle(jobs)
    latencies: list[float] = []
    clients_by_reviewer = {r: httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                           headers={"Authorization": f"Bearer {token}"})
                           for r, token in tokens.items()}  # thread-safe; one connection pool each

    def post(job):
        cid, reviewer, body = job
        client = clients_by_reviewer[reviewer]
        t = time.perf_counter()
        r = client.post(f"/api/candidates/{cid}/review", json=body)
        latencies.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(post, jobs))
    wall = time.perf_counter() - start
    for client in clients_by_reviewer.values():
        client.close()
    return wall, latencies


def _pct(values: list[float]) -> str:
    q = quantiles(values, n=100)
    return f"p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--reviewers", type=int, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--sequential-sample", type=int, default=400,
                        help="Reviews submitted one at a time (a sample: the rate is what matters).")
    args = parser.parse_args()

    from tasks.curate import agreement as agreement_of
    from tasks.curate import export, review, selection

    root = Path(tempfile.mkdtemp(prefix="bench-review-"))
    try:
        t = time.perf_counter()
        settings, db, tokens = _world(root / "a", args.candidates, args.reviewers)
        print(f"lake with {args.candidates} candidates, {args.reviewers} reviewers: {time.perf_counter() - t:.1f} s")

        # 1. concurrent, with every form posted twice
        port = _port()
        t = time.perf_counter()
        proc = _serve(Path(settings.home), port)
        print(f"serve start (load {args.candidates} candidates, assign k=2): {time.perf_counter() - t:.1f} s")
        forms = _forms(db)
        wall, lat = _submit_all(port, tokens, forms, args.clients, twice=True)
        stored = review.all_reviews(db)
        assert len(stored) == len(forms) and all(r.revision == 1 for r in stored)
        concurrent_rate = 2 * len(forms) / wall
        print(f"concurrent: {2 * len(forms)} posts ({len(forms)} reviews, each posted twice) by {args.clients} "
              f"clients in {wall:.1f} s = {concurrent_rate:.0f} posts/s; {_pct(lat)}; stored {len(stored)}, "
              f"all revision 1")

        # 2. page latency
        pages: list[float] = []
        sample = forms[: 400]

        def get(job):
            cid, reviewer, _ = job
            t0 = time.perf_counter()
            r = httpx.get(f"http://127.0.0.1:{port}/candidates/{cid}", timeout=60,
                          headers={"Authorization": f"Bearer {tokens[reviewer]}", "accept": "text/html"})
            pages.append(time.perf_counter() - t0)
            assert r.status_code == 200

        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            list(pool.map(get, sample))
        print(f"review page: {len(sample)} GETs by {args.clients} clients in {time.perf_counter() - t:.1f} s; {_pct(pages)}")
        _stop(proc)

        # 1b. one client at a time, on a fresh database with the same candidates
        settings_b, db_b, tokens_b = _world(root / "b", args.candidates, args.reviewers)
        port_b = _port()
        proc_b = _serve(Path(settings_b.home), port_b)
        forms_b = _forms(db_b)[: args.sequential_sample]
        wall_b, lat_b = _submit_all(port_b, tokens_b, forms_b, 1, twice=False)
        _stop(proc_b)
        sequential_rate = len(forms_b) / wall_b
        print(f"one at a time: {len(forms_b)} posts in {wall_b:.1f} s = {sequential_rate:.0f} posts/s; {_pct(lat_b)}")
        print(f"ratio concurrent / one at a time: {concurrent_rate / sequential_rate:.2f}x")

        # 3-4. agreement, selection, export
        t = time.perf_counter()
        agreement = agreement_of.agreement(stored)
        print(f"agreement over {len(stored)} reviews: {time.perf_counter() - t:.2f} s "
              f"(alpha overall {agreement.alpha['overall']:.3f}, decision {agreement.alpha['decision']:.3f})")
        t = time.perf_counter()
        review.snapshot(settings, db)
        print(f"copy of the reviews to the lake + catalog publish: {time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        rows = selection.select(settings, 100)
        print(f"select --n 100: {time.perf_counter() - t:.2f} s ({sum(r.selected for r in rows)} chosen of {len(rows)})")
        t = time.perf_counter()
        report = export.export(settings, root / "release")
        print(f"export (jsonl, parquet, hf; no LLM): {time.perf_counter() - t:.2f} s, counts {report.counts['derivation']}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
