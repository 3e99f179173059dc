"""The quality layer's steps: plan, screen (decontaminate, deduplicate), refine with the LLM per
batch, rank, land.

Input: the catalog's ``candidates`` (named query ``refine_candidates``), what earlier runs kept
(``refine_earlier``: reviewed, released or queued candidates) and the signals earlier runs left
(``refine_signals``: joint scores, solve rates).
Output tables: ``contamination`` and ``duplicates`` (the current findings, rewritten each run),
``quality_scores``, ``question_revisions``, ``solutions``, ``llm_calls`` and ``rejects`` (stage
``refine``) per batch, ``review_queue`` (rewritten each run) and ``candidates`` (a touched
paper's rows rewritten whole, as generation writes them): ``status = dropped`` with
``contaminated``, ``near_duplicate`` or ``low_quality_score``, ``revised_question`` and
``refined_with``.

Order: the screens need no LLM, so they run first and the LLM never scores a duplicate or a
contaminated candidate; their drops are recomputed every run over every candidate (a candidate
dropped as a duplicate comes back if its twin goes). The LLM stages run on the candidates whose
``refined_with`` fingerprint (inputs, prompts, models, settings and code) differs from the current
one: an unchanged rerun makes no call. The ranking runs every time over every queued candidate.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from tasks.core.equivalence import import_math_verify, normalise_math
from tasks.core.handoff import Opaque, stage_task
from tasks.core.records import (
    QUEUED_STATUSES,
    SCREEN_DROPS,
    Candidate,
    Contamination,
    Duplicate,
    LLMCall,
    QualityDrop,
    QualityScore,
    QuestionRevision,
    QueueEntry,
    Reject,
    Solution,
    allowed,
    utcnow,
)
from tasks.core.settings import Settings
from tasks.io.embed import embed_texts
from tasks.io.llm import gateway_for
from tasks.io.memo import code_fingerprint
from tasks.io.memo import fingerprint as memo_fingerprint
from tasks.io.storage import Lake, named_rows, record_from_row, safe_key
from tasks.io.validate import gate, warm_up
from tasks.refine import contamination, joint_scorer, near_duplicates, ranking, solver
from tasks.refine.agents import AGENTS, BatchRefiner, Refined

LLM_STAGE_CODE = ("tasks.refine.agents", "tasks.refine.scores", "tasks.refine.candidate_scorer",
                  "tasks.refine.question_review", "tasks.refine.solver", "tasks.core.equivalence",
                  "tasks.refine.joint_scorer")
"""The code stages 1–4 run (their prompts count through the agents' versions): editing the
screens or the ranking must not re-run them."""


def fingerprint(settings: Settings, c: Candidate) -> str:
    """What the LLM stages' results for ``c`` depend on: its text, the prompts, models, settings
    and the quality layer's code (``tasks.io.memo``'s code hashing)."""
    refine = settings.refine
    return memo_fingerprint(
        code_fingerprint(*LLM_STAGE_CODE), c.question, c.answer, c.target_latex, c.target_kind, c.question_evidence,
        {a.name: a.version for a in AGENTS}, {a.name: settings.llm.for_agent(a.name).model_dump() for a in AGENTS},
        [refine.score_floor, refine.review_bar, refine.revise_rounds, refine.solve_samples])


@dataclass
class RefinePlan:
    candidates: list[Candidate]
    """Every candidate of the catalog (a touched paper's file is rewritten whole)."""
    pool: list[Candidate]
    """The candidates the layer works on: finished or drafted (a drop by the screens undone, to
    be decided again), not superseded by an LLM twin."""
    earlier: set[str]
    """Candidates kept by earlier runs (reviewed, released or queued): never dropped as a
    duplicate; a new candidate like one of them is."""
    signals: dict[str, dict]
    """Joint score and solve rate per candidate from earlier runs."""
    stored: dict[str, Candidate] = field(default_factory=dict)
    """The candidates as the catalog holds them (before the screens' drops were undone)."""
    embedding_twins: list[Duplicate] = field(default_factory=list)
    """The near duplicates embeddings found last time: a run whose model cannot load keeps them
    (else both twins would be queued, and queued candidates are never dropped after)."""


def plan_refine(settings: Settings, run_id: str) -> RefinePlan:
    rows = named_rows(settings, "refine_candidates")
    candidates, pool, stored = [], [], {}
    for row in rows:
        c = stored[row["candidate_id"]] = record_from_row(Candidate, row)
        # drops the layer decides again: the screens' every run, the floor's when its inputs changed
        if c.status == "dropped" and (c.reason in SCREEN_DROPS or (
                c.reason == "low_quality_score" and c.refined_with != fingerprint(settings, c))):
            c = c.model_copy(update={"status": "done" if c.verdict == "derive" else "drafted", "reason": None})
        candidates.append(c)
        if c.status in QUEUED_STATUSES and not row["superseded"]:
            pool.append(c)
    earlier = {r["candidate_id"] for r in named_rows(settings, "refine_earlier", run_id=run_id)}
    signals = {r["candidate_id"]: r for r in named_rows(settings, "refine_signals", low=joint_scorer.LOW,
                                                         high=joint_scorer.HIGH)}
    twins = [record_from_row(Duplicate, r) for r in named_rows(settings, "refine_embedding_twins")]
    return RefinePlan(candidates, pool, earlier, signals, stored, twins)


def _text(c: Candidate) -> str:
    """What the screens compare: generation's question (not a revision, so a rerun compares the
    same texts and reaches the same drops) and the paper's answer."""
    return f"{c.question or ''}\n{c.answer or ''}"


@dataclass
class Screened:
    candidates: list[Candidate]
    """Every candidate of the plan, the contaminated and the duplicates ``dropped``."""
    contamination: list[Contamination] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    """Candidate id → its embedding (empty when no model could load)."""
    embedding_problem: str | None = None


def screen(settings: Settings, lake: Lake, plan: RefinePlan, run_id: str) -> Screened:
    """The two screens over the whole pool, no LLM: contamination, then near duplicates."""
    # Earlier-kept candidates first, then the best grounded: the first of a group is the twin kept.
    pool = sorted(plan.pool, key=lambda c: (c.candidate_id not in plan.earlier, -(c.grounded_score or 0),
                                            c.candidate_id))
    items = [near_duplicates.Item(c.candidate_id, _text(c), normalise_math(c.target_latex)) for c in pool]
    embedded = embed_texts(settings, lake, [item.text for item in items])
    out = Screened(candidates=[], embedding_problem=embedded.problem)
    if embedded.problem:
        out.rejects.append(Reject(run_id=run_id, stage="refine", entity_id=settings.refine.embedding_model,
                                  reason=embedded.problem, detail=embedded.detail))
    else:
        out.vectors = dict(zip((c.candidate_id for c in pool), embedded.vectors))
    out.contamination, problems = _decontaminate(settings, lake, items, embedded.vectors, run_id)
    out.rejects += problems
    contaminated = {hit.candidate_id for hit in out.contamination}
    pooled = {item.item_id for item in items}
    kept_twins = [] if embedded.vectors is not None else [
        d.model_copy(update={"run_id": run_id}) for d in plan.embedding_twins
        if d.candidate_id in pooled and d.twin_id in pooled and d.candidate_id not in contaminated]
    held = {d.candidate_id for d in kept_twins}
    clean = [i for i, item in enumerate(items) if item.item_id not in contaminated | held]
    old = [i for i in clean if items[i].item_id in plan.earlier]
    new = [i for i in clean if items[i].item_id not in plan.earlier]

    def rows(indices: list[int]) -> np.ndarray | None:
        return embedded.vectors[indices] if embedded.vectors is not None and indices else None

    out.duplicates = kept_twins + near_duplicates.find_near_duplicates(
        [items[i] for i in new], [items[i] for i in old], settings.refine, rows(new), rows(old), run_id=run_id)
    twins = {d.candidate_id for d in out.duplicates}
    for c in plan.candidates:
        if c.candidate_id in contaminated:
            c = c.model_copy(update={"status": "dropped", "reason": "contaminated"})
        elif c.candidate_id in twins:
            c = c.model_copy(update={"status": "dropped", "reason": "near_duplicate"})
        out.candidates.append(c)
    return out


def _decontaminate(settings: Settings, lake: Lake, items: list[near_duplicates.Item], vectors: np.ndarray | None,
                   run_id: str) -> tuple[list[Contamination], list[Reject]]:
    """Every configured benchmark against the items (each file read once per run; what cannot
    be read of it is a reject, the rest is used)."""
    hits, rejects = [], []
    if not items:
        return hits, rejects
    for bench in settings.refine.benchmarks:
        bench_items, problems = contamination.load_benchmark(bench)
        rejects += [Reject(run_id=run_id, stage="refine", entity_id=bench.name, reason=reason, detail=detail)
                    for reason, detail in problems]
        if not bench_items:
            continue
        index = contamination.NgramIndex.from_settings(bench_items, settings.refine)
        bench_vectors = None
        if vectors is not None:
            bench_vectors = embed_texts(settings, lake, [b.text for b in bench_items]).vectors
        hits += contamination.find_contamination(items, index, settings.refine, vectors, bench_vectors, bench_items,
                                                 run_id=run_id)
    return hits, rejects


def to_refine(settings: Settings, plan: RefinePlan, candidates: list[Candidate], force: bool) -> list[Candidate]:
    """The pool's candidates the screens kept whose LLM stages have not run on these inputs."""
    pool = {c.candidate_id for c in plan.pool}
    return [c for c in candidates if c.candidate_id in pool and c.status in QUEUED_STATUSES
            and (force or c.refined_with != fingerprint(settings, c))]


@dataclass
class RefinedBatch:
    candidates: list[Candidate] = field(default_factory=list)
    calls: list[LLMCall] = field(default_factory=list)
    signals: dict[str, dict] = field(default_factory=dict)
    rejects: Counter = field(default_factory=Counter)
    quarantined: int = 0
    budget_exhausted: bool = False


def refine_with_llm(settings: Settings, lake: Lake, candidates: list[Candidate], run_id: str,
                      part: str, allowance: float | None = None) -> RefinedBatch:
    """Stages 1–4 for a batch (``tasks.refine.agents``), then validation and landing of the batch's
    scores, revisions, solutions, calls and rejects. The candidates are returned, not landed: the
    flow lands them with the screens' and the ranking's results."""
    import_math_verify()  # once here: every symbolic check forks from this process

    # Great Expectations imported here, not in a thread beside the event loop: the symbolic
    # checks fork, and a child forked while another thread holds an import lock can hang.
    warm_up()

    async def run() -> tuple[Refined, list[LLMCall], bool]:
        async with gateway_for(settings, run_id, allowance) as gateway:
            refined = await BatchRefiner(settings, gateway, run_id).run(candidates)
            return refined, list(gateway.calls), gateway.budget.refused > 0

    refined, calls, stopped = asyncio.run(run())
    out = RefinedBatch(calls=calls, budget_exhausted=stopped)
    passed: dict[str, list] = {}
    for model, rows, suite in ((QualityScore, refined.scores, "quality_scores"),
                               (QuestionRevision, refined.revisions, "question_revisions"),
                               (Solution, refined.solutions, "solutions")):
        outcome = gate(lake, suite, rows, run_id, part)
        lake.write_table(model, outcome.passed, f"{run_id}-{part}")
        out.quarantined += len(outcome.quarantined)
        passed[suite] = outcome.passed
    lake.write_table(LLMCall, calls, f"refine-{run_id}-{part}")
    lake.write_table(Reject, refined.rejects, f"refine-{run_id}-{part}")
    out.rejects.update(f"{r.stage}/{r.reason}" for r in refined.rejects)
    for c in refined.candidates:
        settled = c.candidate_id not in refined.transient  # else the next run retries it from the cache
        out.candidates.append(c.model_copy(update={"refined_with": fingerprint(settings, c) if settled else None}))
    # the ranking reads what validation kept, as the next run will from the catalog
    out.signals = _signals(refined.candidates, passed["quality_scores"], passed["solutions"])
    return out


def _signals(candidates: list[Candidate], scores: list[QualityScore], solutions: list[Solution]) -> dict[str, dict]:
    """The ranking's inputs from a batch, for every candidate of it: mean joint score (when every
    criterion is in range) and solve rate, ``None`` where this run has none (an earlier run's
    value must not stand in for a failed call)."""
    joint: dict[str, list[float]] = {}
    for s in scores:
        if s.stage == joint_scorer.STAGE:
            joint.setdefault(s.candidate_id, []).append(s.score)
    by_candidate: dict[str, list[Solution]] = {}
    for s in solutions:
        by_candidate.setdefault(s.candidate_id, []).append(s)
    out: dict[str, dict] = {c.candidate_id: {"joint_score": None, "solve_rate": None} for c in candidates}
    for cid, values in joint.items():
        if all(joint_scorer.LOW <= v <= joint_scorer.HIGH for v in values):
            out.setdefault(cid, {})["joint_score"] = sum(values) / len(values)
    for cid, rows in by_candidate.items():
        out.setdefault(cid, {})["solve_rate"] = solver.solve_rate(rows)
    return out


@stage_task
def refine_batch(settings: Settings, candidates: Opaque, run_id: str, allowance: float | None = None) -> RefinedBatch:
    """Stages 1–4 for a batch of candidates (``candidates.value``) on a Dask worker."""
    batch: list[Candidate] = candidates.value
    return refine_with_llm(settings, Lake.from_settings(settings), batch, run_id,
                             safe_key(batch[0].candidate_id), allowance)


def rank(settings: Settings, plan: RefinePlan, candidates: list[Candidate], signals: dict[str, dict],
         vectors: dict[str, np.ndarray], run_id: str) -> tuple[list[QueueEntry], list[str]]:
    """Stage 7: the queue over every queued candidate (DS² when embeddings are there)."""
    pool = {c.candidate_id for c in plan.pool}  # superseded drafts are never queued
    queued = [c for c in candidates if c.status in QUEUED_STATUSES and c.candidate_id in pool]
    items = [ranking.RankItem(c.candidate_id, c.paper_id, signals.get(c.candidate_id, {}).get("joint_score"),
                              signals.get(c.candidate_id, {}).get("solve_rate")) for c in queued]
    matrix = None
    if queued and vectors:  # a candidate without an embedding is a NaN row: ranked uncorrected alone
        missing = np.full(len(next(iter(vectors.values()))), np.nan, dtype=np.float32)
        matrix = np.stack([vectors.get(c.candidate_id, missing) for c in queued])
    return ranking.rank_queue(items, matrix, settings.refine, run_id=run_id)


def land(settings: Settings, lake: Lake, plan: RefinePlan, candidates: list[Candidate], screened: Screened,
         queue: list[QueueEntry], run_id: str) -> int:
    """Write the run's whole-run tables and the candidates of every paper whose rows changed;
    returns the rows quarantined."""
    quarantined = 0
    for model, rows, suite in ((Contamination, screened.contamination, "contamination"),
                               (Duplicate, screened.duplicates, "duplicates"),
                               (QueueEntry, queue, "review_queue")):
        outcome = gate(lake, suite, rows, run_id, "current", per_run=False)
        quarantined += len(outcome.quarantined)
        # the current findings replace the last run's: a drop undone must not linger
        lake.write_table(model, outcome.passed, "current", replace_empty=True)
    before = plan.stored
    by_paper: dict[str, list[Candidate]] = {}
    changed = set()
    now = utcnow()
    for c in candidates:
        if c != before.get(c.candidate_id):
            changed.add(c.paper_id)
            c = c.model_copy(update={"updated_at": now})
        by_paper.setdefault(c.paper_id, []).append(c)
    for paper_id in sorted(changed):
        lake.write_table(Candidate, by_paper[paper_id], safe_key(paper_id), replace_empty=True)
    lake.write_table(Reject, screened.rejects, f"refine-{run_id}-screens")
    return quarantined


def count_drops(plan: RefinePlan, candidates: list[Candidate]) -> Counter:
    """This run's new drops by reason (a drop that stood before is not counted again)."""
    def dropped(c: Candidate | None) -> str | None:
        return c.reason if c is not None and c.status == "dropped" and c.reason in allowed(QualityDrop) else None

    return Counter(f"refine/{dropped(c)}" for c in candidates
                   if dropped(c) and dropped(c) != dropped(plan.stored.get(c.candidate_id)))


def batches(settings: Settings, todo: list[Candidate]) -> list[list[Candidate]]:
    """Batches of the candidates to refine, a paper's candidates together (so one batch's
    calls share their paper's cached prompts), at most ``refine.candidates_per_task`` each, at
    least one per Dask worker."""
    size = max(1, min(settings.refine.candidates_per_task,
                      -(-len(todo) // max(1, settings.dask_workers))))
    ordered = sorted(todo, key=lambda c: (c.paper_id, c.candidate_id))
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]
