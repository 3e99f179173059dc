"""The quality layer's LLM path against the scripted server: calls and tokens per candidate by
agent, what screening before the LLM saves, and a rerun that makes no call.

A catalog of synthetic finished candidates (random prose around an equation; one in ten a near
duplicate of the one before, one in five with a question that points into its paper, so the
reviser has work) goes through
``tasks.refine.steps`` in this process (no Prefect: this measures the layer, not orchestration):

1. screens first (the product's order): contamination and near duplicates, then stages 1–4 on
   the survivors;
2. the LLM first (for the ratio): stages 1–4 on every candidate;
3. an unchanged rerun: the fingerprints match, nothing is sent; and ``--force``-style: every
   call answered by the cache.

    .venv/bin/python -m benchmarks.bench_refine [--candidates 300] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
import time
from collections import Counter

from benchmarks.common import ROOT

WORDS = sorted({w.lower() for w in re.findall(r"[A-Za-z]{3,}", (ROOT / "README.md").read_text())})
"""A vocabulary of ~2,000 words (the README's): random prose from a few dozen words would make
every two texts look alike to the embeddings."""


def prose(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def candidates(n: int):
    """``n`` finished candidates of random prose around one equation each; every tenth repeats the
    one before it with a word changed (a near duplicate), every fifth points into its paper."""
    from tasks.core.records import Candidate

    out = []
    for i in range(n):
        twin = i % 10 == 9
        rng = random.Random(i - 1 if twin else i)
        j = i - 1 if twin else i
        target = f"y_{{{j}}} = {j % 7 + 3} c_{{{j}}}"
        pointing = "Using Eq. (3) in the paper, " if i % 5 == 0 else ""
        question = f"{pointing}{prose(rng, 40)} with $a_{{{j}}} = b_{{{j}}} + c_{{{j}}}$. Derive ${target}$."
        answer = f"{prose(rng, 60)}; substituting $b_{{{j}}} = {j % 7 + 2} c_{{{j}}}$ gives ${target}$."
        if twin:
            question = question.replace(" ", " also ", 1)
        out.append(Candidate(candidate_id=f"c{i:05d}", paper_id=f"arxiv:2612.{i // 5:05d}", target_expr=f"e{i}",
                             target_latex=target, question=question, answer=answer, status="done",
                             verdict="derive", stage_reached="answer_filter", grounded_score=95.0,
                             question_evidence=[prose(rng, 12)]))
    return out


CONCURRENCY = 32


def refine_all(settings, lake, todo, run_id):
    from tasks.refine.steps import refine_with_llm

    start = time.perf_counter()
    batch = refine_with_llm(settings, lake, todo, run_id, run_id)
    return batch, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05, help="Scripted server latency per call (s).")
    args = parser.parse_args()

    from tasks.core.records import Candidate
    from tasks.core.settings import load_settings
    from tasks.io.storage import Lake, publish_catalog
    from tasks.refine.steps import plan_refine, screen, to_refine
    from tests.llm_server import Script, ScriptedLLM

    with tempfile.TemporaryDirectory() as home, ScriptedLLM(Script(latency_s=args.latency)) as server:
        settings = load_settings(home=home)
        settings = settings.model_copy(update={"llm": settings.llm.model_copy(update={
            "base_url": server.base_url, "concurrency": CONCURRENCY, "backoff_s": 0.01})})
        lake = Lake.from_settings(settings)
        rows = candidates(args.candidates)
        lake.write_table(Candidate, rows, "bench")
        publish_catalog(settings)

        plan = plan_refine(settings, "run-1")
        screened = screen(settings, lake, plan, "run-1")
        survivors = to_refine(settings, plan, screened.candidates, force=False)
        first, seconds = refine_all(settings, lake, survivors, "run-1")
        everything, seconds_all = refine_all(settings.model_copy(update={"llm": settings.llm.model_copy(
            update={"temperature": 0.01})}), lake, rows, "run-all")  # another temperature: no cache hits
        settled = [c for c in first.candidates if c.refined_with]
        lake.write_table(Candidate, [*settled, *(c for c in screened.candidates if c.status == "dropped")], "bench")
        publish_catalog(settings)
        requests = server.log.requests
        plan2 = plan_refine(settings, "run-2")
        screened2 = screen(settings, lake, plan2, "run-2")
        again = to_refine(settings, plan2, screened2.candidates, force=False)
        forced, _ = refine_all(settings, lake, survivors, "run-3")
        rerun_requests = server.log.requests - requests

    by_agent = Counter(c.stage for c in first.calls)
    prompt = sum(c.prompt_tokens for c in first.calls)
    completion = sum(c.completion_tokens for c in first.calls)
    n = len(survivors)
    print(f"{args.candidates} candidates, {len(screened.duplicates)} dropped as near duplicates before any call; "
          f"{n} refined; scripted server latency {args.latency:g} s per call\n")
    print(f"{'agent':<20}{'calls':>8}{'per candidate':>15}")
    for agent, calls in sorted(by_agent.items()):
        print(f"{agent:<20}{calls:>8}{calls / n:>15.2f}")
    print(f"{'all':<20}{len(first.calls):>8}{len(first.calls) / n:>15.2f}")
    print(f"\ntokens per candidate: {prompt / n:,.0f} prompt + {completion / n:,.0f} completion "
          f"(the scripted server counts 4 characters a token)")
    ideal = len(first.calls) * args.latency / CONCURRENCY
    print(f"wall time: {seconds:.1f} s for {n} candidates ({n / seconds:.1f} candidates/s); ideal "
          f"calls × latency / concurrency {ideal:.1f} s → {seconds / ideal:.2f}× (Great Expectations' and "
          f"Math-Verify's first import included; the scripted server runs in this process)")
    print("\nscreens first vs the LLM first (same candidates):")
    print(f"  calls  {len(first.calls):>6} vs {len(everything.calls):>6}  "
          f"ratio {len(everything.calls) / max(1, len(first.calls)):.2f}x")
    print(f"  time   {seconds:>6.1f} vs {seconds_all:>6.1f} s")
    print("\nrerun:")
    print(f"  unchanged: {len(again)} candidates to refine (fingerprints match), 0 calls planned")
    print(f"  forced: {len(forced.calls)} calls, {sum(c.cache_hit for c in forced.calls)} from the cache, "
          f"{rerun_requests} requests reached the server")


if __name__ == "__main__":
    main()
