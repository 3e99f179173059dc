"""The stack on this machine (``stack up | status | down``) and ``stop`` (the on-demand Prefect server)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from flows.cli.common import app, console, fail, out, settings_from

stack_app = typer.Typer(help="The production-shaped stack on this machine: PostgreSQL, Prefect server and "
                             "worker, Dask scheduler and workers, an S3 lake (moto), the review app and the "
                             "dashboard, each on loopback (settings: stack.*).", no_args_is_help=True)
app.add_typer(stack_app, name="stack")


def _say(line: str) -> None:
    console.print(line, markup=False, soft_wrap=True)


def _print_status(settings) -> bool:
    from flows.stack import status

    rows = status(settings)
    folder = Path(rows[0].log).parent.parent if rows else None
    table = Table(title="stormborn stack", caption=f"pid and log files under {folder}" if folder else None)
    for column in ("component", "pid", "alive", "URL", "log"):
        table.add_column(column, overflow="fold")
    for row in rows:
        alive = "yes" if row.alive else ("-" if row.note else "no")
        log = Path(row.log)
        shown = str(log.relative_to(folder)) if folder and log.is_relative_to(folder) else row.log
        table.add_row(row.name, str(row.pid or ""), alive, row.note or row.url, shown)
    out.print(table)
    return all(row.alive or row.note for row in rows)


@stack_app.command("up")
def stack_up(
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="Dask workers (default stack.workers).")] = None,
) -> None:
    """Start every part of the stack that is not running and wait until each answers (a stack
    already up is left as it is); prints the environment a shell needs (also in <home>/stack/env)."""
    from flows.stack import StackError, shell_lines, up

    settings = settings_from()
    try:
        layout = up(settings, workers=workers, emit=_say)
    except StackError as exc:
        fail(f"{exc} (what this `up` started was stopped)")
        raise
    except Exception as exc:  # a failure outside the parts' own checks (S3, the work pool…): one line
        fail(f"stack up failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
             f"(what this `up` started was stopped)")
        raise
    _print_status(settings)
    _say(f"To use the stack from a shell: source {layout.folder / 'env'}")
    for line in shell_lines(settings, layout):
        _say(f"  {line}")


@stack_app.command("status")
def stack_status() -> None:
    """Each part of the stack: pid, alive, URL, log file. Exits 1 when a part is down."""
    if not _print_status(settings_from()):
        raise typer.Exit(1)


@stack_app.command("down")
def stack_down() -> None:
    """Stop exactly what `stack up` started (its pid files; pg_ctl stop for PostgreSQL)."""
    from flows.stack import StackError, down

    try:
        stopped = down(settings_from(), emit=_say)
    except StackError as exc:
        fail(str(exc))
        raise
    out.print(f"stopped {len(stopped)} stack processes" if stopped else "the stack was not running")


@app.command()
def stop() -> None:
    """Stop the local Prefect server that other commands start on demand (for this home)."""
    from flows.runtime import stop_local_server

    settings = settings_from()
    if stop_local_server(settings):
        out.print(f"stopped the local Prefect server of {settings.home} (port {settings.prefect_port})")
    else:
        out.print(f"no local Prefect server of {settings.home} was running")
