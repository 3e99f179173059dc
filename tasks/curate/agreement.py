"""Agreement between expert reviewers, and the adjudication queue.

Input: ``ExpertReview`` rows (from the review database). Output: Krippendorff's α (the
``krippendorff`` package: ordinal for the 1–5 principle scores, nominal for keep/reject) per
principle, pooled over all principles and for the decision; for each candidate, whether its
reviewers disagree enough to need an adjudicator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import krippendorff
import numpy as np

from tasks.core.records import PRINCIPLES, ExpertReview
from tasks.curate.review import adjudications, all_reviews
from tasks.io.storage import ReviewDB


@dataclass
class Agreement:
    alpha: dict[str, float | None]
    """Krippendorff's α (ordinal) per principle, ``overall`` (all principles pooled, each
    (candidate, principle) a unit) and ``decision`` (nominal keep/reject)."""
    units: int
    """Candidates with at least two reviews (the only ones α can use)."""
    reviews: int


def krippendorff_alpha(matrix: np.ndarray, level: str) -> float | None:
    """α over a coders × units matrix with NaN for missing; None when α is undefined."""
    pairable = (np.sum(~np.isnan(matrix), axis=0) >= 2).sum() if matrix.size else 0
    if pairable == 0:
        return None
    try:
        return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))
    except ValueError:  # every value identical: the library refuses a one-value domain
        return None


def agreement(reviews: list[ExpertReview]) -> Agreement:
    names = sorted({r.reviewer for r in reviews})
    by_unit: dict[str, dict[str, ExpertReview]] = {}
    for r in reviews:
        by_unit.setdefault(r.candidate_id, {})[r.reviewer] = r
    units = sorted(c for c, rs in by_unit.items() if len(rs) >= 2)

    def matrix(value) -> np.ndarray:
        return np.array([[value(by_unit[u][n]) if n in by_unit[u] else np.nan for u in units]
                         for n in names], dtype=float).reshape(len(names), len(units))

    alpha: dict[str, float | None] = {
        p: krippendorff_alpha(matrix(lambda r, p=p: getattr(r, p)), "ordinal") for p in PRINCIPLES}
    pooled = np.concatenate([matrix(lambda r, p=p: getattr(r, p)) for p in PRINCIPLES], axis=1) \
        if units else np.empty((len(names), 0))
    alpha["overall"] = krippendorff_alpha(pooled, "ordinal")
    alpha["decision"] = krippendorff_alpha(matrix(lambda r: r.decision == "keep"), "nominal")
    return Agreement(alpha=alpha, units=len(units), reviews=len(reviews))


def disagreement(reviews: list[ExpertReview], threshold: float) -> str | None:
    """Why these reviews of one candidate need an adjudicator, or None when they agree."""
    if len(reviews) < 2:
        return None
    if len({r.decision for r in reviews}) > 1:
        return "decisions differ"
    spread = {p: max(getattr(r, p) for r in reviews) - min(getattr(r, p) for r in reviews)
              for p in PRINCIPLES}
    worst = max(spread, key=spread.get)
    if spread[worst] >= threshold:
        return f"{worst} scores {spread[worst]} apart"
    return None


def adjudication_queue(db: ReviewDB, threshold: float) -> list[dict[str, Any]]:
    """Candidates whose reviewers disagree and that no admin has decided yet."""
    decided = {a.candidate_id for a in adjudications(db)}
    grouped: dict[str, list[ExpertReview]] = {}
    for r in all_reviews(db):
        grouped.setdefault(r.candidate_id, []).append(r)
    return [{"candidate_id": cid, "why": why, "reviews": rs}
            for cid, rs in sorted(grouped.items())
            if cid not in decided and (why := disagreement(rs, threshold))]
