"""Calibration: how far the LLM graders can be trusted, measured against a reference.

Part 1, the quality layer's graders against the experts. A grader is one ``quality_scores``
stage (``joint_score``: the experts' five principles, 1–5; ``candidate_score``: the seed
criteria, 0–5) and model. On the candidates the experts reviewed, per principle: Cohen's κ with
quadratic weights (scikit-learn), Krippendorff's α (interval; the ``krippendorff`` package)
between the grader and the mean of the experts, and the bias (mean of grader − experts); and for
"keep" (the grader's mean score at or above :data:`KEEP_THRESHOLDS`) against the experts'
decision: true and false positive rates and κ.

Part 2, the evaluation judge against the symbolic check. Where a symbolic tier decided an
answer (``correct``/``incorrect`` by Math-Verify, SymPy, numbers or strings), the judge's grade of
the same answer is compared with it: sensitivity, specificity and κ (pass/fail) per judge prompt
version and judge model. Each evaluated model's raw judge pass rate is shown beside a corrected
one, the judge's errors removed (Rogan–Gladen, :func:`rogan_gladen`).

Input columns (named queries of ``dashboards/queries.sql``):

- ``calibration_grader_scores``: ``candidate_id``, ``stage``, ``criterion``, ``score``, ``model``
  (the quality scores of reviewed candidates);
- ``calibration_expert_reviews``: ``candidate_id``, ``reviewer``, ``decision``, the five
  principles, ``adjudicated`` (the admin's decision, or NULL);
- ``calibration_judge_pairs`` (the view ``judge_reference_pairs``): ``item_id``, ``model``,
  ``sample``, ``prompt_version``, ``grader_model``, ``judge_grade``, ``reference_grade``,
  ``reference_source``, ``reference_tier`` (NULL reference: no decided symbolic grade).

Output: a :class:`CalibrationReport` of :class:`PrincipleAgreement`, :class:`KeepAgreement`,
:class:`JudgeAgreement` and :class:`PassRate` rows, and notes on what the figures cannot say.
The view ``judge_calibration`` holds the part SQL computes (n, bias, rates) with the default
thresholds; κ and α come from here.

Choices worth knowing:

- The seed criteria share meaning with two principles only: ``clarity`` → ``problem_clarity``,
  ``complexity`` → ``problem_difficulty``; their 0–5 is put on 1–5 by ``1 + 4·s/5`` (ends on
  ends, middle on middle). κ needs levels: scores are rounded half up to 1…5, the experts' mean
  too; α and the bias use the unrounded values.
- The experts' decision: the adjudication if there is one, else the strict majority of reviews;
  a tie is undecided and left out (counted as ``undecided``).
- A quality-layer grader is (stage, model, prompt version): the version is the scoring agent's,
  read from the ledger row of the same candidate and run (``llm_calls.prompt_version``; ``None``
  for scores landed before the ledger recorded it).
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import krippendorff
import numpy as np

from tasks.core.records import PRINCIPLES, SEED_CRITERIA, Adjudication, ExpertReview
from tasks.core.settings import Settings
from tasks.io.storage import named_rows

# -- what is compared with what -----------------------------------------------------------------

STAGE_CRITERIA: dict[str, tuple[str, ...]] = {"joint_score": PRINCIPLES, "candidate_score": SEED_CRITERIA}
"""A grader's complete score set: one score per criterion of its stage."""
STAGE_RANGE: dict[str, tuple[float, float]] = {"joint_score": (1.0, 5.0), "candidate_score": (0.0, 5.0)}
"""Each stage's scale (as ``tasks.refine``'s scorers check it); a score set with a value outside
it was recorded as ``score_out_of_range`` and is left out here too."""
PRINCIPLE_OF: dict[str, dict[str, str]] = {
    "joint_score": {p: p for p in PRINCIPLES},
    "candidate_score": {"clarity": "problem_clarity", "complexity": "problem_difficulty"},
}
"""Grader criterion → the expert principle it measures (only where the meaning matches)."""
LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
"""The experts' scale: κ's categories."""
JOINT_KEEP_THRESHOLD = 3.0
"""The joint score's "keep": the quality layer ranks by it and drops nothing, so there is no
threshold to copy. 3 is the rubric's middle and the bar selection sets on the experts' own
derivation-correctness mean (``select.min_correctness``)."""
KEEP_THRESHOLDS: dict[str, float] = {"joint_score": JOINT_KEEP_THRESHOLD, "candidate_score": 2.0}
"""Default "keep" per stage: a grader keeps a candidate when its mean score (on the stage's own
scale) is at least this. ``candidate_score``'s is ``refine.score_floor`` (the quality layer drops
below it); :func:`calibrate` reads the configured floor."""
PASS, FAIL = "correct", "incorrect"
"""The judge's and the reference's two decided grades; ``undecided``, ``unparsed`` and ``failed``
never count as wrong, so they are left out of both the calibration set and the pass rates."""
MIN_REFERENCE_PER_CLASS = 20
"""Reference answers a judge needs of each class (correct and incorrect) before its pass rates
are corrected: with 20, a sensitivity or specificity near 0.9 is known to about ±0.13 (95 %
Wilson interval); with fewer, the "correction" mostly adds noise."""


