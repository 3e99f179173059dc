"""Grader calibration: the statistics on known tables, then the catalog's view and the report
agreeing on a lake built to known figures."""

from __future__ import annotations

import pytest

from tasks.core.records import PRINCIPLES, SEED_CRITERIA
from tasks.evaluate import calibration as cal
from tasks.io import storage
from tests.tasks.evaluate import calibration_lake as world

# -- rows as the named queries return them ---------------------------------------------------------


def review(cid: str, reviewer: str, score: int | dict[str, int], decision: str = "keep",
           adjudicated: str | None = None) -> dict:
    scores = score if isinstance(score, dict) else {p: score for p in PRINCIPLES}
    return {"candidate_id": cid, "reviewer": reviewer, "decision": decision, **scores, "adjudicated": adjudicated}


def joint(cid: str, scores: int | dict[str, float], model: str = "m") -> list[dict]:
    scores = scores if isinstance(scores, dict) else {p: scores for p in PRINCIPLES}
    return [{"candidate_id": cid, "stage": "joint_score", "criterion": c, "score": s, "model": model}
            for c, s in scores.items()]


def seed(cid: str, scores: dict[str, float], model: str = "s") -> list[dict]:
    return [{"candidate_id": cid, "stage": "candidate_score", "criterion": c, "score": scores.get(c, 3),
             "model": model} for c in SEED_CRITERIA]


def varied(i: int) -> dict[str, int]:
    """Expert scores that use the whole scale and differ by principle."""
    return {p: 1 + (i + k) % 5 for k, p in enumerate(PRINCIPLES)}


def by_principle(agreements: list[cal.PrincipleAgreement]) -> dict[str, cal.PrincipleAgreement]:
    return {a.principle: a for a in agreements}


# -- part 1 -------------------------------------------------------------------------------------------


def test_a_grader_that_copies_the_experts_agrees_perfectly():
    experts = [review(f"c{i}", "ana", varied(i)) for i in range(10)]
    scores = [row for i in range(10) for row in joint(f"c{i}", varied(i))]
    principles, _ = cal.grader_agreement(scores, experts)
    assert len(principles) == len(PRINCIPLES)
    for a in principles:
        assert (a.stage, a.model, a.n, a.prompt_version) == ("joint_score", "m", 10, None)
        assert a.kappa == pytest.approx(1.0) and a.alpha == pytest.approx(1.0) and a.bias == pytest.approx(0.0)


def test_a_grader_one_point_high_has_bias_one_and_a_lower_kappa():
    experts = [review(f"c{i}", "ana", {p: 1 + (i + k) % 4 for k, p in enumerate(PRINCIPLES)}) for i in range(12)]
    scores = [row for i in range(12) for row in joint(f"c{i}", {p: 2 + (i + k) % 4 for k, p in enumerate(PRINCIPLES)})]
    for a in cal.grader_agreement(scores, experts)[0]:
        assert a.bias == pytest.approx(1.0)
        assert a.kappa is not None and a.kappa < 1.0
        assert a.alpha is not None and a.alpha < 1.0


def test_the_experts_mean_is_the_reference_and_kappa_rounds_it_half_up():
    experts = [review("c0", "ana", 3), review("c0", "ben", 4), review("c1", "ana", 1), review("c1", "ben", 1)]
    scores = joint("c0", 4) + joint("c1", 1)
    a = by_principle(cal.grader_agreement(scores, experts)[0])["problem_clarity"]
    assert a.bias == pytest.approx(0.25)  # (4 − 3.5 + 0) / 2
    assert a.kappa == pytest.approx(1.0)  # 3.5 is level 4, as the grader said


def test_seed_criteria_count_only_where_their_meaning_matches_a_principle():
    experts = [review(f"c{i}", "ana", varied(i)) for i in range(5)]
    scores = [row for i in range(5) for row in seed(f"c{i}", {"clarity": 5 * (varied(i)["problem_clarity"] - 1) / 4,
                                                            "complexity": 0.0})]
    principles = by_principle(cal.grader_agreement(scores, experts)[0])
    assert set(principles) == {"problem_clarity", "problem_difficulty"}
    assert principles["problem_clarity"].criterion == "clarity"
    assert principles["problem_clarity"].bias == pytest.approx(0.0)  # 0–5 put on 1–5 exactly
    assert principles["problem_clarity"].kappa == pytest.approx(1.0)
    assert principles["problem_difficulty"].criterion == "complexity"
    assert cal.on_expert_scale("candidate_score", 0) == 1.0 and cal.on_expert_scale("candidate_score", 5) == 5.0
    assert cal.on_expert_scale("joint_score", 4) == 4


