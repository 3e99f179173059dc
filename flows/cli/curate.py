"""The human-in-the-loop commands: ``review …`` (accounts, assignment, the app, agreement),
``select``, ``export`` (a snapshot, or a versioned release), ``retire`` and ``releases``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli.common import app, console, fail, out, settings_from
from tasks.core.settings import Settings

# -- human in the loop: review, selection, export -----------------------------------------------

review_app = typer.Typer(help="The expert review app: accounts, assignment, the server, agreement.",
                         no_args_is_help=True)
app.add_typer(review_app, name="review")


def _load_and_assign(settings: Settings, k: int | None = None):
    from tasks.curate import review

    db = review.open_db(settings)
    try:
        new = review.load_items(settings, db)
    except Exception as exc:  # no catalog yet, or one without candidates
        fail(f"could not read candidates from the catalog: {str(exc).splitlines()[0]}")
        raise
    result = review.assign(db, k or settings.review.reviewers_per_candidate)
    return db, new, result


def _guard_lake_copy(settings: Settings, db, review) -> None:
    """Warn about a new, empty review database beside reviews in the lake; refuse (one-line
    error) to run where copying this database would replace the lake's reviews."""
    warning = review.new_database_warning(settings, db)
    if warning:
        console.print(f"[bold yellow]warning:[/] {escape(warning)}")
    try:
        review.check_copy(settings, db)
    except review.ReviewCopyConflict as exc:
        fail(str(exc))


@review_app.command("restore")
def review_restore() -> None:
    """Fill an empty review database from the lake's copy of the reviews (after the database
    was lost); every reviewer gets a new login token, printed once."""
    from tasks.curate import review

    settings = settings_from()
    db = review.open_db(settings)
    try:
        restored = review.restore(settings, db)
    except ValueError as exc:
        fail(str(exc))
        raise
    out.print(f"restored {restored.reviews} reviews, {restored.assignments} assignments and "
              f"{restored.adjudications} adjudications into {db.path}"
              + (f"; {restored.skipped} reviews skipped (their candidates are no longer in the catalog)"
                 if restored.skipped else ""), markup=False)
    for name, token in restored.tokens.items():
        out.print(f"{name}: {token}", markup=False)


@review_app.command("add-reviewer")
def add_reviewer(
    name: Annotated[str, typer.Argument(help="Login name: letters, digits, '-', '_', '.'.")],
    admin: Annotated[bool, typer.Option("--admin", help="An admin sees every review and adjudicates.")] = False,
    rotate: Annotated[bool, typer.Option("--rotate", help="Give an existing account a new token.")] = False,
) -> None:
    """Create a reviewer account and print its login token (shown once, stored only hashed)."""
    from tasks.curate import review

    try:
        token = review.add_reviewer(review.open_db(settings_from()), name, "admin" if admin else "reviewer", rotate)
    except ValueError as exc:
        fail(str(exc))
        raise
    console.print(f"{'admin' if admin else 'reviewer'} {name}: log in with this token (it is not stored):")
    out.print(token, markup=False)


@review_app.command("assign")
def review_assign(
    k: Annotated[Optional[int], typer.Option("--k", help="Reviewers per candidate (default review.reviewers_per_candidate).")] = None,
) -> None:
    """Load new finished candidates from the catalog and give each one k reviewers."""
    if k is not None and k < 1:
        fail("--k must be 1 or more")
    _db, new, result = _load_and_assign(settings_from(), k)
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
    from tasks.curate import review

    settings = settings_from()
    db, new, result = _load_and_assign(settings)
    _guard_lake_copy(settings, db, review)
    host, port = host or settings.review.host, port or settings.review.port
    # The app decides Secure cookies from the interface it really listens on.
    settings = settings.model_copy(update={"review": settings.review.model_copy(update={"host": host, "port": port})})
    console.print(f"{new} new candidates loaded, {result.assigned} assignments made. "
                  f"Review app on http://{host}:{port}/  (review database: {settings.review_db_path})")
    if settings.review.cookies_secure():
        console.print("Login cookies are Secure: browsers keep a login over HTTPS only. Serve the app behind "
                      "a TLS proxy, or set review.secure_cookies = false on a network you trust.")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@review_app.command("stats")