# -- statistics -----------------------------------------------------------------------------------


def level(score: float) -> int:
    """A score rounded half up to the nearest of :data:`LEVELS` (3.5 → 4, not to even)."""
    return int(min(max(math.floor(score + 0.5), LEVELS[0]), LEVELS[-1]))


def on_expert_scale(stage: str, score: float) -> float:
    """A grader's score on the experts' 1–5 scale: the joint score as it is, a seed score (0–5)
    linearly (0 → 1, 2.5 → 3, 5 → 5)."""
    return score if stage == "joint_score" else 1.0 + 4.0 * score / 5.0


def _cohen_kappa(a: Sequence[Any], b: Sequence[Any], labels: Sequence[Any], weights: str | None) -> float | None:
    if len(a) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score  # ~1.6 s to import: only when there is something to compute

    with warnings.catch_warnings():  # one category only: undefined, reported as None
        warnings.simplefilter("ignore")
        value = cohen_kappa_score(list(a), list(b), labels=list(labels), weights=weights)
    return float(value) if math.isfinite(value) else None


def weighted_kappa(grader: Sequence[float], experts: Sequence[float]) -> float | None:
    """Cohen's κ with quadratic weights between two 1–5 score lists (rounded to levels); None
    with fewer than two pairs or when it is undefined (both sides use one level only)."""
    return _cohen_kappa([level(s) for s in grader], [level(s) for s in experts], LEVELS, "quadratic")


def decision_kappa(grader: Sequence[bool], reference: Sequence[bool]) -> float | None:
    """Cohen's κ between two lists of yes/no decisions; None when undefined."""
    return _cohen_kappa(grader, reference, (False, True), None)


def interval_alpha(grader: Sequence[float], experts: Sequence[float]) -> float | None:
    """Krippendorff's α (interval) with the grader and the experts as two coders; None with
    fewer than two units or when every value is the same."""
    if len(grader) < 2:
        return None
    try:
        value = krippendorff.alpha(reliability_data=np.array([grader, experts], dtype=float),
                                   level_of_measurement="interval")
    except ValueError:  # one value in the whole domain: the library refuses
        return None
    return float(value) if math.isfinite(value) else None


def mean_difference(grader: Sequence[float], experts: Sequence[float]) -> float | None:
    """The bias: mean of grader − experts (positive: the grader scores higher)."""
    return float(np.mean(np.subtract(grader, experts))) if len(grader) else None


@dataclass(frozen=True)
class Confusion:
    """Decisions against a reference: positive is "keep" (or "correct")."""

    true_positives: int = 0
    false_positives: int = 0
    true_negatives: int = 0
    false_negatives: int = 0

    @classmethod
    def of(cls, pairs: Iterable[tuple[bool, bool]]) -> Confusion:
        """From (decision, reference) pairs."""
        counts = {(True, True): 0, (True, False): 0, (False, False): 0, (False, True): 0}
        for decision, reference in pairs:
            counts[(bool(decision), bool(reference))] += 1
        return cls(counts[(True, True)], counts[(True, False)], counts[(False, False)], counts[(False, True)])

    @property
    def n(self) -> int:
        return self.true_positives + self.false_positives + self.true_negatives + self.false_negatives

    @property
    def positives(self) -> int:
        return self.true_positives + self.false_negatives

    @property
    def negatives(self) -> int:
        return self.true_negatives + self.false_positives

    @property
    def true_positive_rate(self) -> float | None:
        """Sensitivity: the share of reference positives the grader also calls positive."""
        return self.true_positives / self.positives if self.positives else None

    @property
    def false_positive_rate(self) -> float | None:
        return self.false_positives / self.negatives if self.negatives else None

    @property
    def specificity(self) -> float | None:
        return self.true_negatives / self.negatives if self.negatives else None


