"""DS² ranking: the expert review queue, best and most varied first.

Input columns: ``candidate_id``, ``paper_id``, ``joint_score`` (mean of the experts' 1–5 rubric
as the joint scorer applied it; ``None``: not scored), ``solve_rate``, and one embedding per
candidate (a row of ``vectors``; a row of zeros or NaN: no embedding).
Output columns (``review_queue``, :class:`QueueEntry`): ``rank`` (1-based), ``raw_score``,
``curated_score``, ``long_tail_score``, ``solve_rate``, ``reason`` (one of :data:`QUEUE_REASONS`).

The method is DS² (Pang et al., ICLR 2025, "Improving Data Efficiency via Curating LLM-Driven
Rating Systems", github.com/UCSC-REAL/DS2), reimplemented with numpy and scipy:

1. **Score transition matrix** ``T[true, given]`` by HOC (Zhu et al., ICML 2021, "Clusterability
   as an alternative to anchor points"): a candidate and its two nearest neighbours in embedding
   space are assumed to share the true level, so how often their given levels agree (first-,
   second- and third-order consensus) pins down ``T`` and the prior of true levels. Solved by
   EM on the consensus table (DS² matches moments with Adam; see :func:`_fit_consensus`), over
   the triples (self, 1st, 2nd), (self, 3rd, 4th)… up to the k-th neighbour (DS²: the first).
   When nearest neighbours agree on the given level no more than chance, the embeddings do not
   cluster by quality and nothing is corrected.
2. **Score curation** (SimiFeat-rank, Zhu et al., ICML 2022): within each given level, the
   candidates whose k-NN vote disagrees most with their level are flagged, as many as ``T``
   says that level is wrong; repeated over random 90 % subsamples, a candidate flagged in most
   rounds whose neighbours agree on another level with confidence ≥ 0.5 takes that level.
3. **Long-tail score**: mean cosine distance to the k nearest neighbours (higher is rarer).
4. **Order**: curated score, then long-tail score (then ``candidate_id``), with at most
   ``per_paper_per_page`` candidates of one paper on a page of ``page_size``.

Without embeddings the raw scores are used as they are (``uncorrected_no_embeddings``, a
warning); candidates without a joint score go last (``unscored``).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from tasks.core.records import QueueEntry, QueueReason, allowed
from tasks.core.settings import RefineSettings

QUEUE_REASONS: tuple[str, ...] = tuple(allowed(QueueReason))

SCORE_LEVELS = 5
"""The joint score's rubric is 1–5; its rounded value is DS²'s label."""
CONFIDENCE_TO_CORRECT = 0.5
"""DS²'s ``confidence_prob``: a curated level replaces the given one at this confidence or more."""
CURATION_ROUNDS = 51
"""DS²'s ``num_epoch``: subsampled rounds whose flags are averaged into a confidence."""
SUBSAMPLE_SHARE = 0.9
"""DS² draws 90 % of the data each round."""
MIN_ITEMS_FOR_ESTIMATE = 50
"""Below this many scored candidates with embeddings the third-order consensus (K³ cells) is
mostly noise: the transition matrix falls back to identity."""
NOISE_RATE_BOUNDS = (0.05, 0.95)
"""DS² clips each level's estimated error rate to this range before flagging."""
MIN_AGREEMENT_Z = 4.0
"""How far (in binomial standard deviations) nearest neighbours' agreement on the given level
must exceed chance for the embeddings to count as clusterable by quality. Neighbour pairs are
not independent, so this is a loose bar: quality-blind embeddings scored about 2 in the
benchmark, weakly informative ones 10 or more."""
BLOCK_ELEMENTS = 1 << 23
"""Similarities computed at once in the k-NN search (32 MB of float32), whatever the size."""


@dataclass(frozen=True)
class RankItem:
    """One candidate to queue."""

    candidate_id: str
    paper_id: str
    joint_score: float | None
    """Mean of the 1–5 rubric; ``None`` (or NaN): not scored."""
    solve_rate: float | None = None


