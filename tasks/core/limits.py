"""A deadline and a memory ceiling for one piece of work on untrusted input (one paper).

``run_bounded(fn, *args, deadline_s=…, memory_mb=…)`` runs ``fn`` in a child process forked from
this one, with ``RLIMIT_AS`` raised only ``memory_mb`` above what the child maps when it starts,
and waits at most ``deadline_s`` for its answer. It returns ``fn``'s result, or a ``Limited``
saying which limit was hit: ``timeout`` (the child is killed), ``memory_limit`` (the child ran out
of its allowance: a ``MemoryError``, or MuPDF/C code aborting) or ``crash`` (it died otherwise).

Why a child process and not a watchdog thread: Python cannot stop a thread that is inside C code
(PyMuPDF's parser, the regex engine, pylatexenc's walker), and a thread cannot have a memory
ceiling of its own; a forked child is stopped by the kernel on both counts, and its death takes
nothing else down: the rest of the batch goes on.

The child is long-lived (a ``Sandbox`` per thread and allowance): forking a ~500 MB worker for
every body cost ~20 ms (its page tables are copied), more than parsing most PDFs. The child
serves calls one at a time over a pipe, and is replaced — not reused — after a call that hit a
limit or raised ``MemoryError``, once its own memory has grown by a quarter of the allowance
(what one body leaves behind shrinks the next one's allowance by less than a quarter), and after
``CALLS_PER_CHILD`` calls. Functions and arguments travel through a pipe, pickled (functions by
reference: the child forked after they were imported), and so do the results. The sandbox is a
resource limit, not a security boundary: the child runs as the same user with the parent's
memory, and the parent unpickles what it sends back (as it did when each body had its own fork).
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import cloudpickle

T = TypeVar("T")


@dataclass(frozen=True)
class Limited:
    """The work was stopped: ``timeout``, ``memory_limit`` or ``crash``, and how."""

    reason: str
    detail: str


def _mapped_bytes() -> int:
    """This process's virtual size (what ``RLIMIT_AS`` counts)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


CALLS_PER_CHILD = 500
_HEADER = struct.Struct("!Q")
_FORK_LOCK = threading.Lock()


def _send(fd: int, obj: Any) -> None:
    # cloudpickle (Dask's own): module-level functions by reference, a closure (a test's stand-in)
    # by value; the bytes of a body pickle as fast as with pickle.
    data = cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _receive(fd: int, deadline: float | None = None) -> Any:
    """One message, or ``EOFError`` (the other end closed) / ``TimeoutError`` (past ``deadline``)."""
    def exactly(n: int) -> bytes:
        chunks, left = [], n
        while left:
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                    raise TimeoutError
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    (size,) = _HEADER.unpack(exactly(_HEADER.size))
    return pickle.loads(exactly(size))


def _serve(requests: int, replies: int, memory_bytes: int) -> None:
    """The child's loop: never returns (``os._exit``: no atexit handlers, no flushing of the
    parent's buffers). Exit codes: 0 done or retiring, 3 out of memory outside the work."""
    code = 0
    try:
        baseline = _mapped_bytes()
        ceiling = baseline + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
        for served in range(1, CALLS_PER_CHILD + 1):
            try:
                fn, args = _receive(requests)
            except EOFError:  # the parent closed the pipe, or died
                break
            retire = False
            try:
                result: tuple[str, Any] = ("ok", fn(*args))
            except MemoryError:
                result, retire = ("memory_limit", f"ran out of its {memory_bytes // 2**20} MB allowance"), True
            except BaseException as exc:  # the work's own errors travel back and are raised in the parent
                result = ("error", exc)
            retire = retire or served == CALLS_PER_CHILD or _mapped_bytes() - baseline > memory_bytes // 4
            try:
                _send(replies, (*result, retire))  # the parent reaps a retiring child at once
            except (pickle.PicklingError, TypeError, AttributeError):  # an exception that does not pickle
                _send(replies, ("error", RuntimeError(f"{type(result[1]).__name__}: {result[1]}"[:2000]), retire))
            if retire:
                break
    except MemoryError:
        code = 3
    except BaseException:
        code = 4
    os._exit(code)


class Sandbox:
    """One long-lived child with a memory allowance; one call at a time (one per thread)."""

    def __init__(self, memory_mb: int):
        self.memory_mb = memory_mb
        self.pid: int | None = None
        self.started = 0
        """Children started so far (for tests and benchmarks)."""
        self._requests = self._replies = -1

    def _start(self) -> None:
        # One thread forks at a time: a child forked by another thread between these pipes'
        # creation and their closing here would hold this child's ends, and this child's death
        # would then never read as an end of file.
        with _FORK_LOCK:
            request_read, request_write = os.pipe()
            reply_read, reply_write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(request_write)
                os.close(reply_read)
                _serve(request_read, reply_write, self.memory_mb * 2**20)
            os.close(request_read)
            os.close(reply_write)
        self.pid, self._requests, self._replies = pid, request_write, reply_read
        self.started += 1

    def _end(self, kill: bool, status: int | None = None) -> int:
        """Stop the child (or let it finish exiting, or take the ``status`` it already exited
        with); returns its wait status."""
        if kill:
            os.kill(self.pid, signal.SIGKILL)
        for fd in (self._requests, self._replies):
            os.close(fd)
        if status is None:
            _, status = os.waitpid(self.pid, 0)
        self.pid = None
        return status

    def run(self, fn: Callable[..., T], args: tuple, deadline_s: float) -> T | Limited:
        if self.pid is not None:
            exited, status = os.waitpid(self.pid, os.WNOHANG)
            if exited:  # died while idle (the OOM killer): not this body's doing
                self._end(kill=False, status=status)
        if self.pid is None:
            self._start()
        try:
            _send(self._requests, (fn, args))
            kind, value, retiring = _receive(self._replies, time.monotonic() + deadline_s)
        except TimeoutError:
            self._end(kill=True)
            return Limited("timeout", f"not finished after {deadline_s:g} s")
        except (EOFError, BrokenPipeError):
            return self._death(self._end(kill=False))
        except BaseException:  # anything else mid-exchange: the child's state is unknown, it goes
            self._end(kill=True)
            raise
        if retiring:
            self._end(kill=False)
        if kind == "ok":
            return value
        if kind == "memory_limit":
            return Limited("memory_limit", value)
        raise value

    def _death(self, status: int) -> Limited:
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS,
                                                              signal.SIGKILL):
            return Limited("memory_limit", f"the process died with {signal.Signals(os.WTERMSIG(status)).name} "
                                           f"within a {self.memory_mb} MB allowance")
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3:
            return Limited("memory_limit", f"ran out of its {self.memory_mb} MB allowance")
        return Limited("crash", f"the process ended ({status}) without an answer")


_sandboxes = threading.local()


def run_bounded(fn: Callable[..., T], *args: Any, deadline_s: float, memory_mb: int) -> T | Limited:
    """``fn(*args)`` within a deadline and a memory allowance (see the module docstring), in this
    thread's sandbox for that allowance.

    ``os.fork`` directly, not ``multiprocessing``: Dask's worker processes are daemonic, and
    ``multiprocessing`` refuses to start children from a daemonic process."""
    pool = getattr(_sandboxes, "by_allowance", None)
    if pool is None or getattr(_sandboxes, "pid", None) != os.getpid():  # a forked copy owns no children
        pool = _sandboxes.by_allowance = {}
        _sandboxes.pid = os.getpid()
    sandbox = pool.get(memory_mb)
    if sandbox is None:
        sandbox = pool[memory_mb] = Sandbox(memory_mb)
    return sandbox.run(fn, args, deadline_s)
