"""A harvest killed with SIGKILL in the middle of its downloads, then run again.

    .venv/bin/python -m benchmarks.reliability_resume [--papers 60] [--latency 0.5] [--kill-at 0.5]

The recorded snapshot replays a per-download latency, so the documents stage takes a while; the
whole ``stormborn harvest`` process group (flow process and Dask workers) is killed once
``--kill-at`` of the bodies have been fetched. The second run must finish the month, fetch
none of the bodies the killed run already stored (skip-if-unchanged, ``tasks.io.memo``), and
leave no duplicate rows. Prints the figures RELIABILITY.md quotes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, ensure_prefect, make_snapshot, run_cli


def fetch_records(home: Path) -> dict[str, bytes]:
    folder = home / "lake" / "state" / "fetch"
    return {str(p): p.read_bytes() for p in folder.rglob("*.json")} if folder.exists() else {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--kill-at", type=float, default=0.5, help="Share of the bodies fetched before the kill.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sb-resume-"))
    home = work / "home"
    snapshot = make_snapshot(work / "snapshot", args.papers, fetch_latency_s=args.latency)
    api = ensure_prefect(work / "prefect-home")
    env = {**os.environ, "PREFECT_API_URL": api, "STORMBORN_HOME": str(home), "STORMBORN_DASK_WORKERS": "2"}
    cmd = ["harvest", "--source", "snapshot", "--path", str(snapshot), "--since", "2024-05-01", "--until", "2024-05-31"]
    bodies = 2 * args.papers  # every paper of the snapshot has a LaTeX source and a PDF
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", *cmd], env=env, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while len(fetch_records(home)) < args.kill_at * bodies and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_after = time.perf_counter() - started
    before = fetch_records(home)
    resumed_s = run_cli(cmd, {k: v for k, v in env.items() if k.startswith(("PREFECT_", "STORMBORN_"))}, ROOT)
    after = fetch_records(home)

    from tasks.core.settings import load_settings
    from tasks.io.storage import query

    settings = load_settings(home=str(home))
    runs = query(settings, "SELECT status, documents_fetched, keyword_pass FROM runs ORDER BY started_at")
    rows = query(settings, "SELECT (SELECT count(*) FROM documents) AS d, (SELECT count(*) FROM papers) AS p, "
                           "(SELECT count(DISTINCT paper_id || kind) FROM documents) AS distinct_d").iloc[0]
    refetched = sum(before[k] != after.get(k) for k in before)
    print(f"papers {args.papers}, bodies {bodies}, download latency {args.latency}s")
    print(f"killed run: SIGKILL after {killed_after:.1f} s with {len(before)}/{bodies} bodies stored; "
          f"its runs row says {runs.status[0]!r}")
    print(f"resumed run: {resumed_s:.1f} s, status {runs.status.iloc[-1]!r}, documents fetched "
          f"{runs.documents_fetched.iloc[-1]}/{args.papers} papers")
    print(f"bodies stored before the kill fetched again: {refetched}/{len(before)}; "
          f"fetched by the resumed run: {len(after) - len(before)}")
    print(f"rows: documents {rows.d} ({rows.distinct_d} distinct), papers {rows.p}; "
          f"duplicates: {rows.d - rows.distinct_d}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
