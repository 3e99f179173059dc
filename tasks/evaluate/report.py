"""The report of an evaluation run: what ``stormborn evaluate`` prints (or writes as JSON).

Input columns (``evaluations`` of one run, named query ``evaluation_run``): ``model``, ``format``,
``grade``, ``parsed_answer``, ``paper_month``, ``choice_order``. Output: accuracy per model and
format (graded answers only; the unreadable, failed and undecided ones counted beside), the
options-only leak test per model, the letters each model picked in multiple choice (position
bias), and accuracy by paper month with the months after the model's training cutoff marked.
"""

from __future__ import annotations

from typing import Any

from tasks.evaluate import audits


def summarise(rows: list[dict[str, Any]], training_cutoffs: dict[str, str | None]) -> dict[str, Any]:
    """Accuracy per model and format, the options-only leak test, the letters picked and accuracy
    by paper month beside each model's training cutoff."""
    table: dict[tuple[str, str], dict] = {}
    for r in rows:
        entry = table.setdefault((r["model"], r["format"]), {"model": r["model"], "format": r["format"], "answers": 0,
                                                             "correct": 0, "incorrect": 0, "undecided": 0,
                                                             "unparsed": 0, "failed": 0})
        entry["answers"] += 1
        entry[r["grade"]] += 1
    for entry in table.values():
        graded = entry["correct"] + entry["incorrect"]
        entry["accuracy"] = round(entry["correct"] / graded, 4) if graded else None
    leaks = {}
    for model in sorted({r["model"] for r in rows}):
        test = audits.leak_test([r for r in rows if r["model"] == model])
        if test.answers:
            leaks[model] = {"answers": test.answers, "correct": test.correct, "accuracy": round(test.accuracy, 4),
                            "chance": round(test.chance, 4), "p_value": test.p_value, "leaks": test.leaks}
    picked: dict[str, dict[str, int]] = {}
    for r in rows:
        if r["format"] == "mc" and r["grade"] in ("correct", "incorrect"):
            picked.setdefault(r["model"], {}).setdefault(r["parsed_answer"], 0)
            picked[r["model"]][r["parsed_answer"]] += 1
    months: dict[str, dict[str, list[int]]] = {}
    for r in rows:
        if r["format"] != "options_only" and r["grade"] in ("correct", "incorrect"):
            cell = months.setdefault(r["model"], {}).setdefault(r["paper_month"] or "unknown", [0, 0])
            cell[0] += r["grade"] == "correct"
            cell[1] += 1
    cutoffs = {m: training_cutoffs.get(m) for m in months}
    by_month = [{"model": m, "paper_month": month, "correct": c, "graded": n, "accuracy": round(c / n, 4),
                 "after_cutoff": (None if cutoffs[m] is None or month == "unknown" else month > cutoffs[m])}
                for m, cells in sorted(months.items()) for month, (c, n) in sorted(cells.items())]
    return {"accuracy": sorted(table.values(), key=lambda e: (e["model"], e["format"])),
            "options_only": leaks, "mc_letters_picked": picked, "accuracy_by_month": by_month,
            "training_cutoffs": cutoffs}
