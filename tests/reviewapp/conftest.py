"""A review app with two papers' candidates, three reviewers and an admin, ready to serve."""

from __future__ import annotations

import pytest

from reviewapp.app import create_app
from tasks.curate import review
from tests.factories import candidate_catalog


@pytest.fixture
def world(settings):
    candidate_catalog(settings, papers=2, per_paper=3)
    db = review.open_db(settings)
    tokens = {name: review.add_reviewer(db, name) for name in ("ana", "ben", "cho")}
    tokens["boss"] = review.add_reviewer(db, "boss", "admin")
    review.load_items(settings, db)
    review.assign(db, 2)
    app = create_app(settings, publish=False)
    return settings, db, tokens, app
