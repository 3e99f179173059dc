"""Near-duplicate removal: recall and precision of planted twins, and the speed of each part.

    .venv/bin/python -m benchmarks.bench_dedup [--n 100000] [--planted 2000] [--exact-subset 2000]
                                               [--embed-n 20000] [--bulk-sample 5000]

``--n`` synthetic candidates of varied math text (sentences of words and inline LaTeX; five
candidates per "paper" share their setup sentences, so distinct problems of one paper overlap),
of which ``--planted`` are near duplicates of another candidate: 1–3 words edited, LaTeX spacing
and sizing changed (``\\,``, ``\\left(``, ``^{2}`` → ``^2``, ``\\displaystyle``), a sentence
added, or a sentence dropped. Then, side by side in one run:

1. ``find_near_duplicates`` over all of them with the default settings (threshold 0.7, 128
   permutations): recall and precision of the planted pairs, overall and per kind of edit; the
   time of normalising, of the MinHash signatures and of the LSH pass (insert + query + confirm),
   as candidates per second; peak RSS.
2. The signatures against datasketch's straightforward path (``MinHash.bulk`` over the
   shingles as bytes, SHA-1 per shingle) on ``--bulk-sample`` candidates: the ratio.
3. MinHash LSH against a naive exact-Jaccard all-pairs baseline on ``--exact-subset``
   candidates: time ratio, and how many exact pairs (Jaccard ≥ threshold) MinHash found.
4. The embedding pass (blockwise cosine, random 384-d vectors with planted paraphrases) on
   ``--embed-n`` candidates.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from collections import Counter
from collections.abc import Callable

import numpy as np

WORDS = (
    "let suppose consider assume define denote show prove derive compute find determine estimate bound "
    "function sequence series matrix vector operator kernel measure space set group ring field module "
    "integral derivative gradient limit norm inner product eigenvalue eigenvector trace determinant rank "
    "random variable distribution expectation variance covariance probability density likelihood estimator "
    "loss risk regret policy reward value state action gradient descent step size learning rate convergence "
    "rate bias error noise signal sample samples data training test model network layer weight parameter "
    "convex concave smooth lipschitz continuous bounded compact finite infinite positive negative real complex "
    "integer prime divisor polynomial root degree coefficient term order constant variable index dimension "
    "where which such that for all every each some there exists holds satisfies implies given under with "
    "without over along into onto from between among then hence thus therefore moreover furthermore however "
    "the a an of in on at by to is are be as it its this these those their our we one two three first second "
    "upper lower tight optimal minimal maximal unique stationary ergodic markov chain process martingale "
    "brownian motion diffusion equation solution system boundary condition initial problem theorem lemma "
    "corollary proposition claim result estimate inequality identity formula expression quantity ratio"
).split()
LETTERS = list("abcdefghkmnpqrstuvwxyz") + [r"\alpha", r"\beta", r"\gamma", r"\lambda", r"\mu", r"\sigma",
                                               r"\theta", r"\eta", r"\epsilon"]
FORMULAS = (
    "{a}^{{{k}}}", r"\frac{{{a}}}{{{b}}}", r"\sum_{{i=1}}^{{{n}}} {a}_i", r"\int_0^{{1}} {a}(x) dx",
    r"({a} + {b})^{{{k}}}", r"\|{a}\|_{{{k}}}", r"\mathbb{{E}}[{a}]", r"\log {a}", r"{a} \le {b}",
    r"\sqrt{{{a}^{{2}} + {b}^{{2}}}}", r"{a}_{{{k}}} = {b}_{{{n}}}", r"\exp(-{a} {b})",
)


class TextMaker:
    """Random math text as sentences of units (a word or an inline formula), rendered on demand."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def formula(self) -> str:
        r = self.rng
        return "$" + r.choice(FORMULAS).format(a=r.choice(LETTERS), b=r.choice(LETTERS), k=r.randint(2, 9),
                                               n=r.choice("nmNT")) + "$"

    def sentence(self, low: int = 8, high: int = 18) -> list[str]:
        units = [self.rng.choice(WORDS) for _ in range(self.rng.randint(low, high))]
        for _ in range(self.rng.randint(0, 2)):
            units.insert(self.rng.randrange(len(units) + 1), self.formula())
        return units

    def problem(self, setup: list[list[str]]) -> list[list[str]]:
        question = [self.sentence() for _ in range(self.rng.randint(2, 3))]
        return [*setup, *question, ["answer:", self.formula(), self.formula()]]


def render(sentences: list[list[str]]) -> str:
    return " ".join(" ".join(s) + "." for s in sentences)


def respace(unit: str, rng: random.Random) -> str:
    """A formula typeset differently: spacing, sizing, braces, display style."""
    if not unit.startswith("$"):
        return unit
    body = unit[1:-1]
    body = body.replace("^{2}", "^2").replace("(", r"\left(", 1).replace(")", r"\right)", 1)
    body = body.replace(" + ", r"\,+\,").replace(" ", r"\;" if rng.random() < 0.5 else "  ")
    return "$" + (r"\displaystyle " if rng.random() < 0.5 else "") + body + r"\!$"


