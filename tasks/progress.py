"""Waiting on many task futures, with a progress bar when a person is watching."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def gather(futures: list[Any], label: str) -> list[Any]:
    """Results of Prefect futures in submission order; a progress bar on an interactive stderr."""
    from prefect.futures import as_completed

    if not futures:
        return []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), disable=not sys.stderr.isatty(), transient=True) as bar:
        task = bar.add_task(label, total=len(futures))
        for _ in as_completed(futures):
            bar.advance(task)
    return [f.result() for f in futures]


@contextmanager
def timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    """Add the wall time of a block to ``seconds[stage]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = round(seconds.get(stage, 0.0) + time.perf_counter() - start, 3)
