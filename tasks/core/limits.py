"""A deadline and a memory ceiling for one piece of work on untrusted input (one paper).

``run_bounded(fn, *args, deadline_s=…, memory_mb=…)`` runs ``fn`` in a child process forked from
this one, with ``RLIMIT_AS`` raised only ``memory_mb`` above what the parent already maps, and
waits at most ``deadline_s`` for its answer. It returns ``fn``'s result, or a ``Limited`` saying
which limit was hit: ``timeout`` (the child is killed), ``memory_limit`` (the child ran out of
its allowance: a ``MemoryError``, or MuPDF/C code aborting) or ``crash`` (it died otherwise).

Why a child process and not a watchdog thread: Python cannot stop a thread that is inside C code
(PyMuPDF's parser, the regex engine, pylatexenc's walker), and a thread cannot have a memory
ceiling of its own; a forked child is stopped by the kernel on both counts, costs ~7 ms to start
on these machines (the parent's modules are already loaded, copy-on-write), and its death takes
nothing else down: the rest of the batch goes on.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

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


def _in_child(write_fd: int, fn: Callable[..., Any], args: tuple, memory_bytes: int) -> None:
    """Run in the forked child: never returns (``os._exit``: no atexit handlers, no flushing of
    the parent's buffers)."""
    code = 0
    try:
        ceiling = _mapped_bytes() + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
        try:
            result: tuple[str, Any] = ("ok", fn(*args))
        except MemoryError:
            result = ("memory_limit", f"ran out of its {memory_bytes // 2**20} MB allowance")
        except BaseException as exc:  # the work's own errors travel back and are raised in the parent
            result = ("error", exc)
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(data)
    except MemoryError:
        code = 3
    except BaseException:
        code = 4
    os._exit(code)


def run_bounded(fn: Callable[..., T], *args: Any, deadline_s: float, memory_mb: int) -> T | Limited:
    """``fn(*args)`` within a deadline and a memory allowance (see the module docstring).

    ``os.fork`` directly, not ``multiprocessing``: Dask's worker processes are daemonic, and
    ``multiprocessing`` refuses to start children from a daemonic process."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _in_child(write_fd, fn, args, memory_mb * 2**20)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + deadline_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                return Limited("timeout", f"not finished after {deadline_s:g} s")
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
    if not chunks:
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS,
                                                              signal.SIGKILL):
            return Limited("memory_limit", f"the process died with {signal.Signals(os.WTERMSIG(status)).name} "
                                           f"within a {memory_mb} MB allowance")
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3:
            return Limited("memory_limit", f"ran out of its {memory_mb} MB allowance")
        return Limited("crash", f"the process ended ({status}) without an answer")
    kind, value = pickle.loads(b"".join(chunks))
    if kind == "ok":
        return value
    if kind == "memory_limit":
        return Limited("memory_limit", value)
    raise value
