"""Rerun of an unchanged month: downloads repeated and wall time vs the first run.

    .venv/bin/python -m benchmarks.bench_rerun [--papers 100] [--latency 1.0]

The recorded snapshot replays a per-download latency (``fetch_latency_s``): stormborn downloads
at about one body per second per platform, so a first run is dominated by downloads.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from benchmarks.common import ROOT, ensure_prefect, make_snapshot, run_cli


def fetch_records(home: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in (home / "lake" / "state" / "fetch").rglob("*.json")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=100)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sb-rerun-"))
    snapshot = make_snapshot(work / "snapshot", args.papers, fetch_latency_s=args.latency)
    api = ensure_prefect(work / "prefect-home")
    env = {"PREFECT_API_URL": api, "STORMBORN_HOME": str(work / "home"), "STORMBORN_DASK_WORKERS": "2"}
    cmd = ["harvest", "--source", "snapshot", "--path", str(snapshot), "--since", "2024-05-01",
           "--until", "2024-05-31"]
    first_s = run_cli(cmd, env, ROOT)
    before = fetch_records(work / "home")
    second_s = run_cli(cmd, env, ROOT)
    after = fetch_records(work / "home")

    from tasks.core.settings import load_settings
    from tasks.io.storage import query

    settings = load_settings(home=str(work / "home"))
    runs = query(settings, "SELECT stage_seconds FROM runs ORDER BY started_at")
    refetched = sum(before[k] != after.get(k) for k in before)
    rows = query(settings, "SELECT (SELECT count(*) FROM documents) AS d, (SELECT count(*) FROM papers) AS p").iloc[0]
    print(f"papers: {args.papers}, download latency {args.latency}s, {len(before)} bodies fetched in run 1")
    print(f"first run:  {first_s:7.1f} s   stages {runs.stage_seconds[0]}")
    print(f"rerun:      {second_s:7.1f} s   stages {runs.stage_seconds[1]}")
    print(f"rerun / first: {second_s / first_s:.3f}  (target <= 0.10);  bodies re-downloaded: {refetched}")
    print(f"rows after two runs: documents {rows.d}, papers {rows.p} (no duplicates: {rows.d == 2 * args.papers})")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
