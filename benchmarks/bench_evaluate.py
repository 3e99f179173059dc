"""Evaluation throughput: graded answers per minute against a fixed-latency scripted server at a
fixed concurrency, beside the ideal (every slot busy all the time), and the symbolic checks' share
of the wall time.

Items are synthetic four-option derivation problems (``tests.tasks.evaluate.test_steps``); the
models are scripted (``tests.scripted_models``). The harness runs in this process
(``tasks.evaluate.steps.evaluate``: no Prefect, this measures the harness, not orchestration).

Ideal: with ``c`` calls in flight and ``L`` seconds per call, ``60 · c / L`` calls a minute;
a ``judge`` answer costs three calls (the derivation and two readings, the readings in parallel),
``mc`` and ``options_only`` one each. A second, identical run measures the cache (no request).

    .venv/bin/python -m benchmarks.bench_evaluate [--items 100] [--models 2] [--samples 4]
        [--latency 0.2] [--concurrency 16] [--formats mc,options_only,judge,symbolic]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--models", type=int, default=2)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.2, help="Scripted server latency per call (s).")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--formats", default="mc,options_only,judge,symbolic")
    parser.add_argument("--fault-rate", type=float, default=0.0,
                        help="Share of requests the server answers with a fault (429, 500, slow, invalid, "
                             "truncated, schema): the reliability run (RELIABILITY.md).")
    args = parser.parse_args()

    from tasks.core.settings import load_settings
    from tasks.evaluate.steps import EvalRequest, evaluate
    from tests.llm_server import Script, ScriptedLLM
    from tests.tasks.evaluate.test_steps import catalogue

    formats = tuple(args.formats.split(","))
    models = [f"scripted-p{70 + 5 * m:02d}" for m in range(args.models)]
    items, key = catalogue(args.items, leaky=args.items // 4, planted=max(1, args.items // 20))
    with tempfile.TemporaryDirectory() as home, ScriptedLLM(Script(
            latency_s=args.latency, answer_key=key, fault_rate=args.fault_rate, slow_s=2.0)) as server:
        settings = load_settings(home=home)
        settings = settings.model_copy(update={
            "llm": settings.llm.model_copy(update={"base_url": server.base_url, "model": "judge-model",
                                                   "timeout_s": 1.0, "backoff_s": 0.01, "backoff_max_s": 0.1}),
            "evaluate": settings.evaluate.model_copy(update={"concurrency": args.concurrency})})
        request = EvalRequest(eval_id="bench", dataset="bench", items=items, models=models, formats=formats,
                              samples=args.samples)
        started = time.perf_counter()
        outcome = evaluate(settings, request)
        seconds = time.perf_counter() - started
        requests = server.log.requests
        started = time.perf_counter()
        again = evaluate(settings, request)
        cached_seconds = time.perf_counter() - started
        rerun_requests = server.log.requests - requests
        max_in_flight = server.log.max_in_flight

    answers = len(outcome.rows)
    calls = sum(1 for c in outcome.calls if not c.cache_hit)
    call_seconds = seconds - outcome.symbolic_seconds
    # Per model the calls run c at a time on that model's endpoint and the judge's c on its own:
    # the ideal below is the calls over (models + judge) × c slots.
    slots = args.concurrency * (len(models) + ("judge" in formats))
    ideal_calls_per_min = 60 * slots / args.latency
    print(f"{args.items} items × {len(models)} models × {args.samples} samples × formats {','.join(formats)}; "
          f"server latency {args.latency:g} s, concurrency {args.concurrency} per endpoint "
          f"(max {max_in_flight} in flight seen)\n")
    print(f"graded answers: {answers} ({dict(Counter(r.format for r in outcome.rows))})")
    print(f"calls: {calls} in {call_seconds:.1f} s = {60 * calls / call_seconds:,.0f}/min "
          f"vs ideal {ideal_calls_per_min:,.0f}/min ({slots} slots / {args.latency:g} s): "
          f"{calls / call_seconds / (slots / args.latency):.2f} of ideal")
    print(f"graded answers per minute (calls + symbolic checks): {60 * answers / seconds:,.0f}")
    if outcome.symbolic_seconds:
        symbolic = sum(r.format == "symbolic" for r in outcome.rows)
        print(f"symbolic grades: {symbolic} in {outcome.symbolic_seconds:.1f} s "
              f"({symbolic / outcome.symbolic_seconds:.1f}/s, {outcome.symbolic_seconds / seconds:.0%} of the wall time); "
              f"tiers {dict(Counter(r.tier for r in outcome.rows if r.format == 'symbolic'))}")
    if args.fault_rate:
        print(f"\nfaults injected: {dict(server.log.faults)}")
        print(f"grades by format: {dict(Counter((r.format, r.grade) for r in outcome.rows))}")
        print(f"reasons: {dict(Counter(r.reason for r in outcome.rows if r.reason))}")
        print(f"calls by status: {dict(Counter(c.status for c in outcome.calls))}")
    print(f"\nrerun: {rerun_requests} requests reached the server, {cached_seconds:.1f} s "
          f"({len(again.rows)} answers, from the cache: {sum(r.cache_hit for r in again.rows)}; "
          f"symbolic checks {again.symbolic_seconds:.1f} s)")


if __name__ == "__main__":
    main()
