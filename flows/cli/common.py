"""What every ``stormborn`` command shares: the Typer app, consoles, options, one-line errors,
settings, and running a flow under a Prefect API with the Dask task runner."""

from __future__ import annotations

import contextlib
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from tasks.core.settings import Settings, describe_error, load_settings

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


class Terminal:
    """What the whole command shows: ``stormborn --verbose …`` puts third-party logs on the
    terminal instead of in a log file."""

    verbose: bool = False


@app.callback()
def main(verbose: Annotated[bool, typer.Option(
        "--verbose", help="Show Prefect, Dask and Great Expectations logs on the terminal "
                          "instead of in <home>/logs/<flow>.log.")] = False) -> None:
    """Turn new research papers into derivation datasets."""
    Terminal.verbose = verbose


def run_flow(settings: Settings, flow, show_llm: bool = False, log_name: str | None = None, **params):
    """Run a flow under the configured Prefect API (or a local server), on a Dask task runner
    built from ``settings``: the runner is attached here, when the flow is run.

    The terminal shows the flow's own progress lines; Prefect's, Dask's and Great Expectations'
    logs go to ``<home>/logs/<flow>.log`` (``--verbose``: to the terminal). A failed run ends
    the command with its cause in one line and the log's path, not a traceback."""
    from flows.runtime import dask_task_runner, flow_progress, logs_to_file, prefect_api

    with contextlib.ExitStack() as stack:
        log = None
        if not Terminal.verbose:
            log = stack.enter_context(logs_to_file(Path(settings.home) / "logs" / f"{log_name or flow.name}.log"))
            console.print(f"Logs of Prefect, Dask and Great Expectations: {log} (--verbose shows them here)",
                          markup=False, soft_wrap=True)
        api_url = stack.enter_context(prefect_api(settings))
        llm = f"  ·  LLM: {settings.llm.base_url} ({settings.llm.model})" if show_llm else ""
        console.print(f"Prefect API: {api_url}  ·  lake: {settings.lake_url}{llm}", markup=False, soft_wrap=True)
        if not Terminal.verbose:
            stack.enter_context(flow_progress(lambda line: console.print(line, markup=False, soft_wrap=True)))
        try:
            return flow.with_options(task_runner=dask_task_runner(settings))(settings=settings, **params)
        except Exception as exc:
            cause = describe_error(exc, settings).splitlines()[0]
            fail(f"{flow.name} failed: {cause}" + (f" (details: {log})" if log else ""))
            raise
