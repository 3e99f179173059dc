"""Reviews saved by the DS² queue: expert reviews needed to find the keepers, by queue order.

    .venv/bin/python -m benchmarks.bench_queue [--candidates 2000] [--seeds 5] [--targets 50,100]

A simulation in DS²'s terms. Each candidate has a latent quality (a paper effect plus its own);
its true level (1–5) is the quality's quintile-like band, and the experts keep it when the
quality is in the top ``--keep-rate`` (so every keeper is a true 5, but not every true 5 is a
keeper). The LLM's joint score is the true level passed through a known confusion matrix
(``CONFUSION``, right about half the time, mostly off by one). Embeddings (384-dim) are a
topic centre + a paper offset + a direction for the true level (``--quality-signal``: how much
the embedding says about quality, which is what DS²'s correction stands on) + noise.

Every candidate is read by 2 reviewers, in queue order, until ``target`` keepers are found; the
figure is the number of reviews, for:

1. paper-id order (the order without a queue);
2. raw joint score (ties by candidate id);
3. curated score (DS²: HOC transition matrix + k-NN curation; ties by candidate id);
4. curated + long-tail (DS²'s full order);
5. curated + long-tail + per-paper page cap (``rank_queue`` as the pipeline runs it);
6. true level (an LLM that is never wrong about the level: the ceiling of score-based order).

Ratios are paper-id order's reviews over the row's (higher is better; the issue's target is ≥ 3×
for row 5). Each seed is a new world; figures are mean ± sd over seeds. One table per
``--quality-signals`` value, from embeddings that cluster by level to quality-blind ones (0),
where the correction has nothing to stand on. With 2,000 candidates and a 5 % keep rate there
are exactly 100 keepers, so "100 keepers" means finding every one, the last of them the one the
LLM misjudged worst; the 50-keeper column shows the head of the queue.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

CONFUSION = np.array([[0.70, 0.20, 0.07, 0.03, 0.00],
                      [0.15, 0.55, 0.20, 0.08, 0.02],
                      [0.03, 0.17, 0.50, 0.22, 0.08],
                      [0.01, 0.05, 0.20, 0.50, 0.24],
                      [0.00, 0.02, 0.08, 0.25, 0.65]])
"""P(LLM gives level j | true level i), rows 1…5."""
LEVEL_SHARES = (0.15, 0.25, 0.30, 0.20, 0.10)
"""Share of candidates at each true level (the top 10 % are 5s; the keepers are the top 5 %)."""
REVIEWERS_PER_CANDIDATE = 2


def _unit(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    v = rng.normal(size=(rows, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def world(seed: int, args: argparse.Namespace, quality_signal: float) -> dict:
    """One simulated run: candidates with papers, true levels, keepers, LLM scores, embeddings."""
    rng = np.random.default_rng(seed)
    n, dim = args.candidates, args.dim
    topic_of_paper = rng.integers(0, args.topics, args.papers)
    paper = rng.integers(0, args.papers, n)
    quality = 0.5 * rng.normal(size=args.papers)[paper] + rng.normal(size=n)
    cuts = np.quantile(quality, np.cumsum(LEVEL_SHARES)[:-1])
    level = np.searchsorted(cuts, quality) + 1
    keeper = quality >= np.quantile(quality, 1 - args.keep_rate)
    given = np.array([rng.choice(5, p=CONFUSION[t - 1]) + 1 for t in level])
    # The same directions at every seed's scale: a topic, the paper within it, the kind of
    # question a level tends to be, and noise of comparable size.
    vectors = (_unit(rng, args.topics, dim)[topic_of_paper[paper]] + 0.5 * _unit(rng, args.papers, dim)[paper]
               + quality_signal * _unit(rng, 5, dim)[level - 1] + args.noise * _unit(rng, n, dim))
    return {"paper": paper, "level": level, "keeper": keeper, "given": given, "vectors": vectors,
            "ids": [f"c{i:05d}" for i in range(n)]}


def reviews_needed(order: list[int], keeper: np.ndarray, target: int) -> float:
    """Reviews until ``target`` keepers are found reading ``order``; NaN when there are fewer."""
    found = np.cumsum(keeper[np.asarray(order)])
    if found[-1] < target:
        return float("nan")
    return float(REVIEWERS_PER_CANDIDATE * (int(np.argmax(found >= target)) + 1))


def orders(w: dict, args: argparse.Namespace) -> tuple[dict[str, list[int]], dict[str, float]]:
    from tasks.core.settings import RefineSettings
    from tasks.refine import ranking
    from tasks.refine.ranking import RankItem, rank_queue

    n = len(w["ids"])
    ids, paper, given = w["ids"], w["paper"], w["given"]
    paper_ids = [f"p{p:04d}" for p in paper]
    items = [RankItem(ids[i], paper_ids[i], float(given[i]), None) for i in range(n)]
    index = {c: i for i, c in enumerate(ids)}
    settings = RefineSettings(knn=args.knn, page_size=args.page_size, per_paper_per_page=args.per_paper)
    start = time.perf_counter()
    capped, warnings = rank_queue(items, w["vectors"], settings)
    seconds = time.perf_counter() - start
    uncapped, _ = rank_queue(items, w["vectors"], settings.model_copy(update={"per_paper_per_page": n}))
    curated = {e.candidate_id: e.curated_score for e in uncapped}
    estimate = ranking.estimate_transition(given, w["vectors"], args.knn)
    nearest = ranking._nearest(ranking._unit_rows(w["vectors"]), 2)[0]
    level = w["level"]
    by_id = sorted(range(n), key=lambda i: ids[i])
    result = {
        "paper-id order": sorted(range(n), key=lambda i: (paper_ids[i], ids[i])),
        "raw joint score": sorted(by_id, key=lambda i: -given[i]),
        "curated (DS²)": sorted(by_id, key=lambda i: -curated[ids[i]]),
        "curated + long-tail": [index[e.candidate_id] for e in uncapped],
        "+ per-paper page cap": [index[e.candidate_id] for e in capped],
        "true level (ceiling)": sorted(by_id, key=lambda i: -level[i]),
    }
    curated_level = np.array([round(curated[c]) for c in ids])
    facts = {"seconds": seconds, "warnings": len(warnings),
             "T error": float(np.abs(estimate.matrix - CONFUSION).mean()),
             "2-NN same level": float(np.mean((level[nearest[:, 0]] == level) & (level[nearest[:, 1]] == level))),
             "raw accuracy": float(np.mean(given == level)), "curated accuracy": float(np.mean(curated_level == level)),
             "keepers": int(w["keeper"].sum())}
    return result, facts


def _fmt(values: list[float]) -> str:
    values = [v for v in values if v == v]
    if not values:
        return "unreachable"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):6.0f} ± {sd:4.0f}"


def run(args: argparse.Namespace, quality_signal: float, targets: list[int]) -> None:
    table: dict[str, dict[int, list[float]]] = {}
    facts: dict[str, list[float]] = {}
    for seed in range(args.seeds):
        w = world(seed, args, quality_signal)
        by_order, seed_facts = orders(w, args)
        for name, order in by_order.items():
            for target in targets:
                table.setdefault(name, {}).setdefault(target, []).append(reviews_needed(order, w["keeper"], target))
        for key, value in seed_facts.items():
            facts.setdefault(key, []).append(value)
    print(f"\nquality signal in embeddings {quality_signal}: {args.candidates} candidates, {args.papers} papers, "
          f"{args.topics} topics, keepers {statistics.mean(facts['keepers']):.0f} per world, "
          f"{args.seeds} seeds (0…{args.seeds - 1})")
    print(f"  2-NN share the true level: {statistics.mean(facts['2-NN same level']):.2f}; "
          f"HOC |T − confusion| mean {statistics.mean(facts['T error']):.3f}; level accuracy raw "
          f"{statistics.mean(facts['raw accuracy']):.3f} → curated {statistics.mean(facts['curated accuracy']):.3f}; "
          f"rank_queue {statistics.mean(facts['seconds']):.2f} s per run")
    header = "".join(f" | reviews for {t:>3} keepers   ratio" for t in targets)
    print(f"  {'order':<24}{header}")
    baseline = table["paper-id order"]
    for name, by_target in table.items():
        cells = []
        for target in targets:
            ratios = [b / v for b, v in zip(baseline[target], by_target[target]) if v == v and b == b]
            ratio = f"{statistics.mean(ratios):5.2f}x" if ratios else "   - "
            cells.append(f" | {_fmt(by_target[target]):>22} {ratio}")
        print(f"  {name:<24}{''.join(cells)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--papers", type=int, default=200)
    parser.add_argument("--topics", type=int, default=40)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--keep-rate", type=float, default=0.05)
    parser.add_argument("--targets", default="50,100", help="Keepers to find, comma-separated.")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quality-signals", default="0.5,0.25,0.15,0",
                        help="Weights of the true level's direction in the embeddings (topic 1, paper 0.5), "
                             "comma-separated: one table each, on the same worlds otherwise.")
    parser.add_argument("--noise", type=float, default=0.6)
    parser.add_argument("--knn", type=int, default=10)
    parser.add_argument("--page-size", type=int, default=20)
    parser.add_argument("--per-paper", type=int, default=2)
    args = parser.parse_args()
    targets = [int(t) for t in args.targets.split(",")]

    start = time.perf_counter()
    for signal in (float(s) for s in args.quality_signals.split(",")):
        run(args, signal, targets)
    print(f"\ntotal {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
