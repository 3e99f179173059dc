"""Work on untrusted input within a deadline and a memory allowance, in a long-lived child process."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tasks.core import limits
from tasks.core.limits import Limited, Sandbox, run_bounded


def spin() -> None:
    while True:
        pass


def hog() -> bytes:
    chunks = []
    while True:
        chunks.append(bytearray(64 * 2**20))


def add(a: int, b: int) -> int:
    return a + b


def fail() -> None:
    raise ValueError("the work's own error")


def test_a_result_comes_back():
    assert run_bounded(add, 2, 3, deadline_s=10, memory_mb=256) == 5


def test_endless_work_is_stopped_at_the_deadline():
    started = time.perf_counter()
    limited = run_bounded(spin, deadline_s=0.5, memory_mb=256)
    assert limited == Limited("timeout", "not finished after 0.5 s") and time.perf_counter() - started < 5


def test_a_memory_hog_is_stopped_at_its_allowance():
    limited = run_bounded(hog, deadline_s=30, memory_mb=256)
    assert isinstance(limited, Limited) and limited.reason == "memory_limit"


def test_the_works_own_errors_are_raised_in_the_caller():
    with pytest.raises(ValueError, match="own error"):
        run_bounded(fail, deadline_s=10, memory_mb=256)


def crash() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def grow(mb: int) -> int:
    global KEPT
    KEPT = bytearray(mb * 2**20)  # left behind in the child, as a leaky parser would
    return mb


def test_one_child_serves_many_calls_and_is_replaced_after_a_limit():
    sandbox = Sandbox(256)
    assert [sandbox.run(add, (i, 1), 10) for i in range(5)] == [1, 2, 3, 4, 5]
    assert sandbox.started == 1  # no fork per call
    assert sandbox.run(spin, (), 0.3).reason == "timeout"
    assert sandbox.run(add, (1, 1), 10) == 2 and sandbox.started == 2
    assert sandbox.run(hog, (), 30).reason == "memory_limit"
    assert sandbox.run(add, (2, 2), 10) == 4 and sandbox.started == 3
    with pytest.raises(ValueError):
        sandbox.run(fail, (), 10)
    assert sandbox.run(add, (3, 3), 10) == 6 and sandbox.started == 3  # its own error: the child goes on


def test_a_child_that_dies_is_a_crash_and_the_next_call_gets_a_new_one():
    sandbox = Sandbox(256)
    limited = sandbox.run(crash, (), 10)
    assert isinstance(limited, Limited) and limited.reason == "crash"
    assert sandbox.run(add, (1, 2), 10) == 3 and sandbox.started == 2


def test_a_child_whose_memory_grew_is_retired_so_the_next_body_gets_its_whole_allowance():
    sandbox = Sandbox(256)
    assert sandbox.run(grow, (100,), 10) == 100  # over a quarter of 256 MB left behind
    assert sandbox.run(add, (1, 1), 10) == 2 and sandbox.started == 2
    assert sandbox.run(grow, (10,), 10) == 10
    assert sandbox.run(add, (1, 1), 10) == 2 and sandbox.started == 2  # a little: kept


def test_the_child_is_replaced_after_its_quota_of_calls(monkeypatch):
    monkeypatch.setattr(limits, "CALLS_PER_CHILD", 3)
    sandbox = Sandbox(256)
    assert [sandbox.run(add, (i, 0), 10) for i in range(7)] == list(range(7))
    assert sandbox.started == 3


def _refuse() -> None:
    raise TypeError("this answer cannot be read back")


class Unreadable:
    def __reduce__(self):  # pickles in the child, fails to unpickle in the parent
        return _refuse, ()


def unreadable() -> Unreadable:
    return Unreadable()


def test_an_answer_the_parent_cannot_read_ends_that_child_not_the_next_body():
    sandbox = Sandbox(256)
    with pytest.raises(TypeError):
        sandbox.run(unreadable, (), 10)
    assert sandbox.run(add, (1, 1), 10) == 2 and sandbox.started == 2


def test_a_child_killed_while_idle_is_not_blamed_on_the_next_body():
    sandbox = Sandbox(256)
    assert sandbox.run(add, (1, 1), 10) == 2
    os.kill(sandbox.pid, signal.SIGKILL)  # as the kernel's OOM killer would
    time.sleep(0.1)
    assert sandbox.run(add, (2, 2), 10) == 4 and sandbox.started == 2


class Unsendable(Exception):
    def __init__(self):
        super().__init__("holds a lock")
        self.lock = threading.Lock()  # cannot be pickled


def unsendable() -> None:
    raise Unsendable()


def test_an_error_that_does_not_pickle_comes_back_as_text_and_the_child_goes_on():
    sandbox = Sandbox(256)
    with pytest.raises(RuntimeError, match="Unsendable: holds a lock"):
        sandbox.run(unsendable, (), 10)
    assert sandbox.run(add, (1, 1), 10) == 2 and sandbox.started == 1
