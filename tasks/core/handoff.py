"""The task hand-off: how stage work is wrapped as Prefect tasks and how its results come back.

- ``stage_task``: the decorator for every stage task (no Prefect result cache: skip-if-unchanged
  is ``tasks.io.memo``'s job, keyed on inputs and code; no Prefect retries: each step records
  its own failures as rejects and the run goes on).
- ``Opaque``: a holder for large arguments of submitted tasks (thousands of records).
- ``gather``: wait for submitted tasks, in submission order, with a progress bar on a terminal.
- ``timed``: add a block's wall time to a stage's seconds.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

stage_task = task(cache_policy=NO_CACHE, retries=0)


class Opaque:
    """A value handed to a submitted task without Prefect walking into it.

    Prefect visits every task argument looking for futures, which costs seconds for thousands of
    pydantic records. ``prefect.utilities.annotations.quote`` avoids that for direct calls, but
    prefect-dask 0.3.7 hands ``quote``/``opaque`` wrappers to the task still wrapped, so
    submitted tasks take their large arguments in this plain holder instead.
    """

    __slots__ = ("value", "_token")

    def __init__(self, value):
        self.value = value
        self._token = uuid.uuid4().hex

    def __dask_tokenize__(self) -> str:
        return self._token  # Dask would otherwise hash every record to name the task


def gather(futures: list[Any], label: str) -> list[Any]:
    """Results of Prefect futures in submission order; a progress bar on an interactive stderr."""
    from prefect.futures import as_completed

    if not futures:
        return []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), disable=not sys.stderr.isatty(), transient=True) as bar:
        progress = bar.add_task(label, total=len(futures))
        for _ in as_completed(futures):
            bar.advance(progress)
    return [f.result() for f in futures]


@contextmanager
def timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    """Add the wall time of a block to ``seconds[stage]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = round(seconds.get(stage, 0.0) + time.perf_counter() - start, 3)
