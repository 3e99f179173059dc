"""The harvest and the generation on the production-shaped stack vs a LocalCluster, side by side.

    .venv/bin/python -m benchmarks.bench_stack --papers 2000 --candidates 2000 --workers 2 4 --lake local
    .venv/bin/python -m benchmarks.bench_stack --papers 200 --candidates 200 --workers 2 --lake s3

For each cluster: a LocalCluster of 2 worker processes with a local lake (what ``stormborn demo``
and the CLI use by default), and ``stormborn stack`` with N Dask worker processes (external
scheduler, PostgreSQL-backed Prefect server, the lake on moto's S3 server). On each:

1. ``monthly-harvest`` over a recorded 2,000-paper snapshot (``tests.factories.recorded_snapshot``,
   the snapshot of BENCHMARKS §2), a fresh lake;
2. ``generate-candidates``: 2,000 candidates from 100 synthetic LaTeX papers with the scripted
   OpenAI-compatible server of the tests answering after ``--latency`` (BENCHMARKS §5's set-up).

The flows run in this process (the flow process), their tasks on the cluster. Peak memory per
Dask worker process is sampled (RSS, every 0.2 s) from this process's descendants whose command
line is a multiprocessing child (a LocalCluster worker or the child a ``dask worker`` nanny starts).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from benchmarks.bench_generate import build_lake, start_server
from benchmarks.common import free_port

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


class WorkerMemory:
    """Peak RSS per Dask worker process (descendants of this process started by multiprocessing)."""

    def __init__(self):
        self.peak: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            for child in me.children(recursive=True):
                try:
                    if any("spawn_main" in part or "forkserver" in part for part in child.cmdline()):
                        rss = child.memory_info().rss / 2**20
                        self.peak[child.pid] = max(self.peak.get(child.pid, 0.0), rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    pass
            self._stop.wait(0.2)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def largest(self) -> float:
        return max(self.peak.values(), default=0.0)


def harvest(settings, snapshot: Path):
    from flows.harvest import monthly_harvest
    from flows.runtime import dask_task_runner, prefect_api

    with prefect_api(settings):
        started = time.perf_counter()
        run = monthly_harvest.with_options(task_runner=dask_task_runner(settings))(
            settings=settings, source="snapshot", path=str(snapshot), since=date(2024, 5, 1), until=date(2024, 5, 31))
        return run, time.perf_counter() - started


def generate(settings):
    from flows.generate import generate_candidates
    from flows.runtime import dask_task_runner, prefect_api

    with prefect_api(settings):
        started = time.perf_counter()
        run = generate_candidates.with_options(task_runner=dask_task_runner(settings))(settings=settings)
        return run, time.perf_counter() - started


def with_llm(settings, url: str, candidates: int, concurrency: int):
    papers = candidates // 20
    return settings.model_copy(update={
        "llm": settings.llm.model_copy(update={"base_url": url, "concurrency": concurrency}),
        "generate": settings.generate.model_copy(update={"target": candidates, "targets_per_paper": 20,
                                                          "papers_per_task": max(1, papers // 8)})})


def measure(name: str, settings, gen_settings, snapshot: Path, candidates: int) -> dict:
    with WorkerMemory() as memory:
        run, wall = harvest(settings, snapshot)
    harvest_peak = memory.largest()
    build_lake(gen_settings, candidates // 20, 20, chars=40_000)
    with WorkerMemory() as memory:
        gen, gen_wall = generate(gen_settings)
    return {"name": name, "harvest_wall": wall, "listed": run.listed, "harvest_stages": run.stage_seconds,
            "harvest_peak": harvest_peak, "gen_wall": gen_wall, "candidates": gen.candidates, "calls": gen.llm_calls,
            "gen_agents": gen.stage_seconds.get("generation_agents", 0.0), "gen_peak": memory.largest()}


@contextlib.contextmanager
def stack(home: Path, workers: int):
    from flows.stack import running_stack
    from tasks.core.settings import load_settings

    ports = {f"STORMBORN_STACK__{k.upper()}": str(free_port()) for k in (
        "postgres_port", "prefect_port", "dask_port", "dask_dashboard_port", "s3_port", "review_port",
        "dashboard_port")}
    previous = {k: os.environ.get(k) for k in ports}
    os.environ.update(ports)
    try:
        with running_stack(load_settings(home=str(home)), workers=workers) as settings:
            yield settings
    finally:
        for k, v in previous.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--lake", choices=("s3", "local"), default="s3",
                        help="the stack's lake: its S3 server (moto: slow, a test double) or a local folder "
                             "every process of this machine reaches (the cluster's own cost alone)")
    args = parser.parse_args()

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from benchmarks.common import ensure_prefect
    from tasks.core.settings import load_settings
    from tests.factories import recorded_snapshot

    work = Path(tempfile.mkdtemp(prefix="stormborn-bench-stack-"))
    work.chmod(0o711)  # PostgreSQL runs as its own user and must reach the stack folders below
    os.chdir(work)
    snapshot = recorded_snapshot(work / "snapshot", args.papers)
    server, url = start_server(args.latency)
    results = []
    try:
        api = ensure_prefect(work / "local-prefect")
        with temporary_settings(updates={PREFECT_API_URL: api}):
            local = load_settings(home=str(work / "local"), dask_workers=2)
            local_gen = with_llm(load_settings(home=str(work / "local-gen"), dask_workers=2), url, args.candidates,
                                 args.concurrency)
            results.append(measure("LocalCluster, 2 workers, local lake", local, local_gen, snapshot, args.candidates))
        for n in args.workers:
            with stack(work / f"stack-{n}", n) as on_stack:
                api = f"http://127.0.0.1:{on_stack.stack.prefect_port}/api"
                with temporary_settings(updates={PREFECT_API_URL: api}):
                    # the generation's lake: the same bucket, another prefix (and its own catalog)
                    if args.lake == "local":
                        on_stack = on_stack.model_copy(update={"lake": str(work / f"lake-{n}")})
                    gen = on_stack.model_copy(update={"lake": on_stack.lake.replace("/lake", "/lake-gen"),
                                                      "home": on_stack.home + "/gen"})
                    results.append(measure(f"stack, {n} Dask workers, {args.lake} lake", on_stack,
                                           with_llm(gen, url, args.candidates, args.concurrency), snapshot,
                                           args.candidates))
    finally:
        server.terminate()
        shutil.rmtree(work, ignore_errors=True)

    base = results[0]
    print(f"\nstack benchmark: {args.papers}-paper recorded harvest; {args.candidates} candidates, scripted server "
          f"latency {args.latency * 1000:.0f} ms, llm.concurrency {args.concurrency}")
    print("| cluster | harvest wall | vs LocalCluster | overhead per paper vs LocalCluster | generation wall "
          "| agents stage | vs LocalCluster | per candidate vs LocalCluster | peak RSS per worker (harvest / generation) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['name']} | {r['harvest_wall']:.1f} s | {r['harvest_wall'] / base['harvest_wall']:.2f}× "
              f"| {(r['harvest_wall'] - base['harvest_wall']) / max(1, r['listed']) * 1000:+.2f} ms "
              f"| {r['gen_wall']:.1f} s | {r['gen_agents']:.1f} s | {r['gen_wall'] / base['gen_wall']:.2f}× "
              f"| {(r['gen_wall'] - base['gen_wall']) / max(1, r['candidates']) * 1000:+.2f} ms "
              f"| {r['harvest_peak']:.0f} / {r['gen_peak']:.0f} MB |")
    for r in results:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["harvest_stages"].items())
        print(f"{r['name']}: listed {r['listed']}, candidates {r['candidates']} ({r['calls']} calls); "
              f"harvest stages: {stages}")


if __name__ == "__main__":
    main()
