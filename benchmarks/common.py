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


class CpuShare:
    """Where the machine's CPU went while a block ran: every core's busy time, and the CPU time
    of given processes (a scripted server sharing the cores), from ``psutil``.

        with CpuShare({"server": server.pid}) as share:
            ...
        share.busy_s, share.by_name["server"], share.available_s
    """

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.by_name: dict[str, float] = {}
        self.busy_s = self.available_s = self.wall_s = 0.0

    @staticmethod
    def _busy() -> float:
        import psutil

        times = psutil.cpu_times()
        return sum(times) - times.idle - getattr(times, "iowait", 0.0)

    def _process(self, pid: int) -> float:
        import psutil

        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return times.user + times.system

    def __enter__(self) -> "CpuShare":
        self._start = (time.perf_counter(), self._busy(), {n: self._process(p) for n, p in self.pids.items()})
        return self

    def __exit__(self, *exc: object) -> None:
        import psutil

        wall, busy, own = self._start
        self.wall_s = time.perf_counter() - wall
        self.busy_s = self._busy() - busy
        self.available_s = self.wall_s * (psutil.cpu_count() or 1)
        self.by_name = {n: self._process(p) - own[n] for n, p in self.pids.items()}

    def describe(self) -> str:
        parts = [f"machine busy {self.busy_s:.1f} of {self.available_s:.1f} core-seconds "
                 f"({self.busy_s / max(self.available_s, 1e-9):.0%})"]
        parts += [f"{name} {seconds:.1f} core-s ({seconds / max(self.available_s, 1e-9):.0%} of the cores)"
                  for name, seconds in self.by_name.items()]
        return ", ".join(parts)
