"""The ``stormborn`` command."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.table import Table  # noqa: E402

from tasks.settings import Settings, load_settings  # noqa: E402

app = typer.Typer(help="Turn new research papers into derivation datasets.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console(stderr=True)
out = Console()

LakeOpt = Annotated[Optional[str], typer.Option("--lake", help="Lake URL: a path or s3://bucket/prefix.")]
DaskOpt = Annotated[Optional[str], typer.Option("--dask-address", help="tcp://host:port of an existing Dask scheduler.")]


def _plain(value) -> str:
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


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {escape(message)}")  # messages may hold [brackets]
    raise typer.Exit(2)


def _settings(**overrides) -> Settings:
    try:
        return load_settings(**overrides)
    except Exception as exc:  # pydantic validation errors: one line, not a traceback
        _fail(f"invalid settings: {exc}".splitlines()[0])
        raise


def _parse_date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{name} must be a date like 2024-05-01, got {value!r}")
        raise


def _run_harvest(settings: Settings, since: date | None, until: date | None, source: str,
                 path: str | None):
    from flows.harvest import monthly_harvest
    from flows.runtime import dask_task_runner, prefect_api

    with prefect_api(settings) as api_url:
        console.print(f"Prefect API: {api_url}  ·  lake: {settings.lake_url}")
        flow = monthly_harvest.with_options(task_runner=dask_task_runner(settings))
        return flow(since=since, until=until, source=source, path=path, settings=settings)


def _print_run(run) -> None:
    table = Table(title=f"run {run.run_id}")
    columns = ("listed", "matched", "rating pass", "documents fetched", "keyword pass", "papers extracted",
               "expressions", "expression edges", "rejected", "quarantined")
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(*(str(getattr(run, c.replace(" ", "_"))) for c in columns))
    out.print(table)


@app.command()
def harvest(
    since: Annotated[Optional[str], typer.Option(help="First day (YYYY-MM-DD); default: first day of last month.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Last day, inclusive; default: last day of last month.")] = None,
    source: Annotated[str, typer.Option(help="live | snapshot | local")] = "live",
    path: Annotated[Optional[str], typer.Option(help="Folder for --source local, or a snapshot folder.")] = None,
    lake: LakeOpt = None,
    dask_address: DaskOpt = None,
) -> None:
    """Harvest papers of a date window: list, join reviews, filter, fetch documents, land."""
    from tasks.sources import SOURCE_KINDS

    if source not in SOURCE_KINDS:
        _fail(f"--source must be one of {', '.join(SOURCE_KINDS)}, got {source!r}")
    if source == "local" and not (path and Path(path).is_dir()):
        _fail(f"--source local needs --path pointing to a folder, got {path!r}")
    start, end = _parse_date(since, "--since"), _parse_date(until, "--until")
    if (start is None) != (end is None):
        _fail("give both --since and --until, or neither (last month)")
    if start and end and start > end:
        _fail(f"--since {start} is after --until {end}")
    if source == "local" and start is None:
        start = end = date.today()
    settings = _settings(lake=lake, dask_address=dask_address)
    _print_run(_run_harvest(settings, start, end, source, path))


def _run_extract(settings: Settings, paper_ids: list[str] | None, force: bool):
    from flows.extract import extract_expressions
    from flows.runtime import dask_task_runner, prefect_api

    with prefect_api(settings) as api_url:
        console.print(f"Prefect API: {api_url}  ·  lake: {settings.lake_url}")
        flow = extract_expressions.with_options(task_runner=dask_task_runner(settings))
        return flow(paper_ids=paper_ids, force=force, settings=settings)


@app.command()
def extract(
    paper: Annotated[Optional[list[str]], typer.Option("--paper", help="Only this paper id (repeatable).")] = None,
    force: Annotated[bool, typer.Option(help="Extract again even if documents and extractor are unchanged.")] = False,
    lake: LakeOpt = None,
    dask_address: DaskOpt = None,
) -> None:
    """Turn accepted papers' documents into sections, expressions and dependency edges."""
    settings = _settings(lake=lake, dask_address=dask_address)
    run = _run_extract(settings, paper or None, force)
    table = Table(title=f"run {run.run_id}")
    for column in ("papers extracted", "expressions", "expression edges", "rejected", "quarantined"):
        table.add_column(column, justify="right")
    table.add_row(*(str(getattr(run, c.replace(" ", "_"))) for c in (
        "papers extracted", "expressions", "expression edges", "rejected", "quarantined")))
    out.print(table)
    out.print("Query it: stormborn sql \"SELECT * FROM paper_math\"")


