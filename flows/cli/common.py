"""What every ``stormborn`` command shares: the Typer app, consoles, options, one-line errors,
settings, and running a flow under a Prefect API with the Dask task runner."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from tasks.core.settings import Settings, load_settings

app = typer.Typer(help="Turn new research papers into derivation datasets.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console(stderr=True)
out = Console()

LakeOpt = Annotated[Optional[str], typer.Option("--lake", help="Lake URL: a path or s3://bucket/prefix.")]
DaskOpt = Annotated[Optional[str], typer.Option("--dask-address", help="tcp://host:port of an existing Dask scheduler.")]


def plain(value) -> str:
    """Render a query value for a terminal: lists as JSON, missing values as empty."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {escape(message)}")  # messages may hold [brackets]
    raise typer.Exit(2)


def settings_from(**overrides) -> Settings:
    try:
        return load_settings(**overrides)
    except ValidationError as exc:  # one line naming the setting; never the value (it may be a secret)
        first = exc.errors()[0]
        fail(f"invalid settings: {'.'.join(str(part) for part in first['loc'])}: {first['msg']}")
        raise
    except Exception as exc:  # a malformed stormborn.toml and the like: one line, not a traceback
        fail(f"invalid settings: {exc}".splitlines()[0])
        raise


def parse_date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{name} must be a date like 2024-05-01, got {value!r}")
        raise


WORKER_CONSOLE_LEVEL = "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"
"""Prefect's override of its logging config's console handler level (``PREFECT_LOGGING_<path>``)."""


@contextlib.contextmanager
def logs_to_file(path: Path, console_level: int = logging.WARNING):
    """Inside: the terminal shows warnings and errors only; every record from INFO up (Prefect's
    task runs, Dask's scheduler, Great Expectations) goes to ``path``. A failure still prints."""
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setLevel(logging.INFO)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    # the root logger, and loggers that keep their records to themselves (``distributed`` has
    # its own stderr handler and does not propagate): quiet their consoles, give them the file
    loggers = [logging.getLogger(), *(lg for lg in list(logging.Logger.manager.loggerDict.values())
                                      if isinstance(lg, logging.Logger) and lg.handlers and not lg.propagate)]
    consoles = [h for lg in loggers for h in lg.handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    levels = [h.level for h in consoles]
    for handler in consoles:
        handler.setLevel(max(handler.level, console_level))
    for logger in loggers:
        logger.addHandler(to_file)
    # Dask worker processes (spawned inside) configure Prefect's logging from the environment:
    # their console handler gets the same level; their task-run logs still reach the Prefect UI.
    worker_console = os.environ.get(WORKER_CONSOLE_LEVEL)
    os.environ[WORKER_CONSOLE_LEVEL] = logging.getLevelName(console_level)
    try:
        yield path
    finally:
        for logger in loggers:
            logger.removeHandler(to_file)
        to_file.close()
        for handler, level in zip(consoles, levels):
            handler.setLevel(level)
        if worker_console is None:
            os.environ.pop(WORKER_CONSOLE_LEVEL, None)
        else:
            os.environ[WORKER_CONSOLE_LEVEL] = worker_console


def run_flow(settings: Settings, flow, show_llm: bool = False, **params):
    """Run a flow under the configured Prefect API (or a local server), on a Dask task runner
    built from ``settings``: the runner is attached here, when the flow is run."""
    from flows.runtime import dask_task_runner, prefect_api

    with prefect_api(settings) as api_url:
        llm = f"  ·  LLM: {settings.llm.base_url} ({settings.llm.model})" if show_llm else ""
        console.print(f"Prefect API: {api_url}  ·  lake: {settings.lake_url}{llm}")
        return flow.with_options(task_runner=dask_task_runner(settings))(settings=settings, **params)
