"""Agreement, disagreement, assignment and highlighting in tasks.review."""

from __future__ import annotations

import numpy as np
import pytest

from tasks import review
from tasks.models import PRINCIPLES, ExpertReview

NA = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the example with four
# observers, twelve units, values 1-5 and missing data. Published: nominal .743, ordinal .815,
# interval .849, ratio .797.
TEXTBOOK = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NA, NA, NA],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NA, 3],
    [NA, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NA],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NA],
])


@pytest.mark.parametrize("level,published", [("nominal", 0.743), ("ordinal", 0.815),
                                             ("interval", 0.849), ("ratio", 0.797)])
def test_alpha_matches_the_textbook_example(level, published):
    assert round(review.krippendorff_alpha(TEXTBOOK, level), 3) == published


def _reviews_from(matrix: np.ndarray, principle: str) -> list[ExpertReview]:
    out = []
    for coder, row in enumerate(matrix):
        for unit, value in enumerate(row):
            if not np.isnan(value):
                scores = {p: 3 for p in PRINCIPLES} | {principle: int(value)}
                out.append(ExpertReview(candidate_id=f"u{unit:02d}", reviewer=f"obs{coder}",
                                        decision="keep", **scores))
    return out


def test_agreement_per_principle_uses_the_reviews_as_a_coder_by_unit_matrix():
    result = review.agreement(_reviews_from(TEXTBOOK, "derivation_correctness"))
    assert round(result.alpha["derivation_correctness"], 3) == 0.815
    assert result.alpha["problem_clarity"] is None  # every score 3: α undefined, not a crash
    assert result.alpha["decision"] is None
    assert result.units == 11  # unit 12 has one review only
    assert 0 < result.alpha["overall"] < 1


def test_agreement_with_no_pairs_is_undefined():
    one = _reviews_from(TEXTBOOK[:1], "problem_clarity")
    assert review.agreement(one).alpha["problem_clarity"] is None
    assert review.agreement([]).units == 0


def test_disagreement_threshold():
    base = {p: 4 for p in PRINCIPLES}
    a = ExpertReview(candidate_id="c", reviewer="a", decision="keep", **base)
    close = ExpertReview(candidate_id="c", reviewer="b", decision="keep", **base | {"problem_difficulty": 3})
    far = ExpertReview(candidate_id="c", reviewer="b", decision="keep", **base | {"problem_difficulty": 2})
    other = ExpertReview(candidate_id="c", reviewer="b", decision="reject", **base)
    assert review.disagreement([a, close], 2.0) is None
    assert review.disagreement([a, far], 2.0) == "problem_difficulty scores 2 apart"
    assert review.disagreement([a, other], 2.0) == "decisions differ"
    assert review.disagreement([a], 2.0) is None


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


def test_highlight_marks_aligned_passages_and_keeps_the_text():
    text = "We assume each loss is convex. Then the gradient is bounded by G. The end."
    runs = review.highlight(text, ["the gradient is bounded by G", "never in the text at all, nowhere"])
    assert "".join(t for t, _ in runs) == text
    assert [t for t, hit in runs if hit] == ["the gradient is bounded by G"]
