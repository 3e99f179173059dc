"""The audit flags, from evaluation rows with known outcomes."""

import json

from tasks.evaluate import audits


def row(item, model, fmt, sample, grade, **extra):
    return {"item_id": item, "model": model, "format": fmt, "sample": sample, "grade": grade,
            "parsed_answer": extra.get("parsed_answer"), "expected": "A", "reason": None,
            "raw_answer": extra.get("raw_answer", "Answer: A"), "choice_order": [0, 1, 2, 3]}


def flags(rows, min_models=2):
    return {(a.item_id, a.flag) for a in audits.audit(rows, min_models, "audit-1")}


def test_every_model_failing_every_model_solving_and_a_split():
    rows = [row("fail", m, "mc", s, "incorrect") for m in ("m1", "m2") for s in (1, 2)]
    rows += [row("pass", m, "mc", s, "correct") for m in ("m1", "m2") for s in (1, 2)]
    rows += [row("split", "m1", "mc", s, "correct") for s in (1, 2)] + [row("split", "m2", "mc", s, "incorrect")
                                                                         for s in (1, 2)]
    assert flags(rows) == {("fail", "all_fail"), ("pass", "all_pass"), ("split", "split")}


def test_unreadable_and_failed_answers_are_not_failures():
    rows = [row("i", m, "mc", 1, "correct") for m in ("m1", "m2")]
    rows += [row("i", m, "mc", 2, g) for m, g in (("m1", "unparsed"), ("m2", "failed"))]
    [audit] = audits.audit(rows, 2, "a")
    assert (audit.flag, audit.solve_rate, audit.attempts) == ("all_pass", 1.0, 2)


def test_one_model_is_not_enough_for_all_fail():
    assert flags([row("i", "m1", "mc", s, "incorrect") for s in (1, 2, 3)]) == set()


def test_judge_and_symbolic_disagreeing_on_the_same_answer():
    rows = [row("i", "m1", "judge", 1, "incorrect"), row("i", "m1", "symbolic", 1, "correct"),
            row("i", "m1", "judge", 2, "correct"), row("i", "m1", "symbolic", 2, "undecided")]
    assert flags(rows) == {("i", "judge_symbolic_disagree")}


def test_options_only_hits_beyond_chance_flag_a_leak():
    leaky = [row("leak", "m1", "options_only", s, "correct") for s in range(1, 9)]
    fair = [row("fair", "m1", "options_only", s, "correct" if s <= 2 else "incorrect") for s in range(1, 9)]
    assert flags(leaky + fair) == {("leak", "options_only_solvable")}
    assert audits.leak_test(leaky).p_value < 1e-4
    assert audits.leak_test(fair).p_value > 0.3


def test_the_evidence_holds_each_models_answers():
    rows = [row("i", m, "mc", 1, "incorrect", parsed_answer="B", raw_answer="x" * 5000) for m in ("m1", "m2")]
    [audit] = audits.audit(rows, 2, "a")
    evidence = json.loads(audit.evidence)
    assert set(evidence["models"]) == {"m1", "m2"}
    assert evidence["models"]["m1"][0]["parsed_answer"] == "B"
    assert len(evidence["models"]["m1"][0]["raw_answer"]) == audits.EVIDENCE_CHARS


def test_binomial_tail_matches_known_values():
    assert abs(audits.binomial_tail(0, 10, 0.25) - 1.0) < 1e-12
    assert abs(audits.binomial_tail(10, 10, 0.5) - 0.5 ** 10) < 1e-12


def test_the_leak_test_has_power_at_the_default_four_samples_with_three_models():
    reader = [row("i", "reader", "options_only", s, "correct") for s in range(1, 5)]
    guessers = [row("i", m, "options_only", s, "correct" if s == 1 else "incorrect")
                for m in ("g1", "g2") for s in range(1, 5)]
    assert flags(reader + guessers) == {("i", "options_only_solvable")}
    assert flags(guessers) == set()