@dataclass(frozen=True)
class TransitionEstimate:
    """HOC's result: ``matrix[true, given]`` (rows sum to 1), the prior of true levels, and why it
    fell back to identity (``None``: estimated)."""

    matrix: np.ndarray
    prior: np.ndarray
    fallback: str | None = None


# -- k nearest neighbours, blockwise ----------------------------------------------------------------


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"vectors must be 2-D (items × dimensions), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("vectors contain NaN or infinity")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    # A zero row stays zero: cosine similarity 0 (distance 1) to everything, not a division by zero.
    return np.divide(array, norms, out=np.zeros_like(array), where=norms > 0)


def _nearest(unit: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``m`` nearest other rows of each row (indices, cosine distances), nearest first.

    Rows are compared in blocks so memory stays at ``BLOCK_ELEMENTS`` similarities, not n × n.
    Ties are broken by the lower index, so the result depends on the data only.
    """
    n = unit.shape[0]
    m = min(m, n - 1)
    indices = np.empty((n, max(m, 0)), dtype=np.int64)
    distances = np.empty((n, max(m, 0)), dtype=np.float64)
    if m <= 0:
        return indices, distances
    block = max(1, BLOCK_ELEMENTS // n)
    for start in range(0, n, block):
        stop = min(n, start + block)
        similarity = unit[start:stop] @ unit.T
        rows = np.arange(stop - start)
        similarity[rows, start + rows] = -np.inf  # never one's own neighbour
        if m < n - 1:
            chosen = np.argpartition(-similarity, m - 1, axis=1)[:, :m]
        else:
            chosen = np.broadcast_to(np.arange(n), (stop - start, n)).copy()
            chosen = chosen[chosen != (start + rows)[:, None]].reshape(stop - start, n - 1)
        chosen_similarity = np.take_along_axis(similarity, chosen, axis=1)
        order = np.lexsort((chosen, -chosen_similarity), axis=1)
        indices[start:stop] = np.take_along_axis(chosen, order, axis=1)
        distances[start:stop] = 1.0 - np.take_along_axis(chosen_similarity, order, axis=1)
    np.clip(distances, 0.0, 2.0, out=distances)
    return indices, distances


def long_tail(vectors: np.ndarray, k: int) -> np.ndarray:
    """DS²'s long-tail score: each row's mean cosine distance to its ``k`` nearest other rows
    (fewer when there are fewer rows; 0 for a lone row). Computed blockwise: 100k rows need no
    n × n matrix."""
    unit = _unit_rows(vectors)
    return _mean_distance(_nearest(unit, k)[1])


def _mean_distance(distances: np.ndarray) -> np.ndarray:
    if distances.shape[1] == 0:
        return np.zeros(distances.shape[0])
    return distances.mean(axis=1)


# -- the transition matrix (HOC) -------------------------------------------------------------------


def _levels(labels: np.ndarray, levels: int) -> np.ndarray:
    """Scores 1…levels as 0-based indices; anything else is an error, not a silent clip."""
    array = np.asarray(labels)
    if array.size and (not np.issubdtype(array.dtype, np.integer) and not np.all(array == np.round(array))):
        raise ValueError("labels must be whole score levels")
    index = array.astype(np.int64) - 1
    if index.size and (index.min() < 0 or index.max() >= levels):
        raise ValueError(f"labels must be score levels 1…{levels}")
    return index


def _consensus(label_index: np.ndarray, nearest: np.ndarray, levels: int) -> np.ndarray:
    """HOC's third-order consensus: the share of (self, neighbour, neighbour) triples with given
    levels (i, j, l), over the triples (self, 1st, 2nd), (self, 3rd, 4th)… of the neighbours at
    hand. Its marginals are the first- and second-order consensus.

    Symmetrised over the order of the three (the model's table is symmetric), which lowers the
    variance at no cost.
    """
    n = label_index.size
    table = np.zeros(levels ** 3)
    pairs = [(j, j + 1) for j in range(0, nearest.shape[1] - 1, 2)]
    for first, second in pairs:
        a, b, c = label_index, label_index[nearest[:, first]], label_index[nearest[:, second]]
        table += np.bincount((a * levels + b) * levels + c, minlength=levels ** 3)
    table = table.reshape((levels,) * 3) / (n * len(pairs))
    return sum(table.transpose(p) for p in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))) / 6


def _fit_consensus(table: np.ndarray, levels: int, rounds: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """(T, prior) that make the consensus ``table`` most likely, by EM.

    The model is HOC's: the three members of a triple share a true level y (prior p) and each
    was given level i with probability T[y, i], independently. DS² fits it by matching the
    first-, second- and third-order tables (norms of their residuals) with Adam; that loss has
    local minima that L-BFGS and random restarts fell into here (errors up to 0.6 on a planted
    matrix), while EM on the same table — it holds the lower orders as its marginals — climbs
    the likelihood monotonically from DS²'s diagonal start and recovered the planted matrices.
    The diagonal start also fixes which true level is which (the equations are otherwise
    symmetric under relabelling).
    """
    T = np.full((levels, levels), 0.3 / max(levels - 1, 1))
    np.fill_diagonal(T, 0.7)
    prior = np.full(levels, 1.0 / levels)
    for _ in range(rounds):
        joint = np.einsum("y,yi,yj,yl->yijl", prior, T, T, T)
        responsibility = joint / np.maximum(joint.sum(axis=0, keepdims=True), 1e-300) * table[None]
        new_prior = responsibility.sum(axis=(1, 2, 3))
        counts = responsibility.sum(axis=(2, 3)) + responsibility.sum(axis=(1, 3)) + responsibility.sum(axis=(1, 2))
        new_T = np.divide(counts, counts.sum(axis=1, keepdims=True), out=np.eye(levels),
                          where=counts.sum(axis=1, keepdims=True) > 0)
        converged = np.abs(new_T - T).max() < 1e-9 and np.abs(new_prior - prior).max() < 1e-9
        T, prior = new_T, new_prior
        if converged:
            break
    return T, prior / prior.sum()


def _estimate(label_index: np.ndarray, nearest: np.ndarray, k: int, levels: int) -> TransitionEstimate:
    n = label_index.size
    identity = np.eye(levels), np.full(levels, 1.0 / levels)
    present = np.flatnonzero(np.bincount(label_index, minlength=levels))
    if n < MIN_ITEMS_FOR_ESTIMATE or min(k, nearest.shape[1]) < 2:
        return TransitionEstimate(*identity, fallback="too_few_items")
    if present.size < 2:
        return TransitionEstimate(*identity, fallback="single_level")
    # HOC stands on neighbours sharing the true level. If nearest neighbours agree on the given
    # level no more often than two random candidates do, the embeddings say nothing about
    # quality, and "correcting" towards the neighbours only adds noise (the benchmark's
    # quality-blind worlds: curation there cost more reviews than the raw scores).
    given_share = np.bincount(label_index, minlength=levels) / n
    chance = float((given_share ** 2).sum())
    agreement = float(np.mean(label_index[nearest[:, 0]] == label_index))
    if (agreement - chance) / math.sqrt(chance * (1 - chance) / n) < MIN_AGREEMENT_Z:
        return TransitionEstimate(*identity, fallback="not_clusterable")
    # Levels nobody was given carry no consensus: estimate among the given ones, identity rows
    # for the rest (nothing says those are ever confused).
    compact = np.full(levels, -1)
    compact[present] = np.arange(present.size)
    table = _consensus(compact[label_index], nearest[:, :k], present.size)
    T_present, prior_present = _fit_consensus(table, present.size)
    if not (np.isfinite(T_present).all() and np.isfinite(prior_present).all()):
        return TransitionEstimate(*identity, fallback="estimate_failed")
    matrix = np.eye(levels)
    matrix[np.ix_(present, present)] = T_present
    prior = np.zeros(levels)
    prior[present] = prior_present
    return TransitionEstimate(matrix, prior)


def estimate_transition(labels: np.ndarray, vectors: np.ndarray, k: int,
                        levels: int = SCORE_LEVELS) -> TransitionEstimate:
    """The score transition matrix with the prior of true levels and, when it fell back to
    identity, why (``too_few_items``, ``single_level``, ``not_clusterable``, ``estimate_failed``)."""
    label_index = _levels(labels, levels)
    unit = _unit_rows(vectors)
    if unit.shape[0] != label_index.size:
        raise ValueError(f"{label_index.size} labels but {unit.shape[0]} vectors")
    return _estimate(label_index, _nearest(unit, k)[0], k, levels)


def transition_matrix(labels: np.ndarray, vectors: np.ndarray, k: int, levels: int = SCORE_LEVELS) -> np.ndarray:
    """HOC's score transition matrix ``T[true - 1, given - 1]`` (``levels`` × ``levels``, rows sum
    to 1) from scores ``labels`` (1…levels) and their embeddings.

    The consensus triples are (self, 1st, 2nd neighbour) as in DS², plus (self, 3rd, 4th)… up
    to the ``k``-th: when the k nearest share the true level this divides the variance by about
    k/2 (``k`` = 2 is DS² exactly). Identity when it cannot be estimated (fewer than
    ``MIN_ITEMS_FOR_ESTIMATE`` items, a single given level, embeddings whose neighbours agree on
    the level no more than chance, ``k`` < 2):
    :func:`estimate_transition` says why.
    """
    return estimate_transition(labels, vectors, k, levels).matrix


# -- score curation (SimiFeat-rank, as DS² runs it) ---------------------------------------------------


def _curate(label_index: np.ndarray, nearest: np.ndarray, distances: np.ndarray, T: np.ndarray,
            prior: np.ndarray | None, k: int, levels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    n = label_index.size
    k = min(k, nearest.shape[1])
    if n == 0 or k == 0:
        return label_index.astype(np.float64) + 1, np.zeros(n)
    given_share = np.bincount(label_index, minlength=levels) / n
    if prior is None:
        # The prior of true levels that best explains the given ones through T.
        prior, _ = nnls(T.T, given_share)
        prior = prior / prior.sum() if prior.sum() > 0 else given_share
    # P(true = given | given) = T[l, l] p(l) / p_given(l): how often a given level is right.
    right_share = np.divide(np.diag(T) * prior, given_share, out=np.ones(levels), where=given_share > 0)
    noise_rate = np.clip(1.0 - np.minimum(right_share, 1.0), *NOISE_RATE_BOUNDS)

    rng = np.random.default_rng(seed)
    rows = np.arange(n)
    times_drawn = np.zeros(n)
    times_flagged = np.zeros(n)
    suggested = np.zeros((n, levels))
    # DS² lets the item vote for itself at an extrapolated distance (2·d₁ − d₂), so its own
    # level counts but does not dominate.
    self_weight = 1.0 - np.clip(2 * distances[:, 0] - distances[:, min(1, distances.shape[1] - 1)], 0.0, 2.0)
    weight = np.clip(1.0 - distances, 0.0, None)  # a neighbour past 90° does not vote against
    sample_size = max(1, int(n * SUBSAMPLE_SHARE))
    for _ in range(CURATION_ROUNDS):
        drawn = np.zeros(n, dtype=bool)
        drawn[rng.choice(n, sample_size, replace=False)] = True
        # Each drawn item's k nearest among the drawn ones: the first k drawn of its precomputed 2k.
        usable = drawn[nearest]
        usable &= np.cumsum(usable, axis=1) <= k
        usable &= drawn[:, None]
        cells = (rows[:, None] * levels + label_index[nearest])[usable]
        votes = np.bincount(cells, weights=weight[usable], minlength=n * levels).reshape(n, levels)
        votes[rows, label_index] += np.where(drawn, np.clip(self_weight, 0.0, None), 0.0)
        votes /= np.maximum(np.linalg.norm(votes, axis=1, keepdims=True), 1e-12)
        disagreement = -np.log(votes[rows, label_index] + 1e-8)
        predicted = votes.argmax(axis=1)
        flagged = np.zeros(n, dtype=bool)
        for level in range(levels):
            members = drawn & (label_index == level)
            if not members.any():
                continue
            cut = np.percentile(disagreement[members], 100 * (1 - noise_rate[level]))
            # Strictly disagreeing only: unanimous neighbourhoods tie at 0 and would all be flagged.
            flagged |= members & (disagreement >= cut) & (disagreement > 1e-6)
        times_drawn += drawn
        times_flagged += flagged
        suggested[rows[flagged], predicted[flagged]] += 1

    noisy = (times_flagged + 1) / (times_drawn + 2)
    suggestion_share = (suggested + 1) / (suggested.sum(axis=1, keepdims=True) + levels)
    suggestion_share[rows, label_index] = -1.0  # a correction must change the level
    best = suggestion_share.argmax(axis=1)
    confidence = suggestion_share[rows, best] * noisy
    curated_index = np.where(confidence >= CONFIDENCE_TO_CORRECT, best, label_index)
    return curated_index.astype(np.float64) + 1, confidence


def curate(labels: np.ndarray, vectors: np.ndarray, T: np.ndarray, k: int, *, prior: np.ndarray | None = None,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """DS²'s score curation: ``(curated levels, confidence)``, both float arrays.

    ``labels`` are score levels 1…K (K = ``len(T)``). A level is replaced by the one its ``k``
    nearest neighbours suggest when the confidence (share of rounds flagged × share of those
    rounds' suggestions for that level, Laplace-smoothed) is at least ``CONFIDENCE_TO_CORRECT``;
    ``confidence`` is that figure for the best other level, whether or not it was applied.
    ``prior`` (of true levels) defaults to the one that explains the given levels through ``T``.
    The subsampling uses ``seed``: same input, same output.
    """
    levels = len(T)
    label_index = _levels(labels, levels)
    unit = _unit_rows(vectors)
    if unit.shape[0] != label_index.size:
        raise ValueError(f"{label_index.size} labels but {unit.shape[0]} vectors")
    nearest, distances = _nearest(unit, 2 * k)
    return _curate(label_index, nearest, distances, np.asarray(T, dtype=np.float64), prior, k, levels, seed)


# -- the queue --------------------------------------------------------------------------------------


def _paginate(tiers: list[list[int]], paper_of: list[str], page_size: int, cap: int) -> tuple[list[int], int]:
    """Item indices in queue order, and how many pages had to break the cap.

    Within a tier (already in priority order) each position takes the best remaining item whose
    paper has fewer than ``cap`` on the current page; one over its cap waits for the next page
    where it fits. Tiers never mix (an unscored item never jumps ahead of a scored one), so when
    a tier's remaining items all belong to capped papers the cap gives way rather than the tier.
    """
    order: list[int] = []
    relaxed_pages: set[int] = set()
    on_page: dict[str, int] = {}
    page = 0
    for tier in tiers:
        waiting: dict[str, deque[tuple[int, int]]] = {}
        for priority, item in enumerate(tier):
            waiting.setdefault(paper_of[item], deque()).append((priority, item))
        heads = [(queue[0][0], paper) for paper, queue in waiting.items()]
        heapq.heapify(heads)
        held: list[tuple[int, str]] = []  # papers at their cap on this page
        cap_yields = False
        while heads or held:
            if len(order) // page_size != page:
                page, on_page, cap_yields = len(order) // page_size, {}, False
                for head in held:
                    heapq.heappush(heads, head)
                held = []
            if not heads:  # only capped papers are left in this tier: the cap yields for this page
                relaxed_pages.add(page)
                cap_yields = True
                for head in held:
                    heapq.heappush(heads, head)
                held = []
            _, paper = heapq.heappop(heads)
            if not cap_yields and on_page.get(paper, 0) >= cap:
                held.append((waiting[paper][0][0], paper))
                continue
            _, item = waiting[paper].popleft()
            order.append(item)
            on_page[paper] = on_page.get(paper, 0) + 1
            if waiting[paper]:
                heapq.heappush(heads, (waiting[paper][0][0], paper))
    return order, len(relaxed_pages)


def rank_queue(items: Sequence[RankItem], vectors: np.ndarray | None, settings: RefineSettings,
               run_id: str = "") -> tuple[list[QueueEntry], list[str]]:
    """The review queue of ``items`` (``vectors``: one embedding row per item, or ``None``) and
    the warnings worth showing an operator.

    Order: scored before unscored; curated score descending, long-tail score descending,
    ``candidate_id``; at most ``settings.per_paper_per_page`` of one paper per page of
    ``settings.page_size``. Every item gets exactly one entry. The result does not depend on
    the order of ``items``.
    """
    if settings.page_size < 1 or settings.per_paper_per_page < 1:
        raise ValueError("page_size and per_paper_per_page must be at least 1")
    ids = [item.candidate_id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("candidate_id must be unique in the queue")
    if vectors is not None and (np.ndim(vectors) != 2 or len(vectors) != len(items)):
        raise ValueError(f"vectors must have one row per item ({len(items)}), got shape {np.shape(vectors)}")
    if not items:
        return [], []
    # Work in candidate_id order so subsampling and ties do not depend on how items arrived.
    canonical = sorted(range(len(items)), key=lambda i: items[i].candidate_id)
    items = [items[i] for i in canonical]
    n = len(items)
    warnings: list[str] = []

    raw = np.array([np.nan if item.joint_score is None else float(item.joint_score) for item in items])
    scored = np.isfinite(raw)
    if vectors is None:
        embedded = np.zeros(n, dtype=bool)
        warnings.append("no embeddings: scores uncorrected")
    else:
        array = np.asarray(vectors, dtype=np.float32)[canonical]
        embedded = np.isfinite(array).all(axis=1) & (np.abs(array).sum(axis=1) > 0)
        if not embedded.all():
            warnings.append(f"{int((~embedded).sum())} of {n} candidates without embeddings: their scores uncorrected")

    long_tail_score = np.full(n, np.nan)
    curated = raw.copy()
    reasons = np.where(scored, "ranked", "unscored").astype(object)
    reasons[scored & ~embedded] = "uncorrected_no_embeddings"
    if embedded.sum() >= 2:
        k = min(settings.knn, int(embedded.sum()) - 1)
        unit = _unit_rows(array[embedded])
        nearest, distances = _nearest(unit, k)
        long_tail_score[embedded] = _mean_distance(distances)
    curating = scored & embedded
    if curating.any() and not settings.transition_correction:
        reasons[curating] = "uncorrected_by_setting"
    elif curating.any():
        given = np.clip(np.floor(raw[curating] + 0.5), 1, SCORE_LEVELS).astype(np.int64)  # half up, not to even
        unit = _unit_rows(array[curating])
        k = min(settings.knn, int(curating.sum()) - 1)
        nearest, distances = _nearest(unit, max(2 * k, 2))
        estimate = _estimate(given - 1, nearest, k, SCORE_LEVELS)
        if estimate.fallback:
            warnings.append(f"transition matrix not estimated ({estimate.fallback}, {int(curating.sum())} scored "
                            "candidates with embeddings): scores uncorrected")
            reasons[curating] = "uncorrected_no_transition_matrix"
        else:
            levels, _ = _curate(given - 1, nearest, distances, estimate.matrix, estimate.prior, k, SCORE_LEVELS, 0)
            # Move by the level change, keeping the rubric mean's finer grain within a level.
            curated[curating] = np.clip(raw[curating] + (levels - given), 1, SCORE_LEVELS)

    def priority(i: int) -> tuple[float, float, str]:
        tail = long_tail_score[i]
        return (-curated[i] if scored[i] else 0.0, -tail if np.isfinite(tail) else math.inf, items[i].candidate_id)

    tiers = [sorted(np.flatnonzero(scored).tolist(), key=priority),
             sorted(np.flatnonzero(~scored).tolist(), key=priority)]
    order, relaxed = _paginate(tiers, [item.paper_id for item in items], settings.page_size,
                               settings.per_paper_per_page)
    if relaxed:
        warnings.append(f"per-paper cap relaxed on {relaxed} page(s): only capped papers' candidates were left")

    def number(value: float) -> float | None:
        return float(value) if np.isfinite(value) else None

    entries = [QueueEntry(candidate_id=items[i].candidate_id, paper_id=items[i].paper_id, rank=rank,
                          raw_score=number(raw[i]), curated_score=number(curated[i]),
                          long_tail_score=number(long_tail_score[i]), solve_rate=items[i].solve_rate,
                          reason=str(reasons[i]), run_id=run_id)
               for rank, i in enumerate(order, start=1)]
    return entries, warnings
