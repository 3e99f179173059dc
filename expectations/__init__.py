"""One Great Expectations suite per stage.

Each module defines ``STAGE`` (the table it checks), ``ENTITY`` (the column that names a row in
quarantine) and ``expectations()`` returning GX 1.x expectation objects. Row-level expectations
quarantine the rows they fail; table-level ones are recorded in ``validations``. Allowed values
come from ``tasks.core.records`` (``allowed(Verdict)``…): one definition for models and suites.
"""

from __future__ import annotations

import importlib

SUITES = ("papers", "reviews", "paper_filters", "documents", "extractions", "sections", "expressions",
          "expression_edges", "candidate_targets", "candidate_drafts", "candidate_answers",
          "candidate_contexts", "candidate_questions", "candidate_verdicts", "quality_scores",
          "question_revisions", "solutions", "duplicates", "contamination", "review_queue", "selections",
          "evaluations")


def load(stage: str):
    if stage not in SUITES:
        raise KeyError(f"no expectation suite for stage {stage!r}")
    return importlib.import_module(f"expectations.{stage}")
