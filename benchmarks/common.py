"""Shared helpers for the benchmarks: synthetic recorded snapshots and a Prefect API."""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
OUT = ROOT / "benchmarks" / "out"

def make_snapshot(folder: Path, n_papers: int, fetch_latency_s: float = 0.0) -> Path:
    """A recorded snapshot of ``n_papers`` papers (``tests.factories.recorded_snapshot``)."""
    from tests.factories import recorded_snapshot

    return recorded_snapshot(folder, n_papers, fetch_latency_s)


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """Run ``stormborn ARGS`` in a fresh process; returns its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flows.cli", *args], env={**os.environ, **env}, cwd=cwd,
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_prefect(home: Path) -> str:
    """A Prefect server of this benchmark's own (its home, a free port), stopped when the
    benchmark exits: one left running would outlive its database, deleted with the home."""
    from flows.runtime import start_local_server, stop_local_server
    from tasks.core.settings import load_settings

    settings = load_settings(home=str(home), prefect_port=free_port())
    api = start_local_server(settings)
    atexit.register(stop_local_server, settings)
    return api
