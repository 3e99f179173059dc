"""One concurrency limit for a whole run, however many Dask workers its tasks land on.

``llm.concurrency`` is the number of calls in flight for the run. A static split (each task gets
``concurrency / workers``) leaves a run of one or two papers, or the last task of a large run,
with a fraction of it while the other workers sit idle. Instead the run's tasks share a
``distributed.Semaphore`` on the Dask scheduler with ``concurrency`` leases:

- a task's ``LeasePool`` takes leases as its calls wait for one, keeps them while it has calls
  to send (a lease is handed from a finished call to the next without asking the scheduler),
  and gives back those it has not used for ``IDLE_S`` seconds, and all of them when it closes;
- so a busy task can hold every lease while the others are idle, the run never has more than
  ``concurrency`` calls in flight, and the scheduler sees a few requests per task, not two per
  call (a lease costs a round trip to the scheduler; a call reuses it for free);
- leases of a killed worker expire with Dask's lease timeout
  (``distributed.scheduler.locks.lease-timeout``) and go to the tasks that are still running.

Outside a Dask worker (a sequential run, a test, the CLI's own process) the pool is a plain
``asyncio.Semaphore`` of the whole concurrency.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any

IDLE_S = 0.5
"""A lease unused this long goes back to the scheduler (a lease costs a round trip to get)."""
RETRY_S = (0.02, 0.25)
"""When every lease is taken: first and longest wait before asking the scheduler again."""


class LocalLimit:
    """The limit of one process: an asyncio semaphore."""

    def __init__(self, concurrency: int):
        self.concurrency = concurrency
        self._semaphore = asyncio.Semaphore(concurrency)

    async def __aenter__(self) -> None:
        await self._semaphore.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self._semaphore.release()

    async def aclose(self) -> None:
        pass


class LeasePool:
    """This task's share of a run-wide ``distributed.Semaphore``, grown and shrunk with demand."""

    def __init__(self, semaphore: Any, concurrency: int):
        self.concurrency = concurrency
        self._semaphore = semaphore
        self.held = 0
        self.in_use = 0
        self.requests = 0
        """Round trips to the scheduler (acquire attempts and releases): for tests and benchmarks."""
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._growing: asyncio.Task | None = None
        self._shrinking: asyncio.TimerHandle | None = None
        self._closed = False

    async def __aenter__(self) -> None:
        if self.in_use < self.held and not self._waiters:
            self.in_use += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        if self._growing is None or self._growing.done():
            self._growing = asyncio.create_task(self._grow())
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # the lease was handed over: pass it on
                self._hand_back()
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._hand_back()

    def _hand_back(self) -> None:
        self.in_use -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_use += 1
                waiter.set_result(None)
                return
        if self.held > self.in_use and self._shrinking is None and not self._closed:
            self._shrinking = asyncio.get_running_loop().call_later(IDLE_S, self._shrink)

    async def _grow(self) -> None:
        wait = RETRY_S[0]
        while any(not w.done() for w in self._waiters) and self.held < self.concurrency and not self._closed:
            self.requests += 1
            got = await asyncio.to_thread(self._semaphore.acquire, timeout=0)
            if not got:  # every lease is in use somewhere in the run: ask again shortly
                await asyncio.sleep(wait)
                wait = min(wait * 2, RETRY_S[1])
                continue
            wait = RETRY_S[0]
            if self._closed:  # closed while asking: give it straight back
                await asyncio.to_thread(self._semaphore.release)
                return
            self.held += 1
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    self.in_use += 1
                    waiter.set_result(None)
                    break
            else:
                self._start_shrink()

    def _start_shrink(self) -> None:
        if self._shrinking is None and not self._closed:
            self._shrinking = asyncio.get_running_loop().call_later(IDLE_S, self._shrink)

    def _shrink(self) -> None:
        self._shrinking = None
        spare = self.held - self.in_use
        if spare > 0 and not self._waiters:
            self.held -= spare
            self.requests += spare
            task = asyncio.get_running_loop().create_task(self._release(spare))
            task.add_done_callback(lambda t: t.exception())  # a failed release expires on its own

    async def _release(self, leases: int) -> None:
        for _ in range(leases):
            await asyncio.to_thread(self._semaphore.release)

    async def aclose(self) -> None:
        """Give every lease back (the run's other tasks get them at once, not at the timeout)."""
        self._closed = True
        if self._shrinking is not None:
            self._shrinking.cancel()
        if self._growing is not None:  # not cancelled: a lease it is getting must not be lost
            with contextlib.suppress(Exception):
                await self._growing
        leases, self.held = self.held, 0
        with contextlib.suppress(Exception):  # unreleased leases expire with Dask's lease timeout
            await self._release(leases)
        refresh = getattr(self._semaphore, "refresh_callback", None)
        if refresh is not None:  # Dask refreshes a semaphore's leases on the worker's loop until stopped
            self._semaphore.loop.add_callback(refresh.stop)


def run_limit(run_id: str, concurrency: int) -> LocalLimit | LeasePool:
    """The run's shared limit when this runs on a Dask worker, else this process's own."""
    try:
        from distributed import Semaphore, get_worker

        get_worker()
    except (ImportError, ValueError):
        return LocalLimit(concurrency)
    return LeasePool(Semaphore(max_leases=concurrency, name=f"stormborn-llm-{run_id}"), concurrency)
