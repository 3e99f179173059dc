"""The pipeline commands: ``harvest``, ``extract``, ``generate``, ``refine`` and ``demo``."""

from __future__ import annotations

import contextlib
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from flows.cli.common import (
    DaskOpt,
    LakeOpt,
    Terminal,
    app,
    console,
    fail,
    out,
    parse_date,
    run_flow,
    settings_from,
)
from tasks.core.settings import AGENTS, Settings


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
    from tasks.harvest.sources import SOURCE_KINDS

    if source not in SOURCE_KINDS:
        fail(f"--source must be one of {', '.join(SOURCE_KINDS)}, got {source!r}")
    if source == "local" and not (path and Path(path).is_dir()):
        fail(f"--source local needs --path pointing to a folder, got {path!r}")
    start, end = parse_date(since, "--since"), parse_date(until, "--until")
    if (start is None) != (end is None):
        fail("give both --since and --until, or neither (last month)")
    if start and end and start > end:
        fail(f"--since {start} is after --until {end}")
    if source == "local" and start is None:
        start = end = date.today()
    settings = settings_from(lake=lake, dask_address=dask_address)
    from flows.harvest import monthly_harvest

    _print_run(run_flow(settings, monthly_harvest, since=start, until=end, source=source, path=path))


@app.command()
def extract(
    paper: Annotated[Optional[list[str]], typer.Option("--paper", help="Only this paper id (repeatable).")] = None,
    force: Annotated[bool, typer.Option(help="Extract again even if documents and extractor are unchanged.")] = False,
    lake: LakeOpt = None,
    dask_address: DaskOpt = None,
) -> None:
    """Turn accepted papers' documents into sections, expressions and dependency edges."""
    settings = settings_from(lake=lake, dask_address=dask_address)
    from flows.extract import extract_expressions

    run = run_flow(settings, extract_expressions, paper_ids=paper or None, force=force)
    table = Table(title=f"run {run.run_id}")
    for column in ("papers extracted", "expressions", "expression edges", "rejected", "quarantined"):
        table.add_column(column, justify="right")
    table.add_row(*(str(getattr(run, c.replace(" ", "_"))) for c in (
        "papers extracted", "expressions", "expression edges", "rejected", "quarantined")))
    out.print(table)
    out.print("Query it: stormborn sql \"SELECT * FROM paper_math\"")


def _print_counts(run, columns: tuple[str, ...]) -> None:
    """One table row of the run record's counts (``columns`` name its fields, with spaces)."""
    table = Table(title=f"run {run.run_id} ({run.status})")
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(*(str(getattr(run, c.replace(" ", "_"))) for c in columns))
    out.print(table)


def _print_generation(run) -> None:
    _print_counts(run, ("candidates", "candidates kept", "candidates drafted", "llm calls", "cost usd", "quarantined"))
    if run.status == "stopped":
        out.print("The budget ran out: run the same command again (with a larger --budget-usd) to continue.")


LLM_HINT = ("No LLM endpoint configured: LaTeX papers got problems drafted by rules alone (status drafted: "
            "a statement and its proof, a formula and the passage deriving it, verbatim). An LLM adds the "
            "rest: problems from PDF-only papers and from targets the rules cannot answer, self-contained "
            "questions and a verdict on each. Set STORMBORN_LLM__BASE_URL, STORMBORN_LLM__API_KEY and "
            "STORMBORN_LLM__MODEL, or run `stormborn demo --llm local` (needs the [local-llm] extra).")


def _print_problem(settings: Settings) -> None:
    """One derivation problem from the catalog, its LaTeX rendered as plain text for a terminal."""
    from pylatexenc.latex2text import LatexNodes2Text

    from tasks.io.storage import query_rows

    rows = query_rows(settings, "SELECT title, status, question, answer, answer_evidence FROM derivation_problems "
                                "ORDER BY status = 'drafted', length(answer) BETWEEN 80 AND 1500 DESC, "
                                "candidate_id LIMIT 1")
    if not rows:
        return
    row = rows[0]
    text = LatexNodes2Text(math_mode="text", strict_latex_spaces=False)

    def readable(latex: str, limit: int) -> str:
        try:
            plain = text.latex_to_text(latex)
        except Exception:  # a construct pylatexenc cannot read: show the source
            plain = latex
        plain = "\n".join(line.rstrip() for line in plain.strip().splitlines() if line.strip())
        return plain if len(plain) <= limit else plain[:limit].rstrip() + " …"

    out.print(f"\nOne problem ({row['status']}) from “{row['title']}”:", markup=False)
    out.print(readable(row["question"] or "", 900), markup=False, soft_wrap=True)
    out.print(f"\nThe paper's answer ({row['answer_evidence']}):", markup=False)
    out.print(readable(row["answer"] or "", 900), markup=False, soft_wrap=True)


