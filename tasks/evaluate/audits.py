"""Audits: which items need a human look, from how the models fared on them.

Input columns (``evaluations``, the latest row per item, model, format, sample and prompt
version): ``item_id``, ``model``, ``format``, ``sample``, ``grade``, ``parsed_answer``,
``raw_answer``, ``expected``. Output: ``item_audits`` rows (``flag``, ``solve_rate``,
``models``, ``attempts``, ``detail``, ``evidence``: each model's answers and grades as JSON) and,
per release or dataset, the options-only leak test.

Flags, as MathArena audits its monthly items:

- ``all_fail``: at least ``evaluate.min_models_for_audit`` models answered and none solves it
  (each is right on at most a quarter of its graded answers: with several samples, a lucky pick
  among the options is not a solve): often a wrong key, sometimes a hard item — a human tells
  which;
- ``all_pass``: every model solves it (right on at least three quarters): a hidden triviality;
- ``split``: one model solves it (≥ 3/4 of its graded answers) and another does not (≤ 1/4):
  often an ambiguous question or a parse;
- ``judge_symbolic_disagree``: for the same answer the judge and the symbolic check disagree;
- ``options_only_solvable``: without the question, the options alone gave the answer more often
  than chance explains (a one-sided binomial test at ``LEAK_ALPHA``, per model and for all models
  together). With four options the test needs at least four samples per model (4/4 right:
  p = 0.0039); a model that guesses gets 4/4 on 0.4% of items, a false flag a human clears.

Solve rates count only graded answers (``correct`` or ``incorrect``): an answer that could not
be read (``unparsed``), a failed call (``failed``) or an ``undecided`` check is never a failure.
``options_only`` answers are not solves: they measure the options, not the model.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from math import comb
from typing import Any

from tasks.core.records import ItemAudit

GRADED = ("correct", "incorrect")
SOLVING_FORMATS = ("mc", "judge", "symbolic")
LEAK_ALPHA = 0.01
"""Significance of the options-only test, per item (many items are tested: keep it strict; a
flag only sends the item to a human)."""
SPLIT_HIGH, SPLIT_LOW = 0.75, 0.25
EVIDENCE_CHARS = 600


def binomial_tail(successes: int, trials: int, chance: float) -> float:
    """P(X ≥ successes) for X ~ Binomial(trials, chance): how surprising the options-only hits are."""
    return sum(comb(trials, k) * chance ** k * (1 - chance) ** (trials - k) for k in range(successes, trials + 1))


@dataclass
class LeakTest:
    """The options-only baseline over a set of items: accuracy against chance."""

    answers: int
    correct: int
    chance: float
    p_value: float | None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answers if self.answers else None

    @property
    def leaks(self) -> bool:
        return self.p_value is not None and self.p_value < LEAK_ALPHA


def leak_test(rows: list[dict[str, Any]]) -> LeakTest:
    graded = [r for r in rows if r["format"] == "options_only" and r["grade"] in GRADED]
    if not graded:
        return LeakTest(0, 0, 0.0, None)
    chance = sum(1 / max(2, len(list(r.get("choice_order") if r.get("choice_order") is not None else [])))
                 for r in graded) / len(graded)
    correct = sum(r["grade"] == "correct" for r in graded)
    return LeakTest(len(graded), correct, chance, binomial_tail(correct, len(graded), chance))


def _evidence(rows: list[dict[str, Any]]) -> str:
    models: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: (r["model"], r["format"], r["sample"])):
        models[r["model"]].append({"format": r["format"], "sample": int(r["sample"]), "grade": r["grade"],
                                   "parsed_answer": r.get("parsed_answer"), "expected": r.get("expected"),
                                   "choice_order": list(r["choice_order"]) if r.get("choice_order") is not None
                                   else None,
                                   "reason": r.get("reason"),
                                   "raw_answer": (r.get("raw_answer") or "")[:EVIDENCE_CHARS]})
    return json.dumps({"models": models}, ensure_ascii=False, default=str)


def audit_item(item_id: str, rows: list[dict[str, Any]], min_models: int, audit_id: str) -> list[ItemAudit]:
    """The flags one item earns from its evaluation rows."""
    solving = [r for r in rows if r["format"] in SOLVING_FORMATS and r["grade"] in GRADED]
    per_model: dict[str, list[bool]] = defaultdict(list)
    for r in solving:
        per_model[r["model"]].append(r["grade"] == "correct")
    rates = {m: sum(v) / len(v) for m, v in per_model.items()}
    solve_rate = sum(r["grade"] == "correct" for r in solving) / len(solving) if solving else None
    flags: list[tuple[str, str]] = []
    if len(per_model) >= min_models:
        high = [m for m, v in rates.items() if v >= SPLIT_HIGH]
        low = [m for m, v in rates.items() if v <= SPLIT_LOW]
        shown = ", ".join(f"{m} {v:.2f}" for m, v in sorted(rates.items()))
        if len(low) == len(rates):
            flags.append(("all_fail", f"no model solves it ({shown}; {len(solving)} graded answers)"))
        elif len(high) == len(rates):
            flags.append(("all_pass", f"every model solves it ({shown}; {len(solving)} graded answers)"))
        if high and low:
            flags.append(("split", f"solved by {', '.join(sorted(high))}; not by {', '.join(sorted(low))}"))
    by_answer: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for r in rows:
        if r["format"] in ("judge", "symbolic") and r["grade"] in GRADED:
            by_answer[(r["model"], int(r["sample"]))][r["format"]] = r["grade"]
    disagree = [k for k, v in by_answer.items() if len(v) == 2 and v["judge"] != v["symbolic"]]
    if disagree:
        flags.append(("judge_symbolic_disagree", f"{len(disagree)} answers: " +
                      ", ".join(f"{m} #{s}" for m, s in sorted(disagree)[:5])))
    # One model that reads the answer off the options is enough, so each model is tested on its
    # own (pooling would dilute it), and all models together (several partial readers add up).
    tests = {m: leak_test([r for r in rows if r["model"] == m]) for m in sorted({r["model"] for r in rows})}
    tests["all models"] = leak_test(rows)
    leaking = sorted((t.p_value, m) for m, t in tests.items() if t.p_value is not None and t.p_value < LEAK_ALPHA)
    if leaking:
        found = tests[leaking[0][1]]
        flags.append(("options_only_solvable", f"options alone, {leaking[0][1]}: {found.correct}/{found.answers} "
                      f"correct, chance {found.chance:.2f}, p = {found.p_value:.2g}"))
    if not flags:
        return []
    evidence = _evidence(rows)
    return [ItemAudit(audit_id=audit_id, item_id=item_id, flag=flag, solve_rate=solve_rate, models=len(per_model),
                      attempts=len(solving), detail=detail, evidence=evidence) for flag, detail in flags]


def audit(rows: list[dict[str, Any]], min_models: int, audit_id: str) -> list[ItemAudit]:
    """Every flagged item of ``rows``, in item order."""
    by_item: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_item[r["item_id"]].append(r)
    return [a for item_id in sorted(by_item) for a in audit_item(item_id, by_item[item_id], min_models, audit_id)]
