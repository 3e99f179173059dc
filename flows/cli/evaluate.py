"""Closing the loop: ``evaluate`` (models over a release or a dataset file), ``evaluate
calibrate`` (the graders against the experts) and ``audit`` (items that need a human look)."""

from __future__ import annotations

import typer

from flows.cli.common import app

evaluate_app = typer.Typer(help="Evaluate models on a release or dataset; calibrate the judge.",
                           invoke_without_command=True)
app.add_typer(evaluate_app, name="evaluate")

# -- evaluate calibrate ------------------------------------------------------------------------
