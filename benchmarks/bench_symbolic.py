"""The symbolic check: checks per second and the share decided by each tier, on pairs built from real formulas.

    .venv/bin/python -m benchmarks.bench_symbolic [--limit 150] [--timeout 10] [--memory-mb 1024]
    .venv/bin/python -m benchmarks.bench_symbolic --items items.jsonl   # exported items: target + answer

Corpus mode: every LaTeX project of ``../shared/corpus/tex`` and ``../shared/corpus/tex_real``
through the project's reader and extractor (``flatten`` + ``extract_latex``); the equation rows
(macros expanded) with one top-level ``=`` and no other relation, at most 300 characters and one
row, deduplicated, are the targets; ``--limit`` of them are drawn (seeded). For each target two
answers, both keeping its left side:

- equal: the right-hand side rewritten by a SymPy round trip, ``sympy.latex(reading(rhs))``
  (``tasks.core.equivalence.sympy_reading``), when it parses and the rewrite reads back with the
  same symbol names; else the same text with spacing changed (``\\,``, ``\\left( \\right)``,
  ``\\displaystyle``);
- unequal: one constant or exponent of the right-hand side increased by one (a number outside
  subscripts), else the right-hand side doubled.

Each pair goes through ``tasks.core.equivalence.same_result`` as the stages call it (one fork per
comparison, the evaluation settings' deadline and memory), one after the other. Reported: pairs,
checks per second and latency, the share decided by each tier (overall and per label), accuracy
on the equal / unequal labels (decided right, decided wrong, undecided) and the undecided reasons.

Items mode (``--items``): a JSONL file with ``target`` and ``answer`` (or ``whole_label``, as
exported) per line, graded by ``tasks.evaluate.symbolic.grade`` (the final result read from the
answer); with a ``label`` field (true: the answer reaches the target) accuracy is reported too.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from collections import Counter
from pathlib import Path

from benchmarks.common import CORPUS

_OTHER_RELATION = re.compile(r"\\(?:le|ge|leq|geq|lt|gt|ne|neq|approx|propto|sim|simeq|lesssim|gtrsim|ll|gg|"
                             r"in|notin|subset|subseteq|to|mapsto|iff|implies|equiv)(?![a-zA-Z])|[<>]")
_NUMBER = re.compile(r"(?<![_\w.])(\d+)(?![\w.])")
IN_PROCESS = ("not_comparable", "no_final_answer", "no_final_result", "no_target")
"""Reasons given before any fork."""


def corpus_targets() -> list[str]:
    """The corpus's equation rows that state one equality (see the module docstring)."""
    from tasks.core.equivalence import normalise_math, sides
    from tasks.documents.eprint import read_tex_dir, read_tex_files
    from tasks.extract.parse.latex import extract_latex
    from tasks.extract.parse.project import flatten

    projects = []
    for base in ("tex", "tex_real"):
        for path in sorted((CORPUS / base).iterdir()):
            if path.is_dir() and any(path.rglob("*.tex")):
                projects.append((path.name, read_tex_dir(path)))
            elif path.is_dir():  # arXiv e-prints as downloaded
                projects += [(f.name.removesuffix(".gz"), read_tex_files(f.read_bytes()))
                             for f in sorted(path.glob("*.gz"))]
    seen, targets = set(), []
    for name, tex in projects:
        out = extract_latex(flatten(tex, 2_000_000), f"corpus:{name}", "bench")
        for e in out.expressions:
            text = re.sub(r"\\(?:label|tag)\{[^{}]*\}|\\(?:nonumber|notag)\b", " ", e.latex_expanded or e.latex or "")
            text = " ".join(text.replace("&", " ").split()).rstrip(".,;: ")
            if (e.kind != "equation" or not text or len(text) > 300 or "\\\\" in text or _OTHER_RELATION.search(text)
                    or sides(text)[0] is None):
                continue
            key = normalise_math(text)
            if key not in seen:
                seen.add(key)
                targets.append(text)
    return targets


