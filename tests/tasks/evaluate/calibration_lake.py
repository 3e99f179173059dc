"""A lake whose graders' agreement with their references is known by construction (the
calibration tests, the ``evaluate calibrate`` CLI test and the admin page's test share it)."""

from __future__ import annotations

from tasks.core.records import PRINCIPLES, Adjudication, Evaluation, ExpertReview, QualityScore
from tasks.io import storage

BASES = {"k0": 1, "k1": 2, "k2": 3, "k3": 4, "k4": 5, "k5": 2, "k6": 4, "k7": 3, "k8": 3}
"""Each reviewed candidate's expert score on every principle (ben scores k7 one higher)."""
JOINT_MODEL, SEED_MODEL = "joint-model", "seed-model"
JUDGE_PROMPT, JUDGE_MODEL = "judge-v1", "judge-model"


def expert_reviews(bases: dict[str, int] = BASES) -> tuple[list[ExpertReview], list[Adjudication]]:
    """Two reviewers per candidate. Decisions: keep from 3 up, except k5 (a 1–1 tie, undecided)
    and k6 (both reject, an admin adjudicated keep)."""
    reviews, decided = [], []
    for cid, base in bases.items():
        for reviewer in ("ana", "ben"):
            score = min(base + 1, 5) if (cid, reviewer) == ("k7", "ben") else base
            decision = "keep" if base >= 3 else "reject"
            if cid == "k5":
                decision = "keep" if reviewer == "ana" else "reject"
            if cid == "k6":
                decision = "reject"
            reviews.append(ExpertReview(candidate_id=cid, reviewer=reviewer, decision=decision,
                                        **{p: score for p in PRINCIPLES}))
    if "k6" in bases:
        decided.append(Adjudication(candidate_id="k6", adjudicator="boss", decision="keep"))
    return reviews, decided


def grader_scores(bases: dict[str, int] = BASES) -> list[QualityScore]:
    """The joint scorer copies the experts except problem_clarity (one higher, capped at 5), and
    k8's joint score set is out of range (left out); the seed scorer gives clarity = base and
    complexity = base − 1 on 0–5."""
    rows = []
    for cid, base in bases.items():
        for i, p in enumerate(PRINCIPLES):
            score = min(base + 1, 5) if p == "problem_clarity" else base
            if cid == "k8":
                score = 7 if i == 0 else 3
            rows.append(QualityScore(candidate_id=cid, stage="joint_score", criterion=p, score=score,
                                     model=JOINT_MODEL, run_id="r1"))
        seed = {"complexity": base - 1, "information_value": 3, "clarity": base, "precision": 3}
        rows += [QualityScore(candidate_id=cid, stage="candidate_score", criterion=c, score=s, model=SEED_MODEL,
                              run_id="r1") for c, s in seed.items()]
    return rows


def evaluations() -> list[Evaluation]:
    """Model m1: 40 answers the symbolic check decided, 20 correct (the judge passes 18) and 20
    incorrect (it passes 4): sensitivity 0.9, specificity 0.8, true pass rate 0.5, raw 0.55.
    Model m2: 50 answers the symbolic check did not decide (5 undecided, 45 not checked), true
    rate 0.6, the same judge: raw 0.62."""
    rows = []

    def answer(model, item, judge_grade, symbolic_grade=None, tier="math_verify"):
        common = dict(eval_id="e1", dataset="2026-12", item_id=item, model=model, sample=0,
                      raw_answer=f"answer {model} {item}")
        rows.append(Evaluation(**common, format="judge", prompt_version=JUDGE_PROMPT, grade=judge_grade,
                               tier="judge", grader_model=JUDGE_MODEL, correctness=2.0 if judge_grade == "correct"
                               else 0.0))
        if symbolic_grade:
            rows.append(Evaluation(**common, format="symbolic", prompt_version="answer-v1", grade=symbolic_grade,
                                   tier=tier))

    for i in range(20):
        answer("m1", f"i{i}", "correct" if i < 18 else "incorrect", "correct")
    for i in range(20, 40):
        answer("m1", f"i{i}", "correct" if i < 24 else "incorrect", "incorrect")
    answer("m1", "i40", "undecided", "correct")  # the judge's orders disagree: in neither set
    for i in range(50):  # m2: 30 truly correct (27 passed), 20 truly incorrect (4 passed)
        answer("m2", f"i{i}", "correct" if (i < 27 or 30 <= i < 34) else "incorrect",
               "undecided" if i < 5 else None, tier="none")
    return rows


def calibration_lake(settings, publish: bool = True) -> None:
    lake = storage.Lake.from_settings(settings)
    reviews, decided = expert_reviews()
    lake.write_table(ExpertReview, reviews, "reviews")
    lake.write_table(Adjudication, decided, "adjudications")
    lake.write_table(QualityScore, grader_scores(), "scores")
    lake.write_table(Evaluation, evaluations(), "evaluations")
    if publish:
        storage.publish_catalog(settings)
