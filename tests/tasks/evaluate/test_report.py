"""The report of one evaluation run."""

from tasks.evaluate import report


def row(model, fmt, grade, month="2026-10", letter="A"):
    return {"model": model, "format": fmt, "grade": grade, "paper_month": month, "parsed_answer": letter,
            "choice_order": [0, 1, 2, 3]}


def test_accuracy_counts_graded_answers_and_shows_the_rest_beside():
    rows = [row("m", "mc", "correct"), row("m", "mc", "incorrect"), row("m", "mc", "unparsed", letter=None)]
    [entry] = report.summarise(rows, {})["accuracy"]
    assert (entry["answers"], entry["unparsed"], entry["accuracy"]) == (3, 1, 0.5)


def test_months_after_the_training_cutoff_are_marked():
    rows = [row("m", "symbolic", "correct", "2026-09"), row("m", "symbolic", "incorrect", "2026-11"),
            row("n", "symbolic", "correct", None)]
    months = {(m["model"], m["paper_month"]): m["after_cutoff"]
              for m in report.summarise(rows, {"m": "2026-10"})["accuracy_by_month"]}
    assert months == {("m", "2026-09"): False, ("m", "2026-11"): True, ("n", "unknown"): None}


def test_the_letters_picked_and_the_leak_test_per_model():
    rows = [row("m", "mc", "correct", letter="A") for _ in range(3)] + \
        [row("m", "options_only", "correct") for _ in range(8)]
    summary = report.summarise(rows, {})
    assert summary["mc_letters_picked"] == {"m": {"A": 3}}
    assert summary["options_only"]["m"]["leaks"] is True
