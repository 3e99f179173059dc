"""The admin page's grader calibration: the LLM graders against this database's reviews, the
judge against the symbolic check; never an error page."""

from __future__ import annotations

import re

from tasks.core.records import PRINCIPLES, Evaluation, QualityScore
from tasks.curate import review
from tasks.io import storage
from tests.reviewapp.web import HTML, client
from tests.tasks.evaluate import calibration_lake as known


def test_without_scores_or_evaluations_the_section_says_nothing_yet(world):
    _, _, tokens, app = world
    page = client(app, tokens["boss"]).get("/admin", headers=HTML)
    assert page.status_code == 200
    assert "Grader calibration" in page.text and "Nothing to calibrate yet" in page.text
    assert "Adjudication queue" in page.text  # the rest of the page is there
    assert client(app, tokens["ana"]).get("/admin", headers=HTML).status_code == 403


def test_the_section_shows_the_graders_against_the_reviews_in_this_database(world):
    settings, db, tokens, app = world
    # Each reviewer scores their candidates 1–5 by position, so the scale is used; the joint
    # scorer gives one point more, capped at 5.
    scores, given = [], {}
    for name in ("ana", "ben", "cho"):
        who = review.authenticate(db, tokens[name])
        for i, item in enumerate(review.queue(db, name)):
            cid = item["candidate_id"]
            level = 1 + (sum(map(ord, cid)) + i) % 5
            given.setdefault(cid, level)
            review.submit(db, who, cid, review.ReviewForm(**{p: given[cid] for p in PRINCIPLES},
                                                         decision="keep" if given[cid] >= 3 else "reject",
                                                         submission_id=f"sub-{cid}-{name}"))
    for cid, level in given.items():
        scores += [QualityScore(candidate_id=cid, stage="joint_score", criterion=p, score=min(level + 1, 5),
                                model="pre-reviewer") for p in PRINCIPLES]
    lake = storage.Lake.from_settings(settings)
    lake.write_table(QualityScore, scores, "scores")
    lake.write_table(Evaluation, known.evaluations(), "evaluations")
    storage.publish_catalog(settings)  # the reviews themselves are read from the database, not the lake

    page = client(app, tokens["boss"]).get("/admin", headers=HTML).text
    section = page[page.index("Grader calibration"):page.index("Review queue")]
    assert "pre-reviewer" in section and "Cohen" in section and "Krippendorff" in section
    assert "reasoning density" in section and f"<td>{len(given)}</td>" in section
    assert re.search(r"<td>\+[01]\.\d{3}</td>", section)  # a positive bias: the grader scores higher
    assert known.JUDGE_PROMPT in section and "0.900" in section and "0.800" in section  # sensitivity, specificity
    assert "0.550" in section and "0.500" in section  # m1's raw and corrected pass rates


def test_a_catalog_that_cannot_be_read_does_not_break_the_page(world, monkeypatch):
    _, _, tokens, app = world
    from tasks.evaluate import calibration

    def unreadable(*args, **kwargs):
        raise OSError("the catalog is being replaced")

    monkeypatch.setattr(calibration, "calibrate", unreadable)
    page = client(app, tokens["boss"]).get("/admin", headers=HTML)
    assert page.status_code == 200 and "Not available right now" in page.text and "OSError" in page.text
    assert "Adjudication queue" in page.text