def plant(sentences: list[list[str]], kind: str, maker: TextMaker) -> list[list[str]]:
    rng = maker.rng
    copy = [list(s) for s in sentences]
    if kind == "words":
        for _ in range(rng.randint(1, 3)):
            s = rng.randrange(len(copy))
            words = [i for i, u in enumerate(copy[s]) if not u.startswith("$")]
            if words:
                copy[s][rng.choice(words)] = rng.choice(WORDS)
    elif kind == "latex":
        copy = [[respace(u, rng) for u in s] for s in copy]
    elif kind == "sentence_added":
        copy.insert(rng.randrange(len(copy) + 1), maker.sentence(6, 12))
    elif kind == "sentence_dropped":
        longest = max(range(len(copy) - 1), key=lambda i: -len(copy[i]))  # the shortest, not the answer
        del copy[longest]
    return copy


KINDS = ("words", "latex", "sentence_added", "sentence_dropped")


def make_candidates(n: int, planted: int, seed: int = 1):
    """``n`` candidate texts, ``planted`` of them near duplicates; returns texts and the planted
    pairs ``{variant index: (source index, kind)}``."""
    maker = TextMaker(seed)
    originals = []
    while len(originals) < n - planted:
        setup = [maker.sentence(12, 20) for _ in range(maker.rng.randint(1, 2))]
        originals += [maker.problem(setup) for _ in range(5)]  # one paper: five problems, one setup
    originals = originals[: n - planted]
    sources = maker.rng.sample(range(len(originals)), planted)
    variants = [plant(originals[s], KINDS[k % len(KINDS)], maker) for k, s in enumerate(sources)]
    order = list(range(n))
    maker.rng.shuffle(order)  # position = quality rank: twins come in either order
    texts: list[str] = [""] * n
    for position, i in zip(order, range(n), strict=True):
        texts[position] = render(originals[i] if i < len(originals) else variants[i - len(originals)])
    pairs = {order[len(originals) + k]: (order[s], KINDS[k % len(KINDS)]) for k, s in enumerate(sources)}
    return texts, pairs


