"""One concurrency limit for a whole run, however many Dask workers its tasks land on.

``llm.concurrency`` is the number of calls in flight for the run. A static split (each task gets
``concurrency / workers``) leaves a run of one or two papers, or the last task of a large run,
with a fraction of it while the other workers sit idle. Instead the run's tasks share a
``distributed.Semaphore`` on the Dask scheduler with ``concurrency`` leases:

- a task's ``LeasePool`` takes leases as its calls wait for one and hands a lease from a finished
  call to the next without asking the scheduler; leases it has not used for ``IDLE_S`` seconds
  go back, and all of them when it closes;
- tasks with calls to send hold a lease of a second semaphore (the run's "pools"), so each knows
  how many are busy and what its fair share is (``concurrency / busy tasks``); a task above its
  share gives a lease back as a call finishes, so a task that starts late gets its share within
  a call's latency, and a task alone (or whose peers are idle) can hold every lease. Fair shares
  matter beyond fairness: every call costs its task's event loop a few milliseconds of CPU, and
  one worker driving the whole run's concurrency would make its core the bottleneck;
- the scheduler sees a few requests per task and second, not two per call;
- leases of a killed worker expire with Dask's lease timeout
  (``distributed.scheduler.locks.lease-timeout``) and go to the tasks that are still running.

Outside a Dask worker (a sequential run, a test, the CLI's own process) the limit is a plain
``asyncio.Semaphore`` of the whole concurrency.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import Any

logger = logging.getLogger(__name__)

IDLE_S = 0.5
"""A lease unused this long goes back to the scheduler (a lease costs a round trip to get)."""
RETRY_S = (0.02, 0.25)
"""When every lease is taken: first and longest wait before asking the scheduler again."""
SHARE_EVERY_S = 0.25
"""How often a task with calls waiting asks how many tasks are busy (its fair share)."""
WAIT_S = 0.1
"""A task below its share waits this long at the scheduler for a lease a peer gives back."""
BORROW_PAUSE_S = 1.0
"""After giving a lease back, a task does not borrow above its share for this long (else two
busy tasks would pass leases back and forth)."""


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
    """This task's share of the run's leases on the Dask scheduler, grown and shrunk with demand."""

    def __init__(self, leases: Any, pools: Any, concurrency: int):
        self.concurrency = concurrency
        self._leases = leases
        self._pools = pools
        self.held = 0
        self.in_use = 0
        self.fair = concurrency
        self.requests = 0
        """Round trips to the scheduler: for tests and benchmarks."""
        self.peak = 0
        """Most leases held at once."""
        self._busy = False  # holds a lease of the pools semaphore
        self._share_at = 0.0
        self._gave_back_at = -BORROW_PAUSE_S
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._growing: asyncio.Task | None = None
        self._shrinking: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task] = set()
        self._closed = False
        self._local = False

    async def __aenter__(self) -> None:
        if self._closed:
            raise RuntimeError("the gateway's concurrency limit is closed")
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
        if not self._local and time.monotonic() - self._share_at >= SHARE_EVERY_S and not self._closed:
            self._share_at = time.monotonic()  # a task that never waits must still see peers arrive
            self._in_background(self._refresh_share())
        if self.held > self.fair and not self._local:  # a peer is short of its share: this lease goes back
            self.held -= 1
            self._gave_back_at = time.monotonic()
            self._in_background(self._call(self._leases.release))
            return
        if self._give_to_waiter():
            return
        self._start_shrink()

    def _give_to_waiter(self) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_use += 1
                waiter.set_result(None)
                return True
        return False

    async def _call(self, method, *args, **kwargs):
        self.requests += 1
        return await asyncio.to_thread(method, *args, **kwargs)

    def _in_background(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # a failed release expires

    async def _refresh_share(self) -> None:
        busy = await self._call(self._pools.get_value)
        self.fair = max(1, self.concurrency // max(1, busy))

    def _go_local(self) -> None:
        """The scheduler failed us: go on with the whole concurrency in this task alone (the run
        may pass its limit while the scheduler is away; no call waits forever for it)."""
        logger.warning("the Dask scheduler did not answer for LLM leases: this task goes on with a "
                       "limit of its own (%d)", self.concurrency, exc_info=True)
        self._local = True
        self.held = self.fair = self.concurrency
        while self.in_use < self.held and self._give_to_waiter():
            pass

    async def _grow(self) -> None:
        try:
            await self._grow_with_scheduler()
        except Exception:  # a lost scheduler connection, a semaphore the scheduler forgot
            self._go_local()

    async def _grow_with_scheduler(self) -> None:
        wait = RETRY_S[0]
        while any(not w.done() for w in self._waiters) and not self._closed and not self._local:
            if not self._busy:
                await self._call(self._pools.acquire)
                self._busy = True
            if time.monotonic() - self._share_at >= SHARE_EVERY_S:
                self._share_at = time.monotonic()
                await self._refresh_share()
            below_share = self.held < self.fair
            may_borrow = self.held < self.concurrency and time.monotonic() - self._gave_back_at >= BORROW_PAUSE_S
            got = False
            if below_share:  # wait a little at the scheduler: a peer above its share gives leases back
                got = await self._call(self._leases.acquire, timeout=WAIT_S)
            elif may_borrow:  # only a lease nobody holds
                got = await self._call(self._leases.acquire, timeout=0)
            if not got:
                await asyncio.sleep(0 if below_share else wait)
                wait = min(wait * 2, RETRY_S[1])
                continue
            wait = RETRY_S[0]
            if self._closed:  # closed while asking: give it straight back
                await self._call(self._leases.release)
                return
            self.held += 1
            self.peak = max(self.peak, self.held)
            if not self._give_to_waiter():
                self._start_shrink()

    def _start_shrink(self) -> None:
        if self._shrinking is None and not self._closed and self.held > self.in_use:
            self._shrinking = asyncio.get_running_loop().call_later(IDLE_S, self._shrink)

    def _shrink(self) -> None:
        self._shrinking = None
        if self._waiters or self._local:
            return
        spare = self.held - self.in_use
        self.held -= spare
        self._in_background(self._release(spare, idle=self.in_use == 0))

    async def _release(self, leases: int, idle: bool = False) -> None:
        for _ in range(leases):
            await self._call(self._leases.release)
        if idle and self._busy:  # no calls at all: not busy, peers may take the whole run's share
            self._busy = False
            await self._call(self._pools.release)

    async def aclose(self) -> None:
        """Give every lease back (the run's other tasks get them at once, not at the timeout)."""
        self._closed = True
        if self._shrinking is not None:
            self._shrinking.cancel()
        if self._growing is not None:  # not cancelled: a lease it is getting must not be lost
            with contextlib.suppress(Exception):
                await self._growing
        for waiter in self._waiters:  # none in a normal close: the gateway's calls are done
            if not waiter.done():
                waiter.set_exception(RuntimeError("the gateway's concurrency limit is closed"))
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        leases, self.held = (0 if self._local else self.held), 0
        with contextlib.suppress(Exception):  # unreleased leases expire with Dask's lease timeout
            await self._release(leases, idle=True)
        for semaphore in (self._leases, self._pools):
            refresh = getattr(semaphore, "refresh_callback", None)
            if refresh is not None:  # Dask refreshes a semaphore's leases on the worker's loop until stopped
                semaphore.loop.add_callback(refresh.stop)


def run_limit(run_id: str, concurrency: int) -> LocalLimit | LeasePool:
    """The run's shared limit when this runs on a Dask worker, else this process's own."""
    try:
        from distributed import Semaphore, get_worker

        get_worker()
    except (ImportError, ValueError):
        return LocalLimit(concurrency)
    return LeasePool(Semaphore(max_leases=concurrency, name=f"stormborn-llm-{run_id}"),
                     Semaphore(max_leases=10**6, name=f"stormborn-llm-{run_id}-pools"), concurrency)