def review_stats(
    format: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Agreement (Krippendorff's α per principle and overall), progress, how far down the ranked
    review queue the team is, adjudication queue."""
    from tasks.curate import agreement as agreement_of
    from tasks.curate import review

    settings = settings_from()
    db = review.open_db(settings)
    agreement = agreement_of.agreement(review.all_reviews(db))
    queue = agreement_of.adjudication_queue(db, settings.review.disagreement)
    progress = review.progress(db)
    ranked = review.queue_progress(db)
    if format == "json":
        sys.stdout.write(json.dumps({"alpha": agreement.alpha, "units": agreement.units,
                                     "reviews": agreement.reviews, "progress": progress, "queue": ranked,
                                     "adjudication_queue": [q["candidate_id"] for q in queue]}) + "\n")
        return
    if format != "table":
        fail(f"--format must be table or json, got {format!r}")
    table = Table(title=f"Krippendorff's α ({agreement.reviews} reviews, {agreement.units} candidates with 2+)")
    table.add_column("principle")
    table.add_column("alpha", justify="right")
    for name, value in agreement.alpha.items():
        table.add_row(name, "—" if value is None else f"{value:.3f}")
    out.print(table)
    for row in progress:
        out.print(f"{row['reviewer']}: {row['reviewed']}/{row['assigned']} reviewed")
    if ranked["ranked"]:
        out.print(f"review queue: reviewed down to rank {ranked['deepest_rank'] or 0} of {ranked['ranked']}, "
                  f"{ranked['keepers']} keeper(s) found")
    out.print(f"adjudication queue: {len(queue)} candidate(s)")


@app.command("select")
def select_command(
    n: Annotated[Optional[int], typer.Option("--n", help="Problems to choose (default select.n, 100).")] = None,
    per_paper: Annotated[Optional[int], typer.Option("--per-paper", help="At most this many from one paper.")] = None,
) -> None:
    """Choose the final set from the expert reviews; stores the choice and reasons in `selections`."""
    from collections import Counter

    from tasks.curate.selection import select

    if n is not None and n < 1:
        fail("--n must be 1 or more")
    settings = settings_from()
    if per_paper is not None:
        settings = settings.model_copy(update={"select": settings.select.model_copy(update={"per_paper": per_paper})})
    from tasks.curate.review import ReviewCopyConflict

    try:
        rows = select(settings, n)
    except ReviewCopyConflict as exc:
        fail(str(exc))
        raise
    chosen = [r for r in rows if r.selected]
    reasons = Counter(r.reason for r in rows)
    out.print(f"selection {rows[0].selection_id if rows else '(empty)'}: {len(chosen)} chosen from "
              f"{len({r.paper_id for r in chosen})} papers and {len({r.topic for r in chosen})} topics; "
              + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    out.print("Query it: stormborn sql \"SELECT reason, count(*) FROM selections GROUP BY ALL\"")


@app.command("export")
def export_command(
    out_dir: Annotated[Optional[Path], typer.Option(
        "--out", help="Folder to write into (with --release, default {home}/releases/<release>).")] = None,
    format: Annotated[str, typer.Option("--format", help="Comma-separated: jsonl, parquet, hf.")] = "jsonl,parquet,hf",
    release: Annotated[Optional[str], typer.Option(
        "--release", help="Make the versioned release of this month (YYYY-MM): stable ids, retirements, embargo, "
                          "a copy in the lake.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Make an existing (the latest) release again.")] = False,
) -> None:
    """Write the latest selection (or, with --release, the next versioned release): splits by paper,
    three variants, a dataset card, a manifest with checksums."""
    from tasks.curate import release as lifecycle
    from tasks.curate.export import export

    formats = tuple(f.strip() for f in format.split(",") if f.strip())
    settings = settings_from()
    if force and release is None:
        fail("--force only applies with --release")
    if release is not None:
        try:
            lifecycle.first_day(release)
        except ValueError as exc:
            fail(str(exc))
    if out_dir is None:
        if release is None:
            fail("--out is required without --release")
        out_dir = Path(settings.home) / "releases" / release
    try:
        report = export(settings, out_dir, formats, release=release, force=force)
    except (ValueError, LookupError) as exc:
        fail(str(exc))
        raise
    for variant, counts in report.counts.items():
        out.print(f"{variant}: train {counts['train']}, test {counts['test']}"
                  + (f"  (left out: {report.left_out[variant]})" if variant in report.left_out else ""))
    if report.release:
        out.print(f"release {report.release} (previous: {report.previous or 'none'}): "
                  f"{sum(report.counts['derivation'].values())} active, {len(report.added)} added, "
                  f"{len(report.retired)} retired since the previous, {len(report.embargoed)} embargoed"
                  + (f" (under {out_dir / lifecycle.PRIVATE}, not public)" if report.embargoed else ""),
                  markup=False)
        out.print(f"lake copy: {report.lake_copy}", markup=False)
    flagged = [p["paper_id"] for p in report.papers if p["redistribution"] != "allowed"]
    if flagged:
        out.print(f"licence check: {len(flagged)} paper(s) need attention, see {out_dir / 'README.md'}")
    out.print(f"written to {out_dir}")


@app.command("retire")
def retire_command(
    item_id: Annotated[str, typer.Argument(help="The item's id (its candidate id).")],
    reason: Annotated[str, typer.Option("--reason", help="wrong_key, trivial, ambiguous, leaky_options, "
                                                         "contaminated, licence, duplicate or other.")],
    detail: Annotated[str, typer.Option("--detail", help="What is wrong, for the record.")] = "",
    by: Annotated[Optional[str], typer.Option("--by", help="Who retires it (default: your login name).")] = None,
) -> None:
    """Retire a released item from the next release on (it is never deleted or renumbered)."""
    import getpass

    from tasks.curate import release as lifecycle

    if by is None:
        try:
            by = getpass.getuser()
        except Exception:  # no login name in this environment
            by = ""
    try:
        row = lifecycle.retire(settings_from(), item_id, reason, detail, by)
    except (ValueError, LookupError) as exc:
        fail(str(exc))
        raise
    out.print(f"retired {row.item_id} ({row.reason}); the next release lists it as retired", markup=False)


@app.command("releases")
def releases_command() -> None:
    """The releases so far, oldest first, with what each changed."""
    from tasks.curate import release as lifecycle

    table = Table(title="releases")
    for column in ("release", "previous", "active", "added", "retired", "embargoed", "created"):
        table.add_column(column)
    for r in lifecycle.list_releases(settings_from()):
        table.add_row(r.release, r.previous or "", str(r.items_active), str(r.items_added), str(r.items_retired),
                      str(r.items_embargoed), f"{r.created_at:%Y-%m-%d %H:%M}")
    out.print(table)
