"""The run-wide LLM concurrency limit on a real Dask cluster (in-process workers)."""

import asyncio
import threading
import time

import pytest
from distributed import Client, LocalCluster, Semaphore

from tasks.io.llm.limit import LocalLimit, run_limit

CONCURRENCY = 6


class InFlight:
    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def enter(self):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self):
        with self.lock:
            self.now -= 1


COUNTERS: dict[str, InFlight] = {}


def task(run_id: str, calls: int, counter: str, start_after: float = 0.0) -> dict:
    """What a generation task does with its limit: many short calls, all at once."""
    async def run():
        await asyncio.sleep(start_after)
        limit = run_limit(run_id, CONCURRENCY)
        local_peak = [0, 0]

        async def call():
            async with limit:
                COUNTERS[counter].enter()
                local_peak[0] += 1
                local_peak[1] = max(local_peak[1], local_peak[0])
                await asyncio.sleep(0.03)
                local_peak[0] -= 1
                COUNTERS[counter].leave()
        await asyncio.gather(*(call() for _ in range(calls)))
        finished = time.monotonic()
        await limit.aclose()
        return {"kind": type(limit).__name__, "peak": local_peak[1], "finished": finished,
                "requests": getattr(limit, "requests", 0)}
    return asyncio.run(run())


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def test_one_task_alone_gets_the_whole_run_limit(client):
    COUNTERS["alone"] = InFlight()
    result = client.submit(task, "run-alone", 60, "alone", pure=False).result()
    assert result["kind"] == "LeasePool"
    assert result["peak"] == CONCURRENCY  # not CONCURRENCY / workers
    # leases are handed from call to call: far fewer scheduler round trips than calls
    assert result["requests"] < 60
    assert Semaphore(name="stormborn-llm-run-alone", max_leases=CONCURRENCY).get_value() == 0  # all given back


def test_tasks_on_two_workers_never_pass_the_run_limit_together(client):
    COUNTERS["two"] = InFlight()
    futures = [client.submit(task, "run-two", 80, "two", pure=False, key=f"t{i}") for i in range(2)]
    results = client.gather(futures)
    assert COUNTERS["two"].peak == CONCURRENCY
    assert sum(r["peak"] for r in results) >= CONCURRENCY  # between them they used it all


def test_a_task_that_starts_late_gets_its_share_while_the_first_is_busy(client):
    """The first task holds every lease; the second starts while the first still has most of its
    calls to send, gets half of the run's limit within a call or two, and finishes first."""
    COUNTERS["late"] = InFlight()
    first = client.submit(task, "run-late", 300, "late", pure=False, key="first")
    second = client.submit(task, "run-late", 40, "late", 0.3, pure=False, key="second")
    first, second = first.result(), second.result()
    assert first["peak"] == CONCURRENCY
    assert second["peak"] >= CONCURRENCY // 2
    assert second["finished"] < first["finished"]
    assert COUNTERS["late"].peak == CONCURRENCY


def test_outside_dask_the_limit_is_a_local_semaphore():
    COUNTERS["local"] = InFlight()
    result = task("run-local", 20, "local")
    assert result["kind"] == LocalLimit.__name__ and result["peak"] == CONCURRENCY
