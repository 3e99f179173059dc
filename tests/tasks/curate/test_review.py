"""Accounts and assignment in tasks.curate.review."""

from __future__ import annotations

import pytest

from tasks.curate import review


def test_reviewer_names_are_checked_and_not_reused(settings):
    db = review.open_db(settings)
    token = review.add_reviewer(db, "ana")
    with pytest.raises(ValueError, match="exists"):
        review.add_reviewer(db, "ana")
    with pytest.raises(ValueError):
        review.add_reviewer(db, "bad name; drop table")
    new = review.add_reviewer(db, "ana", rotate=True)
    assert review.authenticate(db, token) is None and review.authenticate(db, new).name == "ana"


def test_assignment_with_too_few_reviewers_says_how_many_are_short(settings):
    from tests.factories import candidate_catalog

    candidate_catalog(settings, papers=1, per_paper=3)
    db = review.open_db(settings)
    review.add_reviewer(db, "solo")
    review.add_reviewer(db, "boss", "admin")
    review.load_items(settings, db)
    result = review.assign(db, 2)
    assert (result.assigned, result.short) == (3, 3)  # admins are not given work
    review.add_reviewer(db, "second")
    assert review.assign(db, 2).assigned == 3 and review.assign(db, 2).short == 0


def test_a_lost_review_database_cannot_wipe_the_lake_copy_and_is_restored_from_it(settings, tmp_path):
    """The team's reviews are in the lake; the app (or `select`) is started against an empty database."""
    from tasks.core.records import PRINCIPLES
    from tasks.io import storage
    from tests.factories import candidate_catalog

    ids = candidate_catalog(settings, papers=2, per_paper=2)
    db = review.open_db(settings)
    for name in ("ana", "ben"):
        review.add_reviewer(db, name)
    review.load_items(settings, db)
    review.assign(db, 2)
    for i, cid in enumerate(ids):
        for name in ("ana", "ben"):
            review.submit(db, review.Reviewer(name, "reviewer"), cid, review.ReviewForm(
                **{p: 1 + (i + len(name)) % 5 for p in PRINCIPLES}, decision="keep", submission_id=f"s-{cid}-{name}"))
    review.adjudicate(db, review.Reviewer("ana", "admin"), ids[0], "keep", "fine")
    assert review.snapshot(settings, db)["expert_reviews"] == 8

    def in_lake():
        return storage.query_rows(settings, "SELECT * FROM expert_reviews ORDER BY candidate_id, reviewer")

    before = in_lake()
    lost = settings.model_copy(update={"review": settings.review.model_copy(update={"db": str(tmp_path / "new.sqlite")})})
    empty = review.open_db(lost)
    assert "lake holds 8 expert reviews" in review.new_database_warning(lost, empty)
    with pytest.raises(review.ReviewCopyConflict, match="stormborn review restore"):
        review.snapshot(lost, empty)
    other = review.open_db(lost.model_copy(update={"review": lost.review.model_copy(
        update={"db": str(tmp_path / "other.sqlite")})}))
    review.add_reviewer(other, "zed")
    review.load_items(lost, other)
    review.assign(other, 1)
    review.submit(other, review.Reviewer("zed", "reviewer"), ids[0], review.ReviewForm(
        **dict.fromkeys(PRINCIPLES, 5), decision="keep", submission_id="s-zed-0001"))
    with pytest.raises(review.ReviewCopyConflict, match="a different one"):
        review.snapshot(lost, other)
    assert in_lake() == before  # nothing replaced

    restored = review.restore(lost, empty)
    assert (restored.reviews, restored.adjudications, restored.skipped) == (8, 1, 0)
    assert set(restored.tokens) == {"ana", "ben"} and review.authenticate(empty, restored.tokens["ana"]).is_admin
    assert empty.identity == db.identity
    review.snapshot(lost, empty)  # the restored database may copy again
    after = in_lake()
    assert [{k: r[k] for k in (*PRINCIPLES, "candidate_id", "reviewer", "decision", "revision")} for r in after] == \
        [{k: r[k] for k in (*PRINCIPLES, "candidate_id", "reviewer", "decision", "revision")} for r in before]
    with pytest.raises(ValueError, match="already holds reviews"):
        review.restore(lost, empty)


