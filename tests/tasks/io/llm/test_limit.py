"""The run-wide LLM concurrency limit on a real Dask cluster (in-process workers)."""

import asyncio
import threading
import time

import pytest
from distributed import Client, LocalCluster, Semaphore

from tasks.io.llm.limit import LeasePool, LocalLimit, run_limit

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


class FakeSemaphore:
    """The scheduler's semaphore as a LeasePool sees it (acquire with timeout, release,
    get_value), in-process; ``broken`` makes every call fail like a lost scheduler."""

    def __init__(self, leases: int):
        self.free = leases
        self.lock = threading.Lock()
        self.broken = False

    def acquire(self, timeout=None):
        if self.broken:
            raise OSError("scheduler connection closed")
        deadline = time.monotonic() + (timeout or 0)
        while True:
            with self.lock:
                if self.free:
                    self.free -= 1
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    def release(self):
        if self.broken:
            raise OSError("scheduler connection closed")
        with self.lock:
            self.free += 1

    def get_value(self):
        if self.broken:
            raise OSError("scheduler connection closed")
        return 10**6 - self.free


def test_a_lost_scheduler_does_not_leave_calls_waiting_forever():
    async def run():
        leases, pools = FakeSemaphore(4), FakeSemaphore(10**6)
        leases.broken = True
        pool = LeasePool(leases, pools, 4)
        done = []

        async def call(i):
            async with pool:
                await asyncio.sleep(0.01)
                done.append(i)
        await asyncio.wait_for(asyncio.gather(*(call(i) for i in range(10))), 5)
        await pool.aclose()
        return done
    assert sorted(asyncio.run(run())) == list(range(10))


def test_a_steady_task_gives_leases_back_when_a_peer_arrives():
    """Task A never waits (its demand equals what it holds) and must still notice task B."""
    async def run():
        leases, pools = FakeSemaphore(8), FakeSemaphore(10**6)
        a, b = LeasePool(leases, pools, 8), LeasePool(leases, pools, 8)
        stop = asyncio.Event()

        async def steady(pool):
            while not stop.is_set():
                async with pool:
                    await asyncio.sleep(0.02)
        workers = [asyncio.create_task(steady(a)) for _ in range(8)]
        await asyncio.sleep(0.5)
        assert a.held == 8
        late = [asyncio.create_task(steady(b)) for _ in range(8)]
        await asyncio.sleep(1.5)
        held = (a.held, b.held)
        stop.set()
        await asyncio.gather(*workers, *late)
        await a.aclose()
        await b.aclose()
        return held
    a_held, b_held = asyncio.run(run())
    assert b_held >= 4 and a_held <= 4
