"""Closing the loop: ``evaluate`` (models over a release or a dataset file), ``evaluate
calibrate`` (the graders against the experts) and ``audit`` (items that need a human look)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli.common import app, console, fail, out, run_flow, settings_from
from tasks.core.settings import Settings

evaluate_app = typer.Typer(help="Evaluate models on a release or dataset; calibrate the judge.",
                           invoke_without_command=True)
app.add_typer(evaluate_app, name="evaluate")


@evaluate_app.callback()
def evaluate_command(
    ctx: typer.Context,
    model: Annotated[Optional[list[str]], typer.Option("--model", help="A model to evaluate (repeat for several).")] = None,
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="The models' OpenAI-compatible endpoint "
                                                    "(default: evaluate.models.<model>.base_url, then llm.base_url).")] = None,
    release: Annotated[Optional[str], typer.Option("--release", help="A release (YYYY-MM; default the latest).")] = None,
    dataset: Annotated[Optional[Path], typer.Option("--dataset", help="A dataset file or export folder (ours or "
                                                    "STORM-BORN's) instead of a release.")] = None,
    samples: Annotated[Optional[int], typer.Option("--samples", help="Answers per item and format (default evaluate.samples).")] = None,
    format: Annotated[str, typer.Option("--format", help="Comma-separated: mc, options_only, judge, symbolic "
                                        "(default evaluate.formats).")] = "",
    budget: Annotated[Optional[float], typer.Option("--budget", help="Stop issuing calls after this many USD.")] = None,
    output: Annotated[str, typer.Option("--output", help="table | json")] = "table",
) -> None:
    """Run models over a release or dataset: multiple choice (with the options-only baseline), an
    LLM judge and a symbolic check, each answer graded and stored in `evaluations`."""
    if ctx.invoked_subcommand is not None:
        return
    if not model:
        console.print(ctx.get_help())
        raise typer.Exit(2)
    if release and dataset:
        fail("pass --release or --dataset, not both")
    if samples is not None and samples < 1:
        fail("--samples must be 1 or more")
    if output not in ("table", "json"):
        fail(f"--output must be table or json, got {output!r}")
    from flows.evaluate import evaluate_models
    from tasks.evaluate.steps import FORMATS

    settings = settings_from()
    if budget is not None:
        settings = settings.model_copy(update={"llm": settings.llm.model_copy(update={"budget_usd": budget})})
    formats = tuple(f.strip() for f in (format or ",".join(settings.evaluate.formats)).split(",") if f.strip())
    if set(formats) - set(FORMATS) or not formats:
        fail(f"--format takes {', '.join(FORMATS)}; got {format!r}")
    if dataset is not None and not dataset.exists():
        fail(f"no such dataset: {dataset}")
    try:
        summary = run_flow(settings, evaluate_models, models=list(model), release=release,
                           dataset=str(dataset) if dataset else None, formats=formats, samples=samples,
                           base_url=base_url)
    except (ValueError, LookupError, FileNotFoundError) as exc:
        fail(str(exc))
        raise
    report = evaluation_report(settings, summary.run.run_id)
    if output == "json":
        sys.stdout.write(json.dumps({"run": summary.run.model_dump(mode="json"), "skipped": dict(summary.skipped),
                                     **report}, default=str) + "\n")
        return
    print_report(report, summary)


def evaluation_report(settings: Settings, eval_id: str) -> dict:
    """The report of one evaluation run (``tasks.evaluate.report``), with each model's stated
    training cutoff."""
    from tasks.evaluate import report
    from tasks.io.storage import named_rows

    rows = named_rows(settings, "evaluation_run", eval_id=eval_id)
    cutoffs = {m: card.training_cutoff for m, card in settings.evaluate.models.items()}
    return report.summarise(rows, cutoffs)


def print_report(report: dict, summary) -> None:
    run = summary.run
    table = Table(title=f"evaluation {run.run_id}: {summary.items} items, {run.evaluations} graded answers")
    for column in ("model", "format", "answers", "correct", "incorrect", "undecided", "unparsed", "failed", "accuracy"):
        table.add_column(column, justify="left" if column in ("model", "format") else "right")
    for e in report["accuracy"]:
        table.add_row(escape(e["model"]), e["format"], *(str(e[k]) for k in ("answers", "correct", "incorrect",
                      "undecided", "unparsed", "failed")), "—" if e["accuracy"] is None else f"{e['accuracy']:.3f}")
    out.print(table)
    for model, leak in report["options_only"].items():
        out.print(f"options only, {model}: {leak['correct']}/{leak['answers']} correct ({leak['accuracy']:.2f}, chance "
                  f"{leak['chance']:.2f}, p = {leak['p_value']:.2g})" + ("  ⚠ the options leak the answer" if leak["leaks"]
                                                                       else ""), markup=False)
    for model, letters in report["mc_letters_picked"].items():
        total = sum(letters.values())
        out.print(f"letters picked, {model}: " + ", ".join(f"{k} {v / total:.2f}" for k, v in sorted(letters.items())),
                  markup=False)
    after = [m for m in report["accuracy_by_month"] if m["after_cutoff"] is not None]
    if after:
        out.print("accuracy by paper month (after the training cutoff marked *): " + "; ".join(
            f"{m['model']} {m['paper_month']}{'*' if m['after_cutoff'] else ''} {m['accuracy']:.2f} (n={m['graded']})"
            for m in after), markup=False)
    if summary.skipped:
        out.print("dataset rows skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.skipped.items())))
    out.print(f"LLM calls {run.llm_calls}, ${run.cost_usd:.4f}" + ("; the budget ran out: run it again to continue"
                                                                  if run.status == "stopped" else ""))
    out.print("Query it: stormborn sql \"SELECT * FROM solve_rates\"  ·  then `stormborn audit`")


@app.command("audit")
def audit_command(
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Only this release or dataset's evaluations.")] = None,
    send: Annotated[bool, typer.Option("--send/--no-send", help="Put the flagged items in the review app's "
                                       "adjudication queue.")] = True,
    format: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Flag the items that need a human look (all models fail, all pass, models split, the judge
    and the symbolic check disagree, the options alone give the answer) and send them to adjudication."""
    from flows.evaluate import audit_items

    settings = settings_from()
    audit_id, flagged = audit_items(settings, dataset)
    sent = 0
    if send and flagged:
        from tasks.curate import audit_queue, review

        sent = audit_queue.send_to_adjudication(review.open_db(settings), flagged)
    if format == "json":
        sys.stdout.write(json.dumps({"audit_id": audit_id, "sent": sent, "flags": [
            a.model_dump(mode="json", exclude={"evidence"}) for a in flagged]}) + "\n")
        return
    table = Table(title=f"audit {audit_id}: {len({a.item_id for a in flagged})} items flagged")
    for column in ("item", "flag", "solve rate", "models", "detail"):
        table.add_column(column)
    for a in flagged:
        table.add_row(a.item_id, a.flag, "—" if a.solve_rate is None else f"{a.solve_rate:.2f}", str(a.models),
                      escape(a.detail))
    out.print(table)
    if send:
        out.print(f"{sent} item(s) sent to the review app's adjudication queue (admin page → audits)")