def _respaced(latex: str) -> str:
    """The same formula typeset differently (what ``normalise_math`` removes)."""
    text = re.sub(r"(?<=[=+\-])", r"\\, ", latex, count=2)
    text = text.replace("(", r"\left( ", 1).replace(")", r" \right)", 1) if text.count("(") == text.count(")") else text
    return r"\displaystyle " + text


def _variants_in_child(target: str) -> tuple[str, str, str]:
    """(equal answer, unequal answer, how the equal one was made): run in a bounded child."""
    import sympy

    from tasks.core.equivalence import sides, sympy_reading

    left, right = sides(target)
    equal, how = None, "spacing"
    expr = sympy_reading(right)
    if expr is not None:
        rewritten = sympy.latex(expr)
        again = sympy_reading(rewritten)
        if again is not None and {s.name for s in again.free_symbols} == {s.name for s in expr.free_symbols}:
            equal, how = f"{left}= {rewritten}", "sympy_round_trip"
    if equal is None:
        equal = f"{_respaced(left)}= {_respaced(right)}"
    numbers = list(_NUMBER.finditer(right))
    if numbers:
        m = numbers[len(numbers) // 2]
        unequal = f"{left}= {right[:m.start()]}{int(m.group(1)) + 1}{right[m.end():]}"
    else:
        unequal = f"{left}= 2\\left({right}\\right)"
    return equal, unequal, how


def build_pairs(targets: list[str], deadline_s: float, memory_mb: int) -> tuple[list[dict], Counter]:
    from tasks.core.limits import Limited, run_bounded

    pairs, made = [], Counter()
    for target in targets:
        try:
            built = run_bounded(_variants_in_child, target, deadline_s=deadline_s, memory_mb=memory_mb)
        except Exception:
            built = None
        if built is None or isinstance(built, Limited):
            made["skipped (variants failed)"] += 1
            continue
        equal, unequal, how = built
        made[how] += 1
        pairs.append({"target": target, "answer": equal, "label": True, "how": how})
        pairs.append({"target": target, "answer": unequal, "label": False, "how": "perturbed"})
    return pairs, made


def share(n: int, total: int) -> str:
    return f"{n:>5} ({n / total:6.1%})" if total else f"{n:>5}"


def report(rows: list[dict], seconds: float, forks: int) -> None:
    n = len(rows)
    latencies = sorted(r["seconds"] for r in rows)
    print(f"\n   pairs {n}, {seconds:.1f} s: **{n / seconds:.2f} checks/s** ({forks} forked, the rest decided by "
          f"strings in process); latency median {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {latencies[int(0.95 * (n - 1))] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    labelled = [r for r in rows if r.get("label") is not None]
    groups = [("all", rows)]
    if labelled:
        groups += [("equal", [r for r in labelled if r["label"]]), ("unequal", [r for r in labelled if not r["label"]])]
        round_trip = [r for r in labelled if r.get("how") == "sympy_round_trip"]
        if round_trip:
            groups.append(("equal, round trip", round_trip))
    tiers = ("string", "math_verify", "sympy", "numeric", "none")
    print(f"\n   {'decided by':<14}" + "".join(f"{name:>19}" for name, _ in groups))
    for tier in tiers:
        print(f"   {tier:<14}" + "".join(f"{share(sum(r['tier'] == tier for r in g), len(g)):>19}" for _, g in groups))
    if labelled:
        print(f"\n   {'accuracy':<14}" + "".join(f"{name:>19}" for name, _ in groups[1:]))
        for what, test in (("decided right", lambda r: r["same"] is not None and r["same"] == r["label"]),
                           ("decided wrong", lambda r: r["same"] is not None and r["same"] != r["label"]),
                           ("undecided", lambda r: r["same"] is None)):
            print(f"   {what:<14}" + "".join(f"{share(sum(map(test, g)), len(g)):>19}" for _, g in groups[1:]))
        decided = [r for r in labelled if r["same"] is not None]
        right = sum(r["same"] == r["label"] for r in decided)
        print(f"   of the decided pairs right: {right}/{len(decided)} = {right / max(1, len(decided)):.3f}")
        for r in [r for r in decided if r["same"] != r["label"]][:8]:
            print(f"     wrong ({r['tier']}, label {r['label']}): {r['target'][:90]!r}  vs  {r['answer'][:90]!r}")
    reasons = Counter(r["reason"] for r in rows if r["same"] is None)
    print("\n   undecided reasons: " + (", ".join(f"{k} {v}" for k, v in reasons.most_common()) or "none"))
    for reason in [k for k in reasons if k.startswith("verify_")]:
        r = next(r for r in rows if r["reason"] == reason)
        print(f"     e.g. {reason}: {r['target'][:90]!r}  vs  {r['answer'][:90]!r}")
    slow = sorted(rows, key=lambda r: -r["seconds"])[:3]
    print("   slowest: " + "; ".join(f"{r['seconds']:.1f} s {r['tier']}/{r['reason']} {r['target'][:50]!r}" for r in slow))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=150, help="targets drawn from the corpus (two pairs each)")
    parser.add_argument("--items", type=Path, default=None, help="JSONL with target and answer per line")
    parser.add_argument("--timeout", type=float, default=None, help="deadline of one check (default: the settings')")
    parser.add_argument("--memory-mb", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from tasks.core.equivalence import import_math_verify, same_result
    from tasks.core.settings import Settings
    from tasks.evaluate.symbolic import grade

    evaluate = Settings().evaluate
    timeout_s = args.timeout or evaluate.symbolic_timeout_s
    memory_mb = args.memory_mb or evaluate.symbolic_memory_mb
    import_math_verify()
    print(f"deadline {timeout_s:g} s, memory {memory_mb} MB above the parent, one check at a time")

    rows = []
    if args.items:
        items = [json.loads(line) for line in args.items.read_text(encoding="utf-8").splitlines() if line.strip()]
        started = time.perf_counter()
        for item in items:
            t = time.perf_counter()
            checked = grade(item.get("target") or "", item.get("answer") or item.get("whole_label") or "",
                            timeout_s, memory_mb)
            same = {"correct": True, "incorrect": False}.get(checked.grade)
            rows.append({"target": item.get("target") or "", "answer": checked.parsed or "", "label": item.get("label"),
                         "same": same, "grade": checked.grade, "tier": checked.tier, "reason": checked.reason,
                         "seconds": time.perf_counter() - t})
        seconds = time.perf_counter() - started
        print(f"{len(items)} items from {args.items}; grades: "
              + ", ".join(f"{k} {v}" for k, v in Counter(r["grade"] for r in rows).most_common()))
        report(rows, seconds, sum(r["tier"] != "string" and r["reason"] not in IN_PROCESS for r in rows))
        return

    started = time.perf_counter()
    targets = corpus_targets()
    random.Random(args.seed).shuffle(targets)
    chosen = targets[:args.limit]
    print(f"{len(targets)} distinct equality rows in the corpus ({time.perf_counter() - started:.1f} s to extract); "
          f"{len(chosen)} drawn")
    started = time.perf_counter()
    pairs, made = build_pairs(chosen, 5.0, memory_mb)
    print(f"pairs built in {time.perf_counter() - started:.1f} s; equal answers: "
          + ", ".join(f"{k} {v}" for k, v in made.most_common()))

    forks = 0
    started = time.perf_counter()
    for pair in pairs:
        t = time.perf_counter()
        out = same_result(pair["target"], pair["answer"], timeout_s, memory_mb)
        forks += out.decided_by != "string" and out.reason not in IN_PROCESS
        rows.append({**pair, "same": out.same, "tier": out.decided_by, "reason": out.reason,
                     "seconds": time.perf_counter() - t})
    report(rows, time.perf_counter() - started, forks)


if __name__ == "__main__":
    main()
