"""Agreement (Krippendorff's α) and disagreement in tasks.curate.agreement."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.core.records import PRINCIPLES, ExpertReview
from tasks.curate import agreement

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
    assert round(agreement.krippendorff_alpha(TEXTBOOK, level), 3) == published


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
    result = agreement.agreement(_reviews_from(TEXTBOOK, "derivation_correctness"))
    assert round(result.alpha["derivation_correctness"], 3) == 0.815
    assert result.alpha["problem_clarity"] is None  # every score 3: α undefined, not a crash
    assert result.alpha["decision"] is None
    assert result.units == 11  # unit 12 has one review only
    assert 0 < result.alpha["overall"] < 1


def test_agreement_with_no_pairs_is_undefined():
    one = _reviews_from(TEXTBOOK[:1], "problem_clarity")
    assert agreement.agreement(one).alpha["problem_clarity"] is None
    assert agreement.agreement([]).units == 0


def test_disagreement_threshold():
    base = {p: 4 for p in PRINCIPLES}
    a = ExpertReview(candidate_id="c", reviewer="a", decision="keep", **base)
    close = ExpertReview(candidate_id="c", reviewer="b", decision="keep", **base | {"problem_difficulty": 3})
    far = ExpertReview(candidate_id="c", reviewer="b", decision="keep", **base | {"problem_difficulty": 2})
    other = ExpertReview(candidate_id="c", reviewer="b", decision="reject", **base)
    assert agreement.disagreement([a, close], 2.0) is None
    assert agreement.disagreement([a, far], 2.0) == "problem_difficulty scores 2 apart"
    assert agreement.disagreement([a, other], 2.0) == "decisions differ"
    assert agreement.disagreement([a], 2.0) is None