def test_keep_rates_on_a_known_table():
    # Experts keep c0–c3 and reject c4–c7; the grader (mean ≥ 3) keeps c0–c2 and c4.
    experts = [review(f"c{i}", "ana", 3, "keep" if i < 4 else "reject") for i in range(8)]
    grader_means = [4, 4, 3, 2, 3, 2, 1, 1]
    scores = [row for i, m in enumerate(grader_means) for row in joint(f"c{i}", m)]
    (keep,) = cal.grader_agreement(scores, experts)[1]
    assert (keep.n, keep.positives, keep.negatives, keep.threshold) == (8, 4, 4, 3.0)
    assert keep.true_positive_rate == pytest.approx(0.75) and keep.false_positive_rate == pytest.approx(0.25)
    assert keep.kappa == pytest.approx(0.5) and keep.undecided == 0
    # A stricter threshold keeps fewer: c0 and c1 only.
    (strict,) = cal.grader_agreement(scores, experts, {"joint_score": 4.0})[1]
    assert strict.true_positive_rate == pytest.approx(0.5) and strict.false_positive_rate == 0.0


def test_the_experts_decision_is_the_adjudication_else_the_majority():
    rows = [review("tie", "ana", 3, "keep"), review("tie", "ben", 3, "reject"),
            review("judged", "ana", 3, "reject", "keep"), review("judged", "ben", 3, "reject", "keep"),
            review("most", "ana", 3, "reject"), review("most", "ben", 3, "keep"), review("most", "cho", 3, "keep")]
    consensus = cal.expert_consensus(rows)
    assert consensus["tie"].keep is None and consensus["judged"].keep is True and consensus["most"].keep is True
    scores = joint("tie", 4) + joint("judged", 4) + joint("most", 2)
    (keep,) = cal.grader_agreement(scores, rows)[1]
    assert (keep.n, keep.undecided, keep.positives) == (2, 1, 2)
    assert keep.true_positive_rate == pytest.approx(0.5) and keep.false_positive_rate is None


def test_the_seed_scorer_keeps_at_the_quality_layers_floor():
    experts = [review("c0", "ana", 3, "keep"), review("c1", "ana", 3, "reject")]
    scores = seed("c0", {c: 2 for c in SEED_CRITERIA}) + seed("c1", {c: 1.75 for c in SEED_CRITERIA})
    (keep,) = cal.grader_agreement(scores, experts, {"candidate_score": 2.0})[1]
    assert keep.stage == "candidate_score" and keep.true_positive_rate == 1.0 and keep.false_positive_rate == 0.0


def test_incomplete_and_out_of_range_score_sets_are_left_out():
    experts = [review(f"c{i}", "ana", 3) for i in range(3)]
    scores = joint("c0", 3) + joint("c1", {**{p: 3 for p in PRINCIPLES}, "human_heuristics": 6}) \
        + joint("c2", {p: 3 for p in PRINCIPLES[:4]})
    assert list(cal.grader_score_sets(scores)[("joint_score", "m", None)]) == ["c0"]
    principles, keep = cal.grader_agreement(scores, experts)
    assert {a.n for a in principles} == {1} and keep[0].n == 1


def test_graders_are_told_apart_by_stage_and_model():
    experts = [review(f"c{i}", "ana", varied(i)) for i in range(4)]
    scores = [row for i in range(4) for row in joint(f"c{i}", varied(i), "a") + joint(f"c{i}", 5, "b")]
    # quality_scores keeps one row per candidate, stage and criterion: two models of one stage
    # are two sets of candidates in practice; here both score all four.
    principles, keeps = cal.grader_agreement(scores, experts)
    assert {(a.model, a.principle) for a in principles} == {(m, p) for m in "ab" for p in PRINCIPLES}
    assert [k.model for k in keeps] == ["a", "b"]


# -- part 2 -------------------------------------------------------------------------------------------


def test_rogan_gladen_recovers_the_true_rate():
    sensitivity, specificity = 0.9, 0.8
    for true_rate in (0.0, 0.3, 0.5, 0.9, 1.0):
        raw = true_rate * sensitivity + (1 - true_rate) * (1 - specificity)
        assert cal.rogan_gladen(raw, sensitivity, specificity) == pytest.approx(true_rate)
    assert cal.rogan_gladen(0.1, 0.9, 0.8) == 0.0 and cal.rogan_gladen(0.99, 0.9, 0.95) == 1.0  # clipped
    assert cal.rogan_gladen(0.5, 0.5, 0.5) is None and cal.rogan_gladen(0.5, 0.4, 0.3) is None  # uninformative
    assert cal.rogan_gladen(None, 0.9, 0.9) is None and cal.rogan_gladen(0.5, None, 0.9) is None