def _print_generation(run) -> None:
    table = Table(title=f"run {run.run_id} ({run.status})")
    columns = ("candidates", "candidates kept", "llm calls", "cost usd", "quarantined")
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(*(str(getattr(run, c.replace(" ", "_"))) for c in columns))
    out.print(table)
    if run.status == "stopped":
        out.print("The budget ran out: run the same command again (with a larger --budget-usd) to continue.")


LLM_HINT = ("No LLM endpoint configured, so generation was skipped: set STORMBORN_LLM__BASE_URL, "
            "STORMBORN_LLM__API_KEY and STORMBORN_LLM__MODEL, or run `stormborn demo --llm local` "
            "(needs the [local-llm] extra).")


@app.command()
def generate(
    target: Annotated[Optional[int], typer.Option(help="Candidates to generate (default: generate.target, 2000).")] = None,
    paper: Annotated[Optional[list[str]], typer.Option("--paper", help="Only this paper id (repeatable).")] = None,
    budget_usd: Annotated[Optional[float], typer.Option("--budget-usd", help="Stop issuing LLM calls past this spend.")] = None,
    base_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model for every agent without its own (llm.agents).")] = None,
    llm: Annotated[Optional[str], typer.Option("--llm", help="'local': start the bundled local model.")] = None,
    force: Annotated[bool, typer.Option(help="Generate again even for unchanged papers (the LLM cache still applies).")] = False,
    lake: LakeOpt = None,
    dask_address: DaskOpt = None,
) -> None:
    """Turn extracted expressions into grounded derivation candidates with the six STORM agents."""
    if target is not None and target < 0:
        _fail("--target must be 0 or more")
    settings = _settings(lake=lake, dask_address=dask_address)
    updates = {k: v for k, v in {"base_url": base_url, "model": model, "budget_usd": budget_usd}.items()
               if v is not None}
    settings = settings.model_copy(update={"llm": settings.llm.model_copy(update=updates)})
    if llm not in (None, "local"):
        _fail(f"--llm must be 'local', got {llm!r}")
    if llm is None and not settings.llm.configured:
        _fail("no LLM endpoint: give --base-url (and STORMBORN_LLM__API_KEY), set STORMBORN_LLM__BASE_URL, "
              "or use --llm local")
    _print_generation(_run_generate(settings, paper or None, target, force, local=llm == "local"))
    out.print("Query it: stormborn sql \"SELECT status, reason, count(*) FROM candidates GROUP BY ALL\"")


def _run_generate(settings: Settings, paper_ids: list[str] | None, target: int | None, force: bool,
                  local: bool = False):
    from flows.generate import generate_candidates
    from flows.runtime import dask_task_runner, prefect_api

    with contextlib.ExitStack() as stack:
        if local:
            settings = _start_local(stack, settings)
        api_url = stack.enter_context(prefect_api(settings))
        console.print(f"Prefect API: {api_url}  ·  lake: {settings.lake_url}  ·  LLM: {settings.llm.base_url} "
                      f"({settings.llm.model})")
        flow = generate_candidates.with_options(task_runner=dask_task_runner(settings))
        return flow(paper_ids=paper_ids, target=target, force=force, settings=settings)


def _start_local(stack: contextlib.ExitStack, settings: Settings) -> Settings:
    """Start the bundled local model for the rest of ``stack``; settings that point at it."""
    from flows.runtime import local_llm

    try:
        return stack.enter_context(local_llm(settings))  # the extra is checked on entering
    except RuntimeError as exc:
        _fail(str(exc))
        raise


@app.command()
def demo(
    dask_address: DaskOpt = None,
    llm: Annotated[Optional[str], typer.Option("--llm", help="'local': generate with the bundled local model.")] = None,
) -> None:
    """The whole pipeline, offline, on the bundled snapshot, into ./.stormborn: harvest, expressions,
    and generation when an LLM endpoint is configured (or with --llm local)."""
    from tasks.sources.snapshot import SnapshotSource

    if llm not in (None, "local"):
        _fail(f"--llm must be 'local', got {llm!r}")
    settings = _settings(home=".stormborn", dask_address=dask_address)
    since, until = SnapshotSource(settings).default_window
    with contextlib.ExitStack() as stack:
        if llm == "local":
            console.print("starting the bundled local model (llama.cpp, Gemma 3 270M)…")
            settings = _start_local(stack, settings)
        run = _run_harvest(settings, since, until, "snapshot", None)
    _print_run(run)
    if settings.llm.configured:
        _print_generation(run)
        out.print("Review them: stormborn review add-reviewer NAME  ·  stormborn review serve", markup=False)
    else:
        out.print(LLM_HINT, markup=False, soft_wrap=True)
    out.print(f"Query it: stormborn sql \"SELECT * FROM paper_math\"  ·  "
              f"stormborn sql \"SELECT * FROM expression_dependencies\"  ·  "
              f"Data Docs: {settings.lake_url}/data_docs/index.html")