def rogan_gladen(raw: float | None, sensitivity: float | None, specificity: float | None) -> float | None:
    """The true pass rate behind a judge's raw pass rate, given the judge's sensitivity and
    specificity (Rogan & Gladen 1978): ``(raw + spec − 1) / (sens + spec − 1)``, clipped to
    [0, 1]. None when an input is missing or the judge is no better than chance
    (``sens + spec ≤ 1``)."""
    if raw is None or sensitivity is None or specificity is None:
        return None
    informedness = sensitivity + specificity - 1.0
    if informedness <= 0:
        return None
    return min(1.0, max(0.0, (raw + specificity - 1.0) / informedness))


# -- part 1: the quality layer's graders against the experts ----------------------------------------


@dataclass(frozen=True)
class ExpertConsensus:
    """What the experts said of one candidate."""

    scores: dict[str, float]
    """Mean score per principle."""
    keep: bool | None
    """The adjudication, else the strict majority of decisions; None on a tie."""
    reviews: int


def expert_consensus(rows: Iterable[dict[str, Any]]) -> dict[str, ExpertConsensus]:
    """Per candidate, from ``calibration_expert_reviews`` rows."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["candidate_id"]].append(row)
    out = {}
    for candidate_id, reviews in grouped.items():
        adjudicated = next((r["adjudicated"] for r in reviews if r.get("adjudicated")), None)
        keeps = sum(r["decision"] == "keep" for r in reviews)
        rejects = len(reviews) - keeps
        keep = (adjudicated == "keep") if adjudicated else (True if keeps > rejects else False if rejects > keeps
                                                             else None)
        scores = {p: float(np.mean([r[p] for r in reviews])) for p in PRINCIPLES}
        out[candidate_id] = ExpertConsensus(scores=scores, keep=keep, reviews=len(reviews))
    return out


def review_rows(reviews: Iterable[ExpertReview], adjudications: Iterable[Adjudication]) -> list[dict[str, Any]]:
    """Reviews and adjudications (e.g. from the review database) as ``calibration_expert_reviews`` rows."""
    decided = {a.candidate_id: a.decision for a in adjudications}
    return [{"candidate_id": r.candidate_id, "reviewer": r.reviewer, "decision": r.decision, **r.scores(),
             "adjudicated": decided.get(r.candidate_id)} for r in reviews]


def grader_score_sets(rows: Iterable[dict[str, Any]]
                      ) -> dict[tuple[str, str, str | None], dict[str, dict[str, float]]]:
    """(stage, model, prompt version) → candidate → criterion → score, from
    ``calibration_grader_scores`` rows (the prompt version is ``None`` for scores older than the
    ledger's ``prompt_version`` column).

    Only complete score sets within the stage's range: a candidate with a missing or stray score
    for a stage is left out of that stage.
    """
    sets: dict[tuple[str, str, str | None, str], dict[str, float]] = defaultdict(dict)
    for row in rows:
        if row["stage"] in STAGE_CRITERIA:
            grader = (row["stage"], row.get("model") or "", row.get("prompt_version"), row["candidate_id"])
            sets[grader][row["criterion"]] = float(row["score"])
    out: dict[tuple[str, str, str | None], dict[str, dict[str, float]]] = defaultdict(dict)
    for (stage, model, version, candidate_id), scores in sets.items():
        low, high = STAGE_RANGE[stage]
        if set(scores) == set(STAGE_CRITERIA[stage]) and all(low <= s <= high for s in scores.values()):
            out[(stage, model, version)][candidate_id] = scores
    return dict(out)


@dataclass(frozen=True)
class PrincipleAgreement:
    """One grader against the experts on one principle."""

    stage: str
    model: str
    prompt_version: str | None
    principle: str
    criterion: str
    """The grader's criterion read as this principle."""
    n: int
    """Candidates scored by both."""
    kappa: float | None
    """Cohen's κ, quadratic weights, on levels 1–5."""
    alpha: float | None
    """Krippendorff's α, interval, grader vs the experts' mean."""
    bias: float | None
    """Mean of grader − experts' mean, on the 1–5 scale."""


@dataclass(frozen=True)
class KeepAgreement:
    """One grader's "keep" (mean score ≥ ``threshold``) against the experts' decision."""

    stage: str
    model: str
    prompt_version: str | None
    threshold: float
    n: int
    """Candidates with a grader score set and a decided expert verdict."""
    positives: int
    """Of those, the experts kept."""
    negatives: int
    true_positive_rate: float | None
    """Share of the experts' keepers the grader keeps too."""
    false_positive_rate: float | None
    """Share of the experts' rejects the grader would keep."""
    kappa: float | None
    undecided: int
    """Reviewed candidates left out: the experts' reviews tie and no admin decided."""


def grader_agreement(score_rows: Iterable[dict[str, Any]], expert_rows: Iterable[dict[str, Any]],
                     keep_thresholds: dict[str, float] | None = None
                     ) -> tuple[list[PrincipleAgreement], list[KeepAgreement]]:
    """Every grader against the experts: per principle, and for keep."""
    thresholds = {**KEEP_THRESHOLDS, **(keep_thresholds or {})}
    experts = expert_consensus(expert_rows)
    principles: list[PrincipleAgreement] = []
    keeps: list[KeepAgreement] = []
    for (stage, model, version), by_candidate in sorted(grader_score_sets(score_rows).items(),
                                                        key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")):
        reviewed = sorted(c for c in by_candidate if c in experts)
        if not reviewed:
            continue
        for criterion, principle in PRINCIPLE_OF[stage].items():
            grader = [on_expert_scale(stage, by_candidate[c][criterion]) for c in reviewed]
            expert = [experts[c].scores[principle] for c in reviewed]
            principles.append(PrincipleAgreement(
                stage=stage, model=model, prompt_version=version, principle=principle, criterion=criterion,
                n=len(reviewed), kappa=weighted_kappa(grader, expert), alpha=interval_alpha(grader, expert),
                bias=mean_difference(grader, expert)))
        threshold = thresholds[stage]
        decided = [c for c in reviewed if experts[c].keep is not None]
        # Rounded as the quality layer rounds its mean (tasks.refine.scores.mean) before the floor.
        said = [round(float(np.mean(list(by_candidate[c].values()))), 3) >= threshold for c in decided]
        truth = [bool(experts[c].keep) for c in decided]
        confusion = Confusion.of(zip(said, truth))
        keeps.append(KeepAgreement(
            stage=stage, model=model, prompt_version=version, threshold=threshold, n=confusion.n,
            positives=confusion.positives, negatives=confusion.negatives,
            true_positive_rate=confusion.true_positive_rate, false_positive_rate=confusion.false_positive_rate,
            kappa=decision_kappa(said, truth), undecided=len(reviewed) - len(decided)))
    principles.sort(key=lambda a: (a.stage != "joint_score", a.model, PRINCIPLES.index(a.principle)))
    keeps.sort(key=lambda a: (a.stage != "joint_score", a.model))
    return principles, keeps


# -- part 2: the evaluation judge against the symbolic check --------------------------------------------


@dataclass(frozen=True)
class JudgeAgreement:
    """One judge (prompt version and model) against the reference grades of the same answers."""

    prompt_version: str
    grader_model: str
    n: int
    """Answers both the judge and the reference decided."""
    positives: int
    """Of those, correct by the reference."""
    negatives: int
    sensitivity: float | None
    """Share of correct answers the judge passes."""
    specificity: float | None
    """Share of incorrect answers the judge fails."""
    kappa: float | None
    reference_sources: dict[str, int] = field(default_factory=dict)
    """Where the reference grades came from (``symbolic``; experts' audit verdicts later)."""


@dataclass(frozen=True)
class PassRate:
    """One evaluated model's judge pass rate, raw and with the judge's errors removed."""

    model: str
    prompt_version: str
    grader_model: str
    judged: int
    """Answers the judge decided (``correct`` or ``incorrect``)."""
    passed: int
    raw_pass_rate: float | None
    corrected_pass_rate: float | None
    uncorrected_reason: str | None
    """Why there is no corrected rate: ``too_few_reference_answers`` (fewer than the minimum
    correct or incorrect answers in the judge's calibration set) or ``judge_uninformative``
    (sensitivity + specificity ≤ 1)."""


def _judge_of(row: dict[str, Any]) -> tuple[str, str]:
    return row.get("prompt_version") or "", row.get("grader_model") or ""


def judge_agreement(pair_rows: Iterable[dict[str, Any]]) -> list[JudgeAgreement]:
    """Per judge, from ``calibration_judge_pairs`` rows: its pass/fail against the reference's,
    where both decided."""
    pairs: dict[tuple[str, str], list[tuple[bool, bool]]] = defaultdict(list)
    sources: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in pair_rows:
        if row.get("judge_grade") in (PASS, FAIL) and row.get("reference_grade") in (PASS, FAIL):
            judge = _judge_of(row)
            pairs[judge].append((row["judge_grade"] == PASS, row["reference_grade"] == PASS))
            sources[judge][row.get("reference_source") or "symbolic"] += 1
    out = []
    for judge, decided in sorted(pairs.items()):
        confusion = Confusion.of(decided)
        out.append(JudgeAgreement(
            prompt_version=judge[0], grader_model=judge[1], n=confusion.n, positives=confusion.positives,
            negatives=confusion.negatives, sensitivity=confusion.true_positive_rate,
            specificity=confusion.specificity, kappa=decision_kappa(*zip(*decided)) if decided else None,
            reference_sources=dict(sources[judge])))
    return out


def pass_rates(pair_rows: Iterable[dict[str, Any]], judges: Iterable[JudgeAgreement],
               min_per_class: int = MIN_REFERENCE_PER_CLASS) -> list[PassRate]:
    """Per evaluated model and judge: the raw judge pass rate and the Rogan–Gladen corrected one,
    with the judge's sensitivity and specificity from its whole calibration set (every model)."""
    calibration = {(j.prompt_version, j.grader_model): j for j in judges}
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in pair_rows:
        if row.get("judge_grade") in (PASS, FAIL):
            tally = counts[(row["model"], *_judge_of(row))]
            tally[0] += 1
            tally[1] += row["judge_grade"] == PASS
    out = []
    for (model, prompt_version, grader_model), (judged, passed) in sorted(counts.items()):
        raw = passed / judged
        judge = calibration.get((prompt_version, grader_model))
        corrected, reason = None, None
        if judge is None or min(judge.positives, judge.negatives) < min_per_class:
            reason = "too_few_reference_answers"
        else:
            corrected = rogan_gladen(raw, judge.sensitivity, judge.specificity)
            reason = None if corrected is not None else "judge_uninformative"
        out.append(PassRate(model=model, prompt_version=prompt_version, grader_model=grader_model, judged=judged,
                            passed=passed, raw_pass_rate=raw, corrected_pass_rate=corrected,
                            uncorrected_reason=reason))
    return out


# -- the report -------------------------------------------------------------------------------------


@dataclass
class CalibrationReport:
    principles: list[PrincipleAgreement]
    keep: list[KeepAgreement]
    judges: list[JudgeAgreement]
    pass_rates: list[PassRate]
    notes: list[str] = field(default_factory=list)
    """What the figures cannot say (read them before trusting a number)."""

    @property
    def empty(self) -> bool:
        return not (self.principles or self.keep or self.judges or self.pass_rates)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


NOTES = (
    "The quality layer records no prompt version on its scores: its graders are told apart by model only.",
    "candidate_score keep is the quality layer's own floor: candidates below it were dropped before review, so "
    "its true positive rate is measured on survivors (optimistic); its false positive rate is the informative one.",
    "The judge is calibrated only on answers a symbolic tier could decide (a final formula that parses): "
    "its corrected pass rates assume it errs alike on the rest.",
)


def calibrate(settings: Settings, reviews: list[ExpertReview] | None = None,
              adjudications: list[Adjudication] | None = None, *,
              joint_keep_threshold: float = JOINT_KEEP_THRESHOLD,
              min_per_class: int = MIN_REFERENCE_PER_CLASS) -> CalibrationReport:
    """The calibration report from the catalog.

    ``reviews`` and ``adjudications`` (e.g. the review database's, fresher than the lake's copy)
    replace the catalog's ``expert_reviews`` and ``adjudications`` when given.
    """
    if reviews is None:
        expert_rows = named_rows(settings, "calibration_expert_reviews")
        candidate_ids = None
    else:
        expert_rows = review_rows(reviews, adjudications or [])
        candidate_ids = sorted({r["candidate_id"] for r in expert_rows})
    score_rows = named_rows(settings, "calibration_grader_scores", candidate_ids=candidate_ids)
    principles, keep = grader_agreement(score_rows, expert_rows, {
        "joint_score": joint_keep_threshold, "candidate_score": settings.refine.score_floor})
    pairs = named_rows(settings, "calibration_judge_pairs")
    judges = judge_agreement(pairs)
    return CalibrationReport(principles=principles, keep=keep, judges=judges,
                             pass_rates=pass_rates(pairs, judges, min_per_class), notes=list(NOTES))