def pair(model: str, item: int, judge: str, reference: str | None, prompt: str = "jv1", grader: str = "g") -> dict:
    return {"item_id": f"i{item}", "model": model, "sample": 0, "prompt_version": prompt, "grader_model": grader,
            "judge_grade": judge, "reference_grade": reference, "reference_source": "symbolic" if reference else None}


def known_judge_pairs() -> list[dict]:
    """The judge passes 27 of 30 correct answers and 14 of 70 incorrect ones (sens 0.9, spec
    0.8) of m1, all with a reference; m2 has 30 correct (27 passed) and 20 incorrect (4 passed),
    none with a reference."""
    rows = [pair("m1", i, "correct" if i < 27 else "incorrect", "correct") for i in range(30)]
    rows += [pair("m1", i, "correct" if i < 44 else "incorrect", "incorrect") for i in range(30, 100)]
    rows += [pair("m2", i, "correct" if i < 27 or 30 <= i < 34 else "incorrect", None) for i in range(50)]
    return rows


def test_a_judge_with_known_sensitivity_and_specificity_gets_corrected_pass_rates():
    rows = known_judge_pairs()
    (judge,) = cal.judge_agreement(rows)
    assert (judge.prompt_version, judge.grader_model, judge.n, judge.positives, judge.negatives) == \
        ("jv1", "g", 100, 30, 70)
    assert judge.sensitivity == pytest.approx(0.9) and judge.specificity == pytest.approx(0.8)
    assert 0 < judge.kappa < 1 and judge.reference_sources == {"symbolic": 100}
    rates = {r.model: r for r in cal.pass_rates(rows, [judge])}
    assert rates["m1"].raw_pass_rate == pytest.approx(0.41) and rates["m1"].corrected_pass_rate == pytest.approx(0.3)
    assert rates["m2"].raw_pass_rate == pytest.approx(0.62) and rates["m2"].corrected_pass_rate == pytest.approx(0.6)
    assert (rates["m2"].judged, rates["m2"].passed, rates["m2"].uncorrected_reason) == (50, 31, None)


def test_undecided_grades_are_in_neither_set_and_judges_are_kept_apart():
    rows = [pair("m1", 0, "undecided", "correct"), pair("m1", 1, "correct", "correct"),
            pair("m1", 2, "failed", None), pair("m1", 3, "incorrect", "incorrect", prompt="jv2")]
    judges = {(j.prompt_version, j.n) for j in cal.judge_agreement(rows)}
    assert judges == {("jv1", 1), ("jv2", 1)}
    rates = {(r.model, r.prompt_version): r for r in cal.pass_rates(rows, cal.judge_agreement(rows))}
    assert rates[("m1", "jv1")].judged == 1 and rates[("m1", "jv2")].raw_pass_rate == 0.0


def test_too_small_or_one_sided_calibration_sets_give_none_not_errors():
    assert cal.grader_agreement([], []) == ([], [])
    assert cal.judge_agreement([]) == [] and cal.pass_rates([], []) == []
    assert cal.weighted_kappa([], []) is None and cal.weighted_kappa([3], [3]) is None
    assert cal.weighted_kappa([3, 3, 3], [3, 3, 3]) is None  # one level: κ undefined
    assert cal.decision_kappa([True, True], [True, True]) is None
    assert cal.interval_alpha([3], [3]) is None and cal.interval_alpha([2, 2], [2, 2]) is None
    assert cal.mean_difference([], []) is None
    empty = cal.Confusion()
    assert empty.n == 0 and empty.true_positive_rate is None and empty.false_positive_rate is None
    # Only correct answers in the reference: no specificity, nothing corrected.
    rows = [pair("m1", i, "correct", "correct") for i in range(30)]
    (judge,) = cal.judge_agreement(rows)
    assert judge.specificity is None and judge.kappa is None
    (rate,) = cal.pass_rates(rows, [judge])
    assert rate.raw_pass_rate == 1.0 and rate.corrected_pass_rate is None
    assert rate.uncorrected_reason == "too_few_reference_answers"
    # Enough of both classes but a coin-flip judge: uninformative, not corrected.
    coin = [pair("m1", i, "correct" if i % 2 else "incorrect", "correct" if i < 40 else "incorrect")
            for i in range(80)]
    (rate,) = cal.pass_rates(coin, cal.judge_agreement(coin))
    assert rate.corrected_pass_rate is None and rate.uncorrected_reason == "judge_uninformative"
    # Agreements with one candidate: n is 1, the coefficients None, the bias still defined.
    principles, keep = cal.grader_agreement(joint("c0", 4), [review("c0", "ana", 3)])
    assert {(a.n, a.kappa, a.alpha, a.bias) for a in principles} == {(1, None, None, 1.0)}
    assert keep[0].kappa is None and keep[0].false_positive_rate is None