# -- evaluate calibrate ------------------------------------------------------------------------


@evaluate_app.command("calibrate")
def calibrate_command(
    format: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    joint_keep: Annotated[Optional[float], typer.Option(
        "--joint-keep", help="Mean joint score (1–5) at which the joint scorer counts as keeping a candidate "
                             "(default 3).")] = None,
    min_per_class: Annotated[Optional[int], typer.Option(
        "--min-per-class", help="Correct and incorrect reference answers a judge needs before its pass rates "
                                "are corrected (default 20).")] = None,
) -> None:
    """The graders against their references: the quality layer's scores against the experts
    (Cohen's κ, Krippendorff's α, bias per principle; true/false positive rates for keep) and
    the judge against the symbolic check (sensitivity, specificity), with each model's judge
    pass rate raw and corrected for the judge's errors."""
    if format not in ("table", "json"):
        fail(f"--format must be table or json, got {format!r}")
    from tasks.evaluate import calibration

    settings = settings_from()
    options = {k: v for k, v in (("joint_keep_threshold", joint_keep), ("min_per_class", min_per_class))
               if v is not None}
    try:
        report = calibration.calibrate(settings, **options)
    except Exception as exc:  # a lake that cannot be read, a catalog being replaced: one line
        fail(f"could not read the catalog: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        raise
    if format == "json":
        sys.stdout.write(json.dumps(report.as_dict()) + "\n")
        return
    print_calibration(report)


def _figure(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def print_calibration(report) -> None:
    if report.empty:
        out.print("Nothing to calibrate yet: no candidate the experts reviewed has an LLM score, and no judge "
                  "grade has a symbolic reference.")
    if report.principles:
        table = Table(title="LLM graders against the experts, per principle (bias: grader − experts, on 1–5)")
        for column in ("grader", "model", "principle", "criterion", "n", "κ quadratic", "α interval", "bias"):
            table.add_column(column, justify="right" if column in ("n", "κ quadratic", "α interval", "bias")
                             else "left")
        for a in report.principles:
            table.add_row(a.stage, escape(a.model or "—"), a.principle, a.criterion, str(a.n), _figure(a.kappa),
                          _figure(a.alpha), "—" if a.bias is None else f"{a.bias:+.3f}")
        out.print(table)
    if report.keep:
        table = Table(title="Keep (grader's mean ≥ threshold) against the experts' decision")
        for column in ("grader", "model", "threshold", "n", "kept by experts", "TPR", "FPR", "κ", "ties left out"):
            table.add_column(column, justify="left" if column in ("grader", "model") else "right")
        for k in report.keep:
            table.add_row(k.stage, escape(k.model or "—"), f"{k.threshold:g}", str(k.n), str(k.positives),
                          _figure(k.true_positive_rate), _figure(k.false_positive_rate), _figure(k.kappa),
                          str(k.undecided))
        out.print(table)
    if report.judges:
        table = Table(title="The judge against the symbolic check (answers both decided)")
        for column in ("prompt version", "judge model", "n", "correct", "incorrect", "sensitivity", "specificity",
                       "κ"):
            table.add_column(column, justify="left" if column in ("prompt version", "judge model") else "right")
        for j in report.judges:
            table.add_row(escape(j.prompt_version or "—"), escape(j.grader_model or "—"), str(j.n), str(j.positives),
                          str(j.negatives), _figure(j.sensitivity), _figure(j.specificity), _figure(j.kappa))
        out.print(table)
    if report.pass_rates:
        table = Table(title="Judge pass rate per model: raw, and with the judge's errors removed (Rogan–Gladen)")
        for column in ("model", "judge", "judged", "raw", "corrected", "why not corrected"):
            table.add_column(column, justify="right" if column in ("judged", "raw", "corrected") else "left")
        for r in report.pass_rates:
            table.add_row(escape(r.model), escape(f"{r.prompt_version or '—'} / {r.grader_model or '—'}"),
                          str(r.judged), _figure(r.raw_pass_rate), _figure(r.corrected_pass_rate),
                          r.uncorrected_reason or "")
        out.print(table)
    for note in report.notes:
        out.print(f"note: {note}", markup=False)
    out.print("Query it: stormborn sql \"SELECT * FROM judge_calibration\"")
