"""DS² ranking: the transition matrix, curation, long-tail scores and the paged queue."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.core.settings import RefineSettings
from tasks.refine import ranking
from tasks.refine.ranking import QUEUE_REASONS, RankItem, curate, long_tail, rank_queue, transition_matrix

PLANTED = np.array([[0.70, 0.20, 0.07, 0.03, 0.00],
                    [0.15, 0.55, 0.20, 0.08, 0.02],
                    [0.03, 0.17, 0.50, 0.22, 0.08],
                    [0.01, 0.05, 0.20, 0.50, 0.24],
                    [0.00, 0.02, 0.08, 0.25, 0.65]])
"""An LLM's confusion: right about half the time, mostly off by one level."""


def clustered(seed: int, n: int = 3000, clusters: int = 60, dim: int = 32, confusion: np.ndarray = PLANTED):
    """Topics that each hold one true level; given levels drawn through ``confusion``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    level_of_cluster = np.arange(clusters) % len(confusion)
    cluster = rng.integers(0, clusters, n)
    vectors = centres[cluster] + 0.3 * rng.normal(size=(n, dim))
    true = level_of_cluster[cluster] + 1
    cumulative = confusion.cumsum(axis=1)[true - 1]
    given = (rng.random(n)[:, None] > cumulative).sum(axis=1) + 1
    return vectors, true, np.minimum(given, len(confusion))


@pytest.mark.parametrize("seed", [0, 1])
def test_transition_matrix_recovers_a_planted_confusion(seed):
    vectors, _, given = clustered(seed)
    T = transition_matrix(given, vectors, k=10)
    assert T.shape == (5, 5)
    assert np.allclose(T.sum(axis=1), 1)
    assert np.abs(T - PLANTED).max() < 0.1
    assert np.abs(T - PLANTED).mean() < 0.03


def test_transition_matrix_with_ds2s_two_neighbours_is_noisier_but_close():
    vectors, _, given = clustered(0)
    assert np.abs(transition_matrix(given, vectors, k=2) - PLANTED).mean() < 0.06


def test_transition_matrix_falls_back_to_identity():
    vectors, _, given = clustered(0, n=30)
    estimate = ranking.estimate_transition(given, vectors, k=10)
    assert estimate.fallback == "too_few_items" and np.array_equal(estimate.matrix, np.eye(5))
    vectors, _, _ = clustered(0, n=300)
    estimate = ranking.estimate_transition(np.full(300, 4), vectors, k=10)
    assert estimate.fallback == "single_level" and np.array_equal(estimate.matrix, np.eye(5))


def test_quality_blind_embeddings_are_not_clusterable_and_correct_nothing():
    vectors, _, given = clustered(0)
    shuffled = np.random.default_rng(0).permutation(given)  # levels unrelated to the embeddings
    assert ranking.estimate_transition(shuffled, vectors, k=10).fallback == "not_clusterable"
    items = items_for(3000, papers=300, scores=shuffled.astype(float))
    entries, warnings = rank_queue(items, vectors, RefineSettings())
    assert any("not_clusterable" in w for w in warnings)
    assert all(e.curated_score == e.raw_score and e.reason == "uncorrected_no_transition_matrix" for e in entries)


def test_transition_matrix_with_an_empty_level_keeps_identity_for_it():
    confusion = PLANTED.copy()
    confusion[:, 0] = 0  # nobody is ever given 1
    confusion /= confusion.sum(axis=1, keepdims=True)
    vectors, _, given = clustered(0, confusion=confusion)
    assert not (given == 1).any()
    estimate = ranking.estimate_transition(given, vectors, k=10)
    assert estimate.fallback is None
    assert np.allclose(estimate.matrix.sum(axis=1), 1) and np.isfinite(estimate.matrix).all()
    assert estimate.matrix[0, 0] == 1 and estimate.prior[0] == 0
    assert np.abs(estimate.matrix[1:, 1:] - confusion[1:, 1:]).max() < 0.1


def test_curation_agrees_with_the_truth_more_than_the_raw_scores():
    vectors, true, given = clustered(2)
    estimate = ranking.estimate_transition(given, vectors, k=10)
    curated, confidence = curate(given, vectors, estimate.matrix, k=10, prior=estimate.prior)
    raw_accuracy, curated_accuracy = np.mean(given == true), np.mean(curated == true)
    assert curated_accuracy > raw_accuracy + 0.15
    changed = curated != given
    assert changed.any() and (confidence[changed] >= ranking.CONFIDENCE_TO_CORRECT).all()
    assert set(np.unique(curated)) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_curation_with_identity_changes_little_and_is_deterministic():
    vectors, _, given = clustered(3, n=600)
    first, confidence = curate(given, vectors, np.eye(5), k=10)
    second, _ = curate(given, vectors, np.eye(5), k=10)
    assert np.array_equal(first, second)
    assert np.mean(first != given) < 0.2 and ((confidence >= 0) & (confidence <= 1)).all()


def test_long_tail_is_larger_for_isolated_points():
    rng = np.random.default_rng(0)
    crowd = np.array([1.0, 0, 0, 0]) + 0.05 * rng.normal(size=(200, 4))
    loners = np.array([[0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])
    scores = long_tail(np.vstack([crowd, loners]), k=10)
    assert scores[200:].min() > scores[:200].max()
    assert scores.shape == (203,) and (scores >= 0).all()


def test_long_tail_blockwise_equals_the_full_matrix(monkeypatch):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(300, 8))
    whole = long_tail(vectors, k=7)
    monkeypatch.setattr(ranking, "BLOCK_ELEMENTS", 300 * 7)  # 7 rows at a time
    assert np.allclose(long_tail(vectors, k=7), whole)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    distance = 1 - unit @ unit.T
    np.fill_diagonal(distance, np.inf)
    assert np.allclose(np.sort(distance, axis=1)[:, :7].mean(axis=1), whole)


def test_long_tail_of_tiny_inputs():
    assert long_tail(np.ones((1, 3)), k=10).tolist() == [0.0]
    assert long_tail(np.array([[1.0, 0], [0, 1.0]]), k=10) == pytest.approx([1.0, 1.0])


def items_for(n: int, papers: int, scores: np.ndarray | None = None, seed: int = 0) -> list[RankItem]:
    rng = np.random.default_rng(seed)
    scores = rng.uniform(1, 5, n) if scores is None else scores
    return [RankItem(f"c{i:04d}", f"p{i % papers:02d}", float(scores[i]), 0.5) for i in range(n)]


def test_queue_orders_by_curated_then_long_tail_and_caps_papers_per_page():
    vectors, _, given = clustered(4, n=400)
    items = items_for(400, papers=12, scores=given.astype(float))
    settings = RefineSettings(page_size=20, per_paper_per_page=2, knn=10)
    entries, warnings = rank_queue(items, vectors, settings, run_id="r1")
    assert [e.rank for e in entries] == list(range(1, 401))
    assert sorted(e.candidate_id for e in entries) == sorted(i.candidate_id for i in items)  # nothing lost
    assert all(e.reason == "ranked" and e.run_id == "r1" and e.long_tail_score is not None for e in entries)
    over_cap = []
    for page in range(20):
        papers = [e.paper_id for e in entries[page * 20: (page + 1) * 20]]
        if max(papers.count(p) for p in set(papers)) > 2:
            over_cap.append(page)
    # Only at the very end, when too few papers are left to fill a page, may the cap yield, and
    # then the warning says so.
    assert over_cap == list(range(20 - len(over_cap), 20)) and len(over_cap) <= 2
    assert warnings == ([f"per-paper cap relaxed on {len(over_cap)} page(s): only capped papers' candidates were "
                         "left"] if over_cap else [])
    # 12 papers × 2 fill 20 slots, so the cap costs only small moves: the order still tracks the
    # curated score.
    curated = [e.curated_score for e in entries]
    assert np.mean(curated[:100]) > np.mean(curated[-100:]) + 1


def test_queue_without_the_cap_is_sorted_by_curated_then_long_tail_then_id():
    vectors, _, given = clustered(5, n=300)
    items = items_for(300, papers=300, scores=given.astype(float))
    entries, _ = rank_queue(items, vectors, RefineSettings(page_size=20, per_paper_per_page=2), run_id="")
    keys = [(-e.curated_score, -e.long_tail_score, e.candidate_id) for e in entries]
    assert keys == sorted(keys)


def test_an_over_cap_candidate_moves_to_the_next_page_where_it_fits():
    # Paper A holds the five best; pages of 4 with at most 2 of a paper.
    scores = [5.0, 4.9, 4.8, 4.7, 4.6, 3.0, 2.9, 2.8, 2.7, 2.6]
    papers = ["A"] * 5 + ["B", "C", "D", "E", "F"]
    items = [RankItem(f"c{i}", papers[i], scores[i], None) for i in range(10)]
    entries, warnings = rank_queue(items, None, RefineSettings(page_size=4, per_paper_per_page=2))
    assert [e.candidate_id for e in entries] == ["c0", "c1", "c5", "c6", "c2", "c3", "c7", "c8", "c4", "c9"]
    assert warnings == ["no embeddings: scores uncorrected"]


def test_the_cap_yields_when_only_one_paper_is_left_and_says_so():
    items = [RankItem(f"c{i}", "A", 5.0 - i / 10, None) for i in range(6)]
    entries, warnings = rank_queue(items, None, RefineSettings(page_size=4, per_paper_per_page=2))
    assert [e.candidate_id for e in entries] == [f"c{i}" for i in range(6)]
    assert any("cap relaxed on 1 page(s)" in w for w in warnings)  # the first; the second holds 2


def test_fallbacks_no_embeddings_and_unscored():
    items = items_for(30, papers=30) + [RankItem("u1", "p99", None, None), RankItem("u0", "p98", float("nan"), 0.1)]
    entries, warnings = rank_queue(items, None, RefineSettings())
    assert warnings == ["no embeddings: scores uncorrected"]
    assert [e.candidate_id for e in entries[-2:]] == ["u0", "u1"]
    assert all(e.reason == "unscored" and e.raw_score is None and e.curated_score is None for e in entries[-2:])
    scored = entries[:-2]
    assert all(e.reason == "uncorrected_no_embeddings" and e.long_tail_score is None for e in scored)
    assert all(e.curated_score == e.raw_score for e in scored)
    assert [e.raw_score for e in scored] == sorted((e.raw_score for e in scored), reverse=True)
    assert {e.reason for e in entries} <= set(QUEUE_REASONS)


def test_unscored_stay_behind_scored_even_when_the_cap_binds():
    items = [RankItem(f"s{i}", "A", 4.0, None) for i in range(3)] + [RankItem("u", "B", None, None)]
    entries, _ = rank_queue(items, None, RefineSettings(page_size=4, per_paper_per_page=2))
    assert [e.candidate_id for e in entries][-1] == "u"


def test_missing_rows_and_small_runs_fall_back_per_candidate():
    vectors, _, given = clustered(6, n=120)
    vectors[5] = np.nan
    vectors[7] = 0.0
    items = items_for(120, papers=40, scores=given.astype(float))
    entries, warnings = rank_queue(items, vectors, RefineSettings())
    by_id = {e.candidate_id: e for e in entries}
    assert by_id["c0005"].reason == by_id["c0007"].reason == "uncorrected_no_embeddings"
    assert by_id["c0005"].long_tail_score is None
    assert any("2 of 120 candidates without embeddings" in w for w in warnings)
    small, small_warnings = rank_queue(items[:20], vectors[:20], RefineSettings())
    assert any("too_few_items" in w for w in small_warnings)
    assert {e.reason for e in small} == {"uncorrected_no_transition_matrix", "uncorrected_no_embeddings"}
    assert all(e.curated_score == e.raw_score for e in small)


def test_curated_scores_keep_the_rubric_grain_and_range():
    vectors, _, given = clustered(7, n=500)
    rng = np.random.default_rng(7)
    joint = np.clip(given + rng.choice([-0.33, 0.0, 0.33], 500), 1, 5)
    entries, _ = rank_queue(items_for(500, 50, joint), vectors, RefineSettings())
    for e in entries:
        assert 1 <= e.curated_score <= 5
        shift = e.curated_score - e.raw_score
        assert abs(shift - round(shift)) < 1e-9 or e.curated_score in (1, 5)


def test_queue_is_deterministic_and_independent_of_input_order():
    vectors, _, given = clustered(8, n=400)
    items = items_for(400, papers=15, scores=given.astype(float))
    settings = RefineSettings()
    first, _ = rank_queue(items, vectors, settings)
    again, _ = rank_queue(items, vectors, settings)
    permutation = np.random.default_rng(0).permutation(400)
    shuffled, _ = rank_queue([items[i] for i in permutation], vectors[permutation], settings)

    def view(entries):
        return [(e.candidate_id, e.rank, e.curated_score, e.long_tail_score) for e in entries]

    assert view(first) == view(again)
    assert [(c, r, s) for c, r, s, _ in view(first)] == [(c, r, s) for c, r, s, _ in view(shuffled)]


def test_bad_input_is_refused():
    items = items_for(3, 3)
    with pytest.raises(ValueError, match="one row per item"):
        rank_queue(items, np.zeros((2, 4)), RefineSettings())
    with pytest.raises(ValueError, match="unique"):
        rank_queue(items + items[:1], None, RefineSettings())
    with pytest.raises(ValueError, match="at least 1"):
        rank_queue(items, None, RefineSettings(per_paper_per_page=0))
    with pytest.raises(ValueError, match="score levels"):
        transition_matrix(np.array([0, 1, 2]), np.eye(3), k=2)
    assert rank_queue([], None, RefineSettings()) == ([], [])


def test_the_correction_can_be_switched_off():
    vectors, _, given = clustered(0)
    items = items_for(3000, papers=300, scores=given.astype(float))
    on, _ = rank_queue(items, vectors, RefineSettings())
    off, _ = rank_queue(items, vectors, RefineSettings(transition_correction=False))
    assert any(e.curated_score != e.raw_score for e in on)
    assert all(e.curated_score == e.raw_score and e.reason == "uncorrected_by_setting" for e in off)
    assert all(e.long_tail_score is not None for e in off)  # diversity still counts