def with_llm_options(settings: Settings, base_url: str | None, model: str | None,
                     budget_usd: float | None) -> Settings:
    """The settings with the command line's LLM options (those given) over the configured ones."""
    updates = {k: v for k, v in {"base_url": base_url, "model": model, "budget_usd": budget_usd}.items()
               if v is not None}
    return settings.model_copy(update={"llm": settings.llm.model_copy(update=updates)})


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
        fail("--target must be 0 or more")
    settings = with_llm_options(settings_from(lake=lake, dask_address=dask_address), base_url, model, budget_usd)
    if llm not in (None, "local"):
        fail(f"--llm must be 'local', got {llm!r}")
    if llm is None:
        try:
            settings.llm.check_budget(AGENTS)
        except ValueError as exc:
            fail(str(exc))
    run = _run_generate(settings, paper or None, target, force, local=llm == "local")
    _print_generation(run)
    if llm is None and not settings.llm.configured:
        out.print(LLM_HINT, markup=False, soft_wrap=True)
    out.print("Query it: stormborn sql \"SELECT status, reason, count(*) FROM candidates GROUP BY ALL\"")


@app.command()
def refine(
    budget_usd: Annotated[Optional[float], typer.Option("--budget-usd", help="Stop issuing LLM calls past this spend.")] = None,
    base_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model for every agent without its own (llm.agents).")] = None,
    force: Annotated[bool, typer.Option(help="Refine again even unchanged candidates (the LLM cache still applies).")] = False,
    lake: LakeOpt = None,
    dask_address: DaskOpt = None,
) -> None:
    """The quality layer: drop contaminated and near-duplicate candidates, score, review and revise
    the questions, solve them, score them on the experts' rubric, and rank the review queue."""
    from flows.refine import refine_candidates
    from tasks.refine.agents import AGENT_NAMES

    settings = with_llm_options(settings_from(lake=lake, dask_address=dask_address), base_url, model, budget_usd)
    try:
        settings.llm.check_budget(AGENT_NAMES)
    except ValueError as exc:
        fail(str(exc))
    run = run_flow(settings, refine_candidates, show_llm=True, force=force)
    _print_counts(run, ("candidates refined", "candidates queued", "llm calls", "cost usd", "rejected", "quarantined"))
    if run.status == "stopped":
        out.print("The budget ran out: run the same command again (with a larger --budget-usd) to continue.")
    if not settings.llm.configured:
        out.print("No LLM endpoint configured: candidates were screened (contamination, near duplicates) and "
                  "queued unscored; set STORMBORN_LLM__BASE_URL to score, revise and solve them.", soft_wrap=True)
    out.print("Query it: stormborn sql \"SELECT * FROM queue_health\"  ·  "
              "stormborn sql \"SELECT status, reason, count(*) FROM candidates GROUP BY ALL\"", markup=False)


def _run_generate(settings: Settings, paper_ids: list[str] | None, target: int | None, force: bool,
                  local: bool = False):
    from flows.generate import generate_candidates

    with contextlib.ExitStack() as stack:
        if local:
            settings = _start_local(stack, settings)
        return run_flow(settings, generate_candidates, show_llm=True, paper_ids=paper_ids, target=target,
                        force=force)


def _start_local(stack: contextlib.ExitStack, settings: Settings) -> Settings:
    """Start the bundled local model for the rest of ``stack``; settings that point at it."""
    from flows.runtime import local_llm

    try:
        return stack.enter_context(local_llm(settings))  # the extra is checked on entering
    except RuntimeError as exc:
        fail(str(exc))
        raise


@app.command()
def demo(
    dask_address: DaskOpt = None,
    llm: Annotated[Optional[str], typer.Option("--llm", help="'local': generate with the bundled local model.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show Prefect, Dask and Great Expectations logs "
                                          "here instead of in .stormborn/logs/demo.log.")] = False,
) -> None:
    """The whole pipeline, offline, on the bundled snapshot, into ./.stormborn: harvest, expressions,
    and derivation problems (drafted by rules alone, or by the agents with an LLM endpoint or
    --llm local)."""
    from tasks.harvest.sources.snapshot import SnapshotSource

    if llm not in (None, "local"):
        fail(f"--llm must be 'local', got {llm!r}")
    settings = settings_from(home=".stormborn", dask_address=dask_address)
    since, until = SnapshotSource(settings).default_window
    Terminal.verbose = Terminal.verbose or verbose
    with contextlib.ExitStack() as stack:
        if llm == "local":
            console.print("starting the bundled local model (llama.cpp, Gemma 3 270M)…")
            settings = _start_local(stack, settings)
        from flows.harvest import monthly_harvest

        run = run_flow(settings, monthly_harvest, log_name="demo", since=since, until=until, source="snapshot",
                       path=None)
    _print_run(run)
    _print_generation(run)
    if not settings.llm.configured:
        out.print(LLM_HINT, markup=False, soft_wrap=True)
    out.print(f"Review queue: {run.candidates_queued} candidates ranked by the quality layer "
              f"(stormborn sql \"SELECT * FROM queue_health\")", markup=False)
    _print_problem(settings)
    out.print("\nReview them: stormborn review add-reviewer NAME  ·  stormborn review serve", markup=False)
    out.print(f"Query it: stormborn sql \"SELECT * FROM paper_math\"  ·  "
              f"stormborn sql \"SELECT * FROM expression_dependencies\"  ·  "
              f"Data Docs: {settings.lake_url}/data_docs/index.html")
