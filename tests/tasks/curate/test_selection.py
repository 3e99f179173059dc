"""Selection: ranking by expert scores, the paper cap, the spread, and a reason for every row."""

from __future__ import annotations

from tasks.core.records import PRINCIPLES, ExpertReview
from tasks.core.settings import SelectSettings
from tasks.curate.selection import Pool, rank, select


def _review(cid: str, who: str, score: int, decision: str = "keep", **over) -> ExpertReview:
    return ExpertReview(candidate_id=cid, reviewer=who, decision=decision,
                        **({p: score for p in PRINCIPLES} | over))


def _pool(cid, paper, topic, scores, decisions=("keep", "keep"), assigned=2, adjudicated=None, **over):
    reviews = [_review(cid, f"r{i}", s, d, **over) for i, (s, d) in enumerate(zip(scores, decisions))]
    return Pool(cid, paper, topic, reviews, assigned, adjudicated)


def test_rank_caps_papers_spreads_topics_and_explains_every_row():
    pool = [
        _pool("a1", "A", "cs.LG", (5, 5)), _pool("a2", "A", "cs.LG", (5, 5)), _pool("a3", "A", "cs.LG", (5, 4)),
        _pool("b1", "B", "cs.LG", (4, 4)), _pool("c1", "C", "stat.ML", (4, 4)), _pool("c2", "C", "stat.ML", (3, 3)),
        _pool("d1", "D", "math.OC", (5, 5), ("keep", "reject")),                # needs an adjudicator
        _pool("d2", "D", "math.OC", (5, 5), ("keep", "reject"), adjudicated="keep"),
        _pool("e1", "E", "math.OC", (2, 2), ("reject", "reject")),
        _pool("f1", "F", "cs.LG", (5,), ("keep",), assigned=2),                  # one of two reviews in
        _pool("g1", "G", "cs.LG", (5, 5), derivation_correctness=2),             # wrong derivation
    ]
    rows = rank(pool, SelectSettings(n=5, per_paper=2), disagreement=2.0, selection_id="s")
    by_id = {r.candidate_id: r for r in rows}
    assert len(rows) == len(pool)
    chosen = [r.candidate_id for r in rows if r.selected]
    assert len(chosen) == 5 and [r.rank for r in rows if r.selected] == [1, 2, 3, 4, 5]
    assert chosen[0] in {"a1", "a2", "d2"}
    assert sum(c.startswith("a") for c in chosen) <= 2  # the paper cap
    assert {"c1", "d2"} <= set(chosen)  # other topics come in before a third cs.LG problem
    assert by_id["a3"].reason == "paper_cap"
    assert by_id["d1"].reason == "awaiting_adjudication"
    assert by_id["e1"].reason == "rejected_by_experts"
    assert by_id["f1"].reason == "incomplete_reviews" and by_id["f1"].detail == "1 of 2 reviews in"
    assert by_id["g1"].reason == "low_correctness"
    assert by_id["c2"].reason == "below_cut"
    assert all(r.detail for r in rows)


def test_select_stores_the_choice_in_the_lake(settings):
    from tasks.curate import review
    from tasks.io import storage
    from tests.factories import candidate_catalog

    ids = candidate_catalog(settings, papers=3, per_paper=3)
    db = review.open_db(settings)
    who = {n: review.Reviewer(n, "reviewer") for n in ("ana", "ben")}
    for n in who:
        review.add_reviewer(db, n)
    review.load_items(settings, db)
    review.assign(db, 2)
    for i, cid in enumerate(ids):
        for n in who:
            review.submit(db, who[n], cid, review.ReviewForm(
                **{p: 1 + (i % 5) for p in PRINCIPLES}, decision="keep", submission_id=f"s-{cid}-{n}"))
    rows = select(settings.model_copy(update={"select": SelectSettings(n=4, per_paper=2)}))
    stored = storage.query_rows(settings, "SELECT * FROM selections ORDER BY rank NULLS LAST")
    assert len(stored) == len(ids) and sum(r["selected"] for r in stored) == 4
    assert {r["candidate_id"] for r in stored if r["selected"]} == {r.candidate_id for r in rows if r.selected}
    assert storage.query_rows(settings, "SELECT count(*) AS n FROM expert_reviews")[0]["n"] == 2 * len(ids)
    checks = storage.query_rows(settings, "SELECT success FROM validations WHERE stage = 'selections'")
    assert checks and all(c["success"] for c in checks)
    progress = storage.query_rows(settings, "SELECT * FROM review_progress")
    assert len(progress) == len(ids) and {(p["assigned"], p["reviewed"], p["keeps"]) for p in progress} == {(2, 2, 2)}
