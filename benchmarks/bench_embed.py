"""Sentence embeddings on CPU (``tasks.io.embed``): model load time, texts per second, and a
rerun served from the lake cache, side by side.

Texts: generated math questions of ~150 words with inline LaTeX (most exceed the model's 256
word pieces and are truncated, as real question + answer texts are).

    .venv/bin/python -m benchmarks.bench_embed [--texts 2000]
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time

WORDS = ("derive bound estimator convex gradient expectation variance loss risk sample operator "
         "matrix norm inequality lemma theorem assume define follows hence substituting rearranging "
         "probability distribution parameter regulariser kernel posterior likelihood").split()
FORMULAS = (r"$\sum_{i=1}^n x_i$", r"$\mathbb{E}[f(X)]$", r"$\|A\|_2 \le \sigma$", r"$\nabla L(\theta)$",
            r"$p(z \mid x)$", r"$\int_0^1 g(t) dt$", r"$\frac{1}{\eta T}$", r"$e^{-\lambda t}$")


def texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(FORMULAS) if rng.random() < 0.15 else rng.choice(WORDS) for _ in range(150))
            for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args()

    from tasks.core.settings import load_settings
    from tasks.io import embed
    from tasks.io.storage import Lake

    sample = texts(args.texts)
    start = time.perf_counter()
    model = embed.load_model("all-MiniLM-L6-v2")
    loaded = time.perf_counter() - start
    pieces = [len(e.ids) for e in model.tokenizer.encode_batch(sample[:200])]
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home=home)
        lake = Lake.from_settings(settings)
        start = time.perf_counter()
        first = embed.embed_texts(settings, lake, sample)
        fresh = time.perf_counter() - start
        start = time.perf_counter()
        again = embed.embed_texts(settings, lake, sample)
        cached = time.perf_counter() - start
    assert first.problem is None and (first.vectors == again.vectors).all()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.texts} texts of 150 words; word pieces per text (first 200): median "
          f"{sorted(pieces)[len(pieces) // 2]}, truncated at {model.max_tokens}\n")
    print(f"{'step':<32}{'seconds':>10}{'texts/s':>12}")
    print(f"{'load (graph built, ONNX session)':<32}{loaded:>10.2f}{'':>12}")
    print(f"{'encode (2 threads)':<32}{fresh:>10.2f}{args.texts / fresh:>12,.1f}")
    print(f"{'rerun from the lake cache':<32}{cached:>10.2f}{args.texts / cached:>12,.0f}")
    print(f"\ncached vs fresh: {fresh / cached:,.0f}x faster; peak RSS {rss:,.0f} MB")


if __name__ == "__main__":
    main()