def timed(fn: Callable, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--planted", type=int, default=2_000)
    parser.add_argument("--exact-subset", type=int, default=2_000)
    parser.add_argument("--embed-n", type=int, default=20_000)
    parser.add_argument("--bulk-sample", type=int, default=5_000)
    parser.add_argument("--threshold", type=float, default=None, help="refine.minhash_threshold (default: the setting's)")
    args = parser.parse_args()

    from datasketch import MinHash, MinHashLSH

    from tasks.core.settings import RefineSettings
    from tasks.refine.near_duplicates import (
        SHINGLE,
        Item,
        estimated_jaccard,
        find_near_duplicates,
        normalise,
        signatures,
    )

    settings = RefineSettings() if args.threshold is None else RefineSettings(minhash_threshold=args.threshold)
    (texts, pairs), seconds = timed(make_candidates, args.n, args.planted)
    tokens_per_text = sum(len(t.split()) for t in texts[:2000]) / min(2000, len(texts))
    print(f"{args.n} candidates ({args.planted} planted near duplicates, ~{tokens_per_text:.0f} words each) "
          f"generated in {seconds:.1f} s; peak RSS {peak_rss_mb():.0f} MB")

    # 1. the whole pass, and its parts measured on their own
    items = [Item(f"c{i}", t) for i, t in enumerate(texts)]
    # the whole pass first, so the peak RSS after it is the pass's (the parts below hold all tokens)
    duplicates, t_total = timed(find_near_duplicates, items, [], settings)
    rss_pass = peak_rss_mb()
    tokens, t_norm = timed(lambda: [normalise(t) for t in texts])
    (sigs, _), t_sig = timed(signatures, tokens, settings.minhash_permutations)
    t_lsh = max(t_total - t_norm - t_sig, 1e-9)
    found = {int(d.candidate_id[1:]): int(d.twin_id[1:]) for d in duplicates}
    def exact_jaccard(i: int, j: int) -> float:
        a, b = (set(zip(*(tokens[k][s:] for s in range(SHINGLE)), strict=False)) for k in (i, j))
        return len(a & b) / len(a | b)

    hits, above, above_hits = Counter(), Counter(), Counter()
    for variant, (source, kind) in pairs.items():
        # the later of the two in quality order is the one dropped, pointing at the other
        dropped, kept = max(variant, source), min(variant, source)
        hit = found.get(dropped) == kept
        hits[kind] += hit
        if exact_jaccard(variant, source) >= settings.minhash_threshold:
            above[kind] += 1
            above_hits[kind] += hit
    planted_found = sum(hits.values())
    true_reports = sum(1 for d, k in found.items() if (pairs.get(d, (None,))[0] == k
                                                       or pairs.get(k, (None,))[0] == d))
    print(f"\n1. find_near_duplicates, {args.n} candidates, threshold {settings.minhash_threshold}, "
          f"{settings.minhash_permutations} permutations")
    print(f"   {'part':<34}{'seconds':>9}{'candidates/s':>14}")
    for name, t in (("normalise", t_norm), ("MinHash signatures (numpy)", t_sig),
                    ("LSH insert + query + confirm", t_lsh), ("whole pass", t_total)):
        print(f"   {name:<34}{t:>9.2f}{args.n / t:>14,.0f}")
    print(f"   recall of planted pairs: {planted_found}/{len(pairs)} = {planted_found / len(pairs):.3f}; of the "
          f"{sum(above.values())} whose exact 5-gram Jaccard is ≥ {settings.minhash_threshold}: "
          f"{sum(above_hits.values())} = {sum(above_hits.values()) / max(sum(above.values()), 1):.3f}")
    print(f"     {'edit':<18}{'found/planted':>16}{'exact J ≥ threshold':>22}{'found of those':>16}")
    for kind in KINDS:
        total = sum(1 for _, k in pairs.values() if k == kind)
        print(f"     {kind:<18}{hits[kind]:>7}/{total:<5} {hits[kind] / total:.3f}{above[kind]:>14}"
              f"{above_hits[kind]:>16}")
    print(f"   reported duplicates: {len(found)}, of them planted pairs: {true_reports}; precision "
          f"{true_reports / max(len(found), 1):.3f}")
    print(f"   peak RSS after the whole pass {rss_pass:.0f} MB; after the parts (all tokens held) "
          f"{peak_rss_mb():.0f} MB")

    # 2. datasketch's own path on a sample
    sample = tokens[: args.bulk_sample]
    shingle_bytes = [[" ".join(t[i:i + SHINGLE]).encode() for i in range(max(1, len(t) - SHINGLE + 1))]
                     for t in sample]
    _, t_bulk = timed(MinHash.bulk, shingle_bytes, num_perm=settings.minhash_permutations)
    _, t_ours = timed(signatures, sample, settings.minhash_permutations)
    print(f"\n2. signatures of {len(sample)} candidates: datasketch MinHash.bulk (SHA-1 per shingle) "
          f"{t_bulk:.2f} s = {len(sample) / t_bulk:,.0f}/s; numpy {t_ours:.3f} s = {len(sample) / t_ours:,.0f}/s; "
          f"ratio {t_bulk / t_ours:.0f}x")

    # 3. MinHash LSH against exact Jaccard over all pairs of a subset
    m = min(args.exact_subset, args.n)
    shingle_sets = [{tuple(t[i:i + SHINGLE]) for i in range(max(1, len(t) - SHINGLE + 1))} for t in tokens[:m]]

    def exact_pairs():
        out = set()
        for i in range(m):
            a = shingle_sets[i]
            for j in range(i):
                b = shingle_sets[j]
                inter = len(a & b)
                if inter and inter / (len(a) + len(b) - inter) >= settings.minhash_threshold:
                    out.add((i, j))
        return out

    def lsh_pairs():
        from datasketch import LeanMinHash

        from tasks.refine.near_duplicates import LSH_MARGIN, SCHEME

        lsh = MinHashLSH(threshold=settings.minhash_threshold - LSH_MARGIN, num_perm=settings.minhash_permutations)
        out = set()
        for i in range(m):
            sig = LeanMinHash(seed=1, hashvalues=sigs[i], scheme=SCHEME)
            for j in lsh.query(sig):
                if estimated_jaccard(sigs[i], sigs[j][None])[0] >= settings.minhash_threshold:
                    out.add((i, j))
            lsh.insert(i, sig)
        return out

    exact, t_exact = timed(exact_pairs)
    approx, t_approx = timed(lsh_pairs)
    both = len(exact & approx)
    print(f"\n3. all pairs of {m} candidates ({m * (m - 1) // 2:,} pairs): exact Jaccard {t_exact:.2f} s, "
          f"MinHash LSH {t_approx:.3f} s (signatures precomputed), ratio {t_exact / t_approx:.0f}x; "
          f"exact pairs ≥ {settings.minhash_threshold}: {len(exact)}, found by LSH: {both}, "
          f"LSH pairs not exact: {len(approx - exact)}")

    # 4. embeddings: random directions, planted paraphrases at cosine ~0.97
    e = min(args.embed_n, args.n)
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(e, 384)).astype(np.float32)
    paraphrased = rng.choice(e // 2, size=e // 100, replace=False)
    vectors[e // 2 + np.arange(len(paraphrased))] = vectors[paraphrased] + 0.25 * rng.normal(
        size=(len(paraphrased), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    plain = [Item(f"e{i}", "") for i in range(e)]  # no text: the embedding pass alone
    found_e, t_embed = timed(find_near_duplicates, plain, [], settings, vectors)
    caught = sum(1 for d in found_e if d.method == "embedding")
    print(f"\n4. embeddings, {e} × 384 (blockwise, never {e}×{e} at once): {t_embed:.2f} s = "
          f"{e / t_embed:,.0f} candidates/s; planted paraphrases {len(paraphrased)}, found {caught}; "
          f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
