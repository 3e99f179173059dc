"""Work on untrusted input within a deadline and a memory allowance, in a child process."""

from __future__ import annotations

import time

import pytest

from tasks.core.limits import Limited, run_bounded


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