@app.command()
def status(limit: int = 10) -> None:
    """Recent runs and their funnel."""
    from tasks.storage import query

    frame = query(_settings(), f"SELECT * FROM run_funnel LIMIT {int(limit)}")
    if frame.empty:
        out.print("no runs yet: try `stormborn demo`")
        return
    table = Table(title="recent runs")
    columns = ["run_id", "status", "since", "until", "listed", "matched", "rating_pass",
               "documents_fetched", "keyword_pass", "rejected", "quarantined"]
    for c in columns:
        table.add_column(c)
    for row in frame[columns].itertuples(index=False):
        table.add_row(*(_plain(v) for v in row))
    out.print(table)


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="A SELECT over the catalog's tables and views.")],
    format: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    lake: LakeOpt = None,
) -> None:
    """Run an analyst query (read-only; works while a flow is running)."""
    from tasks.storage import query

    if format not in ("table", "csv", "json"):
        _fail(f"--format must be table, csv or json, got {format!r}")
    try:
        frame = query(_settings(lake=lake), statement)
    except Exception as exc:
        _fail(str(exc).splitlines()[0])
        raise
    for column in frame.columns:  # list columns as JSON text, in every format
        if frame[column].map(lambda v: hasattr(v, "tolist") or isinstance(v, list)).any():
            frame[column] = frame[column].map(_plain)
    if format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", default_handler=str) + "\n")
    else:
        table = Table()
        for column in frame.columns:
            table.add_column(str(column))
        for row in frame.itertuples(index=False):
            table.add_row(*(_plain(v) for v in row))
        out.print(table)


@app.command()
def config() -> None:
    """Print the effective settings, secrets masked."""
    sys.stdout.write(json.dumps(_settings().masked(), indent=2, default=str) + "\n")


@app.command()
def deploy(
    work_pool: Annotated[str, typer.Option(help="Process work pool to deploy to.")] = "stormborn-process",
) -> None:
    """Register the monthly-harvest deployment (infra/prefect.yaml) with the Prefect API."""
    from flows.deploy import deploy_monthly_harvest
    from flows.runtime import prefect_api

    settings = _settings()
    with prefect_api(settings) as api_url:
        deployment_id = deploy_monthly_harvest(work_pool)
    out.print(f"deployed monthly-harvest ({deployment_id}) to {api_url}; "
              f"start a worker with: prefect worker start --pool {work_pool}")


# -- human in the loop: review, selection, export -----------------------------------------------

review_app = typer.Typer(help="The expert review app: accounts, assignment, the server, agreement.",
                         no_args_is_help=True)
app.add_typer(review_app, name="review")


def _load_and_assign(settings: Settings, k: int | None = None):
    from tasks import review

    db = review.open_db(settings)
    try:
        new = review.load_items(settings, db)
    except Exception as exc:  # no catalog yet, or one without candidates
        _fail(f"could not read candidates from the catalog: {str(exc).splitlines()[0]}")
        raise
    result = review.assign(db, k or settings.review.reviewers_per_candidate)
    return db, new, result


@review_app.command("add-reviewer")
def add_reviewer(
    name: Annotated[str, typer.Argument(help="Login name: letters, digits, '-', '_', '.'.")],
    admin: Annotated[bool, typer.Option("--admin", help="An admin sees every review and adjudicates.")] = False,
    rotate: Annotated[bool, typer.Option("--rotate", help="Give an existing account a new token.")] = False,
) -> None:
    """Create a reviewer account and print its login token (shown once, stored only hashed)."""
    from tasks import review

    try:
        token = review.add_reviewer(review.open_db(_settings()), name, "admin" if admin else "reviewer", rotate)
    except ValueError as exc:
        _fail(str(exc))
        raise
    console.print(f"{'admin' if admin else 'reviewer'} {name}: log in with this token (it is not stored):")
    out.print(token, markup=False)


