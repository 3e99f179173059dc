"""Selection of the final set from expert reviews.

Input: the review database's items (candidate, paper, topic), reviews, assignments and
adjudications (``tasks.curate.review``). Output: one ``Selection`` row per reviewed-or-assigned candidate — chosen
(``selected``, with its rank) or not, always with a snake_case reason and a readable detail —
written to the lake as the table ``selections``.

Ranking: a candidate's expert score is the mean of its reviewers' five principle scores. The set
is built greedily: each step takes the candidate with the highest score after penalties for the
problems already taken from its paper and its topic, never more than ``per_paper`` from one
paper. Penalties are small against the 1–5 scale, so a clearly better problem still wins; among
near-ties the set spreads across papers and topics first.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import mean

from tasks.core.records import ExpertReview, Selection
from tasks.core.settings import SelectSettings, Settings
from tasks.curate import review
from tasks.curate.agreement import disagreement as disagreement_of
from tasks.io import storage
from tasks.io.validate import gate


@dataclass
class Pool:
    candidate_id: str
    paper_id: str
    topic: str
    reviews: list[ExpertReview]
    assigned: int
    adjudicated: str | None


def eligibility(entry: Pool, disagreement: float, min_correctness: float) -> tuple[str | None, str]:
    """(reason it cannot be chosen, detail), or (None, detail) for an eligible candidate."""
    n = len(entry.reviews)
    if n == 0 or n < entry.assigned:
        return "incomplete_reviews", f"{n} of {entry.assigned} reviews in"
    why = disagreement_of(entry.reviews, disagreement)
    decision = entry.adjudicated
    if decision is None:
        if why:
            return "awaiting_adjudication", why
        decision = entry.reviews[0].decision
    if decision == "reject":
        return "rejected_by_experts", "adjudicated reject" if entry.adjudicated else f"{n}/{n} reject"
    correctness = mean(r.derivation_correctness for r in entry.reviews)
    if correctness < min_correctness:
        return "low_correctness", f"mean derivation correctness {correctness:.2f} < {min_correctness}"
    return None, "adjudicated keep" if entry.adjudicated else f"{n}/{n} keep"


def expert_score(reviews: list[ExpertReview]) -> float:
    return mean(mean(r.scores().values()) for r in reviews)


def rank(pool: list[Pool], settings: SelectSettings, disagreement: float,
         selection_id: str) -> list[Selection]:
    """Choose up to ``settings.n``; every entry in ``pool`` comes back with its reason."""
    rows: dict[str, Selection] = {}
    eligible: list[tuple[Pool, float, str]] = []

    def decide(entry: Pool, **fields) -> None:
        rows[entry.candidate_id] = Selection(
            selection_id=selection_id, candidate_id=entry.candidate_id, paper_id=entry.paper_id,
            topic=entry.topic, reviewers=len(entry.reviews), **fields)

    for entry in pool:
        reason, detail = eligibility(entry, disagreement, settings.min_correctness)
        score = expert_score(entry.reviews) if entry.reviews else None
        if reason:
            decide(entry, selected=False, expert_score=score, reason=reason, detail=detail)
        else:
            eligible.append((entry, score, detail))

    per_paper: Counter[str] = Counter()
    per_topic: Counter[str] = Counter()
    remaining = sorted(eligible, key=lambda e: (-e[1], e[0].candidate_id))
    chosen = 0
    while remaining and chosen < settings.n:
        best, best_value = None, None
        for i, (entry, score, _) in enumerate(remaining):
            if per_paper[entry.paper_id] >= settings.per_paper:
                continue
            value = (score - settings.paper_penalty * per_paper[entry.paper_id]
                     - settings.topic_penalty * per_topic[entry.topic])
            if best_value is None or value > best_value:
                best, best_value = i, value
        if best is None:
            break
        entry, score, detail = remaining.pop(best)
        chosen += 1
        decide(entry, selected=True, rank=chosen, expert_score=round(score, 4),
               adjusted_score=round(best_value, 4), reason="selected",
                  detail=(f"{detail}; expert score {score:.2f}, {per_paper[entry.paper_id]} earlier from "
                       f"this paper, {per_topic[entry.topic]} from topic {entry.topic}"))
        per_paper[entry.paper_id] += 1
        per_topic[entry.topic] += 1
    for entry, score, detail in remaining:
        capped = per_paper[entry.paper_id] >= settings.per_paper
        decide(entry, selected=False, expert_score=round(score, 4),
               reason="paper_cap" if capped else "below_cut",
               detail=(f"{detail}; paper already has {settings.per_paper}" if capped
                       else f"{detail}; expert score {score:.2f} below the {settings.n} chosen"))
    return sorted(rows.values(), key=lambda s: (not s.selected, s.rank or 0, s.candidate_id))


def pool_from(db: storage.ReviewDB) -> list[Pool]:
    reviews: dict[str, list[ExpertReview]] = {}
    for r in review.all_reviews(db):
        reviews.setdefault(r.candidate_id, []).append(r)
    decided = {a.candidate_id: a.decision for a in review.adjudications(db)}
    return [Pool(candidate_id=i["candidate_id"], paper_id=i["paper_id"], topic=i["topic"],
                 reviews=reviews.get(i["candidate_id"], []), assigned=i["assigned"],
                 adjudicated=decided.get(i["candidate_id"]))
            for i in db.pool()]


def select(settings: Settings, n: int | None = None) -> list[Selection]:
    """Rank the reviewed candidates, store the choice in the lake, publish the catalog."""
    params = settings.select.model_copy(update={"n": n} if n is not None else {})
    db = review.open_db(settings)
    review.snapshot(settings, db, publish=False)  # the one publish below shows both
    selection_id = "sel-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    rows = rank(pool_from(db), params, settings.review.disagreement, selection_id)
    lake = storage.Lake.from_settings(settings)
    outcome = gate(lake, "selections", rows, selection_id, "all")
    rows = outcome.passed  # a row that fails the suite is in `quarantine`, not in the selection
    lake.write_table(Selection, rows, selection_id)
    lake.put_json({"selection_id": selection_id, "settings": json.loads(params.model_dump_json()),
                   "reasons": dict(Counter(r.reason for r in rows))},
                  "state", "selections", f"{selection_id}.json")
    storage.publish_catalog(settings)
    return rows


