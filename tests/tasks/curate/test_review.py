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