def test_a_damaged_lake_copy_is_rewritten_by_its_own_database_and_guarded_from_others(settings, tmp_path):
    from tasks.core.records import PRINCIPLES, ExpertReview
    from tasks.io import storage
    from tests.factories import candidate_catalog

    ids = candidate_catalog(settings, papers=1, per_paper=2)
    db = review.open_db(settings)
    review.add_reviewer(db, "ana")
    review.load_items(settings, db)
    review.assign(db, 1)
    review.submit(db, review.Reviewer("ana", "reviewer"), ids[0], review.ReviewForm(
        **dict.fromkeys(PRINCIPLES, 4), decision="keep", submission_id="s-ana-0001"))
    review.snapshot(settings, db, publish=False)
    lake = storage.Lake.from_settings(settings)
    part = lake.path("tables", ExpertReview.TABLE, "review-app.parquet")
    with open(part, "wb") as f:
        f.write(b"PAR1 not really")

    copy = review.lake_copy(settings)
    assert copy.damaged and copy.reviews == 1  # the count recorded with the copy
    other = review.open_db(settings.model_copy(update={"review": settings.review.model_copy(
        update={"db": str(tmp_path / "other.sqlite")})}))
    with pytest.raises(review.ReviewCopyConflict, match="cannot be read"):
        review.check_copy(settings, other)

    assert review.snapshot(settings, db, publish=False)["expert_reviews"] == 1  # its own database repairs it
    assert len(lake.read_part(ExpertReview, "review-app")) == 1
    aside = lake.path("quarantine", "parts", ExpertReview.TABLE, "review-app.parquet")
    assert open(aside, "rb").read() == b"PAR1 not really"  # the damaged bytes are kept


def test_work_is_assigned_in_review_queue_order_and_the_pre_review_is_for_admins_only(settings):
    """The quality layer's queue decides what reviewers read first; the LLM's scores stay hidden
    from them (blind review) and admins see how far down the queue the team is."""
    from tasks.core.records import PRINCIPLES, QueueEntry
    from tasks.io import storage
    from tests.factories import candidate_catalog

    ids = candidate_catalog(settings, papers=2, per_paper=3, broken=False)
    ranked = list(reversed(ids))[:4]  # the last candidates are the best; two stay unranked
    lake = storage.Lake.from_settings(settings)
    lake.write_table(QueueEntry, [QueueEntry(candidate_id=cid, paper_id=f"arxiv:2611.{int(cid[1]):05d}", rank=n + 1,
                                             raw_score=4.5 - n / 10, curated_score=4.4 - n / 10, solve_rate=0.5)
                                  for n, cid in enumerate(ranked)], "current")
    storage.publish_catalog(settings)
    db = review.open_db(settings)
    for name in ("ana", "ben"):
        review.add_reviewer(db, name)
    review.load_items(settings, db)
    review.assign(db, 2)
    order = [q["candidate_id"] for q in review.queue(db, "ana")]
    assert order[:4] == ranked and sorted(order[4:]) == sorted(set(ids) - set(ranked))

    shown = review.item(db, review.Reviewer("ana", "reviewer"), ranked[0])
    assert not set(review.PRE_REVIEW) & set(shown)
    admin = review.item(db, review.Reviewer("boss", "admin"), ranked[0])
    assert (admin["queue_rank"], admin["pre_review_score"], admin["solve_rate"]) == (1, 4.5, 0.5)

    assert review.queue_progress(db) == {"ranked": 4, "deepest_rank": None, "fully_reviewed": 0, "keepers": 0,
                                         "reviews": 0}
    for name, decision in (("ana", "keep"), ("ben", "keep")):
        review.submit(db, review.Reviewer(name, "reviewer"), ranked[1], review.ReviewForm(
            **{p: 4 for p in PRINCIPLES}, decision=decision, submission_id=f"submit-{name}"))
    review.submit(db, review.Reviewer("ana", "reviewer"), ranked[0], review.ReviewForm(
        **{p: 2 for p in PRINCIPLES}, decision="reject", submission_id="submit-reject"))
    assert review.queue_progress(db) == {"ranked": 4, "deepest_rank": 2, "fully_reviewed": 1, "keepers": 1,
                                         "reviews": 3}
