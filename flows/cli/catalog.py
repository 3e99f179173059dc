"""The analyst and operator commands: ``status``, ``sql``, ``config`` and ``deploy``."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from flows.cli.common import LakeOpt, app, fail, out, plain, settings_from


@app.command()
def status(limit: int = 10) -> None:
    """Recent runs and their funnel."""
    from tasks.io.storage import named, query

    frame = query(settings_from(), named("recent_runs"), {"limit": limit})
    if frame.empty:
        out.print("no runs yet: try `stormborn demo`")
        return
    table = Table(title="recent runs")
    columns = ["run_id", "status", "since", "until", "listed", "matched", "rating_pass",
               "documents_fetched", "keyword_pass", "rejected", "quarantined"]
    for c in columns:
        table.add_column(c)
    for row in frame[columns].itertuples(index=False):
        table.add_row(*(plain(v) for v in row))
    out.print(table)


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="A SELECT over the catalog's tables and views.")],
    format: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    lake: LakeOpt = None,
) -> None:
    """Run an analyst query (read-only; works while a flow is running)."""
    from tasks.io.storage import query

    if format not in ("table", "csv", "json"):
        fail(f"--format must be table, csv or json, got {format!r}")
    try:
        frame = query(settings_from(lake=lake), statement)
    except Exception as exc:
        fail(str(exc).splitlines()[0])
        raise
    for column in frame.columns:  # list columns as JSON text, in every format
        if frame[column].map(lambda v: hasattr(v, "tolist") or isinstance(v, list)).any():
            frame[column] = frame[column].map(plain)
    if format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", default_handler=str) + "\n")
    else:
        table = Table()
        for column in frame.columns:
            table.add_column(str(column))
        for row in frame.itertuples(index=False):
            table.add_row(*(plain(v) for v in row))
        out.print(table)


@app.command()
def config() -> None:
    """Print the effective settings, secrets masked."""
    sys.stdout.write(json.dumps(settings_from().masked(), indent=2, default=str) + "\n")


@app.command()
def deploy(
    work_pool: Annotated[str, typer.Option(help="Process work pool to deploy to.")] = "stormborn-process",
) -> None:
    """Register the monthly-harvest deployment (infra/prefect.yaml) with the Prefect API."""
    from flows.deploy import deploy_monthly_harvest
    from flows.runtime import prefect_api

    settings = settings_from()
    with prefect_api(settings) as api_url:
        deployment_id = deploy_monthly_harvest(work_pool)
    out.print(f"deployed monthly-harvest ({deployment_id}) to {api_url}; "
              f"start a worker with: prefect worker start --pool {work_pool}")