@review_app.command("assign")
def review_assign(
    k: Annotated[Optional[int], typer.Option("--k", help="Reviewers per candidate (default review.reviewers_per_candidate).")] = None,
) -> None:
    """Load new finished candidates from the catalog and give each one k reviewers."""
    if k is not None and k < 1:
        _fail("--k must be 1 or more")
    _db, new, result = _load_and_assign(_settings(), k)
    out.print(f"{new} new candidates loaded; {result.assigned} assignments made"
              + (f"; {result.short} candidates have fewer reviewers than k (add reviewers)" if result.short else ""))


@review_app.command("serve")
def review_serve(
    host: Annotated[Optional[str], typer.Option(help="Interface to listen on (default review.host).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default review.port, 8800).")] = None,
) -> None:
    """Serve the review app (one process, several reviewers). New accounts get work as they log in."""
    import uvicorn

    from reviewapp.app import create_app

    settings = _settings()
    _db, new, result = _load_and_assign(settings)
    host, port = host or settings.review.host, port or settings.review.port
    console.print(f"{new} new candidates loaded, {result.assigned} assignments made. "
                  f"Review app on http://{host}:{port}/  (review database: {settings.review_db_path})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@review_app.command("stats")
def review_stats(
    format: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Agreement (Krippendorff's α per principle and overall), progress, adjudication queue."""
    from tasks import review

    settings = _settings()
    db = review.open_db(settings)
    agreement = review.agreement(review.all_reviews(db))
    queue = review.adjudication_queue(db, settings.review.disagreement)
    progress = review.progress(db)
    if format == "json":
        sys.stdout.write(json.dumps({"alpha": agreement.alpha, "units": agreement.units,
                                     "reviews": agreement.reviews, "progress": progress,
                                     "adjudication_queue": [q["candidate_id"] for q in queue]}) + "\n")
        return
    if format != "table":
        _fail(f"--format must be table or json, got {format!r}")
    table = Table(title=f"Krippendorff's α ({agreement.reviews} reviews, {agreement.units} candidates with 2+)")
    table.add_column("principle")
    table.add_column("alpha", justify="right")
    for name, value in agreement.alpha.items():
        table.add_row(name, "—" if value is None else f"{value:.3f}")
    out.print(table)
    for row in progress:
        out.print(f"{row['reviewer']}: {row['reviewed']}/{row['assigned']} reviewed")
    out.print(f"adjudication queue: {len(queue)} candidate(s)")


@app.command("select")
def select_command(
    n: Annotated[Optional[int], typer.Option("--n", help="Problems to choose (default select.n, 100).")] = None,
    per_paper: Annotated[Optional[int], typer.Option("--per-paper", help="At most this many from one paper.")] = None,
) -> None:
    """Choose the final set from the expert reviews; stores the choice and reasons in `selections`."""
    from collections import Counter

    from tasks.selection import select

    if n is not None and n < 1:
        _fail("--n must be 1 or more")
    settings = _settings()
    if per_paper is not None:
        settings = settings.model_copy(update={"select": settings.select.model_copy(update={"per_paper": per_paper})})
    rows = select(settings, n)
    chosen = [r for r in rows if r.selected]
    reasons = Counter(r.reason for r in rows)
    out.print(f"selection {rows[0].selection_id if rows else '(empty)'}: {len(chosen)} chosen from "
              f"{len({r.paper_id for r in chosen})} papers and {len({r.topic for r in chosen})} topics; "
              + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    out.print("Query it: stormborn sql \"SELECT reason, count(*) FROM selections GROUP BY ALL\"")


@app.command("export")
def export_command(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the release into.")],
    format: Annotated[str, typer.Option("--format", help="Comma-separated: jsonl, parquet, hf.")] = "jsonl,parquet,hf",
) -> None:
    """Write the latest selection as a release: splits by paper, three variants, a dataset card."""
    from tasks.export import export

    formats = tuple(f.strip() for f in format.split(",") if f.strip())
    settings = _settings()
    try:
        report = export(settings, out_dir, formats)
    except (ValueError, LookupError) as exc:
        _fail(str(exc))
        raise
    for variant, counts in report.counts.items():
        out.print(f"{variant}: train {counts['train']}, test {counts['test']}"
                  + (f"  (left out: {report.left_out[variant]})" if variant in report.left_out else ""))
    flagged = [p["paper_id"] for p in report.papers if p["redistribution"] != "allowed"]
    if flagged:
        out.print(f"licence check: {len(flagged)} paper(s) need attention, see {out_dir / 'README.md'}")
    out.print(f"written to {out_dir}")


if __name__ == "__main__":
    app()