# -- through the catalog ----------------------------------------------------------------------------


def test_calibrate_reads_the_catalog_and_the_view_agrees(settings):
    world.calibration_lake(settings)
    report = cal.calibrate(settings)

    keep = {k.stage: k for k in report.keep}
    joint_keep, seed_keep = keep["joint_score"], keep["candidate_score"]
    # k8's joint scores are out of range, k5's experts tie: 7 candidates; k0 and k1 rejected.
    assert (joint_keep.n, joint_keep.positives, joint_keep.negatives, joint_keep.undecided) == (7, 5, 2, 1)
    assert joint_keep.true_positive_rate == 1.0 and joint_keep.false_positive_rate == 0.0
    assert joint_keep.kappa == pytest.approx(1.0) and joint_keep.model == world.JOINT_MODEL
    # The seed scorer keeps k1 (mean 2.25 ≥ the 2.0 floor), which the experts rejected.
    assert (seed_keep.n, seed_keep.threshold, seed_keep.false_positive_rate) == (8, 2.0, 0.5)

    joint_principles = by_principle([a for a in report.principles if a.stage == "joint_score"])
    assert joint_principles["reasoning_density"].bias == pytest.approx(-0.5 / 8)  # ben scored k7 higher
    assert joint_principles["problem_clarity"].bias > 0.5
    assert joint_principles["reasoning_density"].kappa > joint_principles["problem_clarity"].kappa

    (judge,) = report.judges
    assert (judge.prompt_version, judge.grader_model, judge.n) == (world.JUDGE_PROMPT, world.JUDGE_MODEL, 40)
    assert judge.sensitivity == pytest.approx(0.9) and judge.specificity == pytest.approx(0.8)
    rates = {r.model: r for r in report.pass_rates}
    assert rates["m1"].raw_pass_rate == pytest.approx(0.55) and rates["m1"].corrected_pass_rate == pytest.approx(0.5)
    assert rates["m2"].raw_pass_rate == pytest.approx(0.62) and rates["m2"].corrected_pass_rate == pytest.approx(0.6)

    view = storage.query_rows(settings, "SELECT * FROM judge_calibration")
    by_key = {(r["grader"], r["model"], r["measure"]): r for r in view}
    for a in report.principles:
        row = by_key[(a.stage, a.model, a.principle)]
        assert row["n"] == a.n and row["bias"] == pytest.approx(a.bias, abs=1e-3) and row["reference"] == "experts"
    for k in report.keep:
        row = by_key[(k.stage, k.model, "keep")]
        assert (row["n"], row["positives"], row["negatives"]) == (k.n, k.positives, k.negatives)
        assert row["true_positive_rate"] == pytest.approx(k.true_positive_rate)
        assert row["false_positive_rate"] == pytest.approx(k.false_positive_rate)
    row = by_key[("judge", world.JUDGE_MODEL, "pass")]
    assert (row["n"], row["prompt_version"], row["reference"]) == (40, world.JUDGE_PROMPT, "symbolic")
    assert row["sensitivity"] == pytest.approx(0.9) and row["specificity"] == pytest.approx(0.8)
    assert len(view) == len(report.principles) + len(report.keep) + len(report.judges)

    pairs = storage.named_rows(settings, "calibration_judge_pairs")
    assert len(pairs) == 41 + 50 and sum(p["reference_grade"] is not None for p in pairs) == 41


def test_reviews_from_the_review_database_replace_the_lake_copy(settings):
    world.calibration_lake(settings)
    reviews, decided = world.expert_reviews({"k0": 1, "k3": 4})  # fewer, e.g. a database restored elsewhere
    report = cal.calibrate(settings, reviews, decided)
    assert {a.n for a in report.principles} == {2}
    assert cal.calibrate(settings, [], []).principles == []


def test_a_fresh_lake_gives_an_empty_report(settings):
    storage.publish_catalog(settings)
    report = cal.calibrate(settings)
    assert report.empty and report.notes
    assert storage.query_rows(settings, "SELECT * FROM judge_calibration") == []


def test_a_new_prompt_version_is_another_grader():
    experts = [review(f"c{i}", "ana", varied(i)) for i in range(4)]
    scores = [{**row, "prompt_version": "v1" if i < 2 else "v2"} for i in range(4) for row in joint(f"c{i}", varied(i))]
    principles, keeps = cal.grader_agreement(scores, experts)
    assert {(k.prompt_version, k.n) for k in keeps} == {("v1", 2), ("v2", 2)}
    assert {a.prompt_version for a in principles} == {"v1", "v2"}
