"""Stages 1–4 for a batch of candidates, on one gateway: score, review → revise, solve and jointly
score, every call of a phase concurrent.

Input: ``candidates`` rows (status ``done`` or ``drafted``) that no near-duplicate or
contamination check dropped.
Output: ``quality_scores``, ``question_revisions`` and ``solutions`` rows; each candidate with
``revised_question`` and, below the floor, ``status = dropped``/``low_quality_score``; and
``rejects`` (stage ``refine``) for calls that gave nothing usable (``invalid_output``,
``llm_call_failed``, ``budget_exhausted``) or scores outside their range
(``score_out_of_range``): such a candidate keeps its status and is ranked without that score.

The review → revise rounds run in lockstep across the batch: every open question is reviewed at
once, then every question below the bar is revised at once, then the revisions are checked (a
symbolic check forks a child process: it runs between the concurrent phases, not inside them).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tasks.core.equivalence import Comparison, same_result
from tasks.core.records import Candidate, QualityScore, QuestionRevision, Reject, Solution
from tasks.core.settings import Settings
from tasks.io.llm import Gateway, LLMResult
from tasks.refine import candidate_scorer, joint_scorer, question_review, solver
from tasks.refine.scores import mean, score_rows

AGENTS = (candidate_scorer.AGENT, question_review.REVIEWER, question_review.REVISER, solver.AGENT,
          joint_scorer.AGENT)
AGENT_NAMES: tuple[str, ...] = tuple(a.name for a in AGENTS)
FAILED_CALL = {"invalid_output": "invalid_output", "failed": "llm_call_failed",
               "budget_exhausted": "budget_exhausted"}
TRANSIENT = frozenset({"llm_call_failed", "budget_exhausted"})
"""Failures the next run retries (the gateway caches answers, never transport failures)."""


@dataclass
class Refined:
    candidates: list[Candidate] = field(default_factory=list)
    scores: list[QualityScore] = field(default_factory=list)
    revisions: list[QuestionRevision] = field(default_factory=list)
    solutions: list[Solution] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    transient: set[str] = field(default_factory=set)
    """Candidates with a call the next run should retry: not marked refined."""


class BatchRefiner:
    def __init__(self, settings: Settings, gateway: Gateway, run_id: str):
        self.settings, self.gateway, self.run_id = settings, gateway, run_id
        self.refine, self.llm = settings.refine, settings.llm
        self.out = Refined()

    def _failed(self, c: Candidate, stage: str, result: LLMResult | None = None, reason: str | None = None,
                detail: str = "") -> None:
        reason = reason or FAILED_CALL.get(result.call.status, "llm_call_failed")
        if reason in TRANSIENT:
            self.out.transient.add(c.candidate_id)
        self.out.rejects.append(Reject(run_id=self.run_id, stage="refine", entity_id=c.candidate_id,
                                       reason=reason, detail=f"{stage}: {detail or (result.call.error if result else '')}"
                                       [:500]))

    async def run(self, candidates: list[Candidate]) -> Refined:
        kept, below_floor = await self._score(candidates)
        questions = await self._review_and_revise(kept)
        await self._solve_and_judge(kept, questions)
        by_id = {c.candidate_id: c for c in candidates}
        for candidate_id in below_floor:
            by_id[candidate_id] = by_id[candidate_id].model_copy(update={
                "status": "dropped", "reason": "low_quality_score"})
        for c in kept:
            question = questions[c.candidate_id]
            by_id[c.candidate_id] = by_id[c.candidate_id].model_copy(update={
                "revised_question": question if question != (c.question or "") else None})
        self.out.candidates = [by_id[c.candidate_id] for c in candidates]
        return self.out

    async def _score(self, candidates: list[Candidate]) -> tuple[list[Candidate], set[str]]:
        """Stage 1: the seed scores of generation's question (as the screens read it, so a rerun
        scores the same text). Returns the candidates that go on and the ids below the floor."""
        model = self.llm.for_agent(candidate_scorer.AGENT.name).model
        results = await asyncio.gather(*(
            candidate_scorer.AGENT.ask(self.gateway, self.llm, c.candidate_id,
                                       **candidate_scorer.fields(c.question or "", c.answer or ""))
            for c in candidates))
        kept, below_floor = [], set()
        for c, result in zip(candidates, results):
            if not result.ok:
                self._failed(c, "candidate_score", result)
                kept.append(c)  # unscored, not dropped: ranked after the scored ones
                continue
            rows, stray = score_rows(c.candidate_id, candidate_scorer.STAGE, result.value,
                                     tuple(type(result.value).model_fields), candidate_scorer.LOW,
                                     candidate_scorer.HIGH, model, self.run_id)
            self.out.scores += rows
            if stray:
                self._failed(c, "candidate_score", reason=stray, detail=", ".join(f"{r.criterion}={r.score:g}"
                                                                                  for r in rows))
                kept.append(c)
            elif mean(rows) < self.refine.score_floor:
                below_floor.add(c.candidate_id)
            else:
                kept.append(c)
        return kept, below_floor

    async def _review_and_revise(self, candidates: list[Candidate]) -> dict[str, str]:
        """Stage 2: review → revise rounds in lockstep; returns each candidate's final question."""
        current = {c.candidate_id: c.question or "" for c in candidates}
        rounds = {c.candidate_id: 0 for c in candidates}
        latest: dict[str, QuestionRevision] = {}
        for c in candidates:
            latest[c.candidate_id] = QuestionRevision(candidate_id=c.candidate_id, round=0, question=current[
                c.candidate_id], outcome="original", run_id=self.run_id)
        open_ = list(candidates)
        while open_:
            reviews = await asyncio.gather(*(
                question_review.REVIEWER.ask(self.gateway, self.llm, c.candidate_id,
                                             **question_review.review_fields(current[c.candidate_id], c.target_latex))
                for c in open_))
            to_revise = []
            for c, result in zip(open_, reviews):
                row = latest[c.candidate_id]
                if not result.ok:
                    self._failed(c, "question_review", result)
                    continue
                scores, stray = question_review.review_scores(result.value)
                latest[c.candidate_id] = row.model_copy(update={
                    **scores, "review_score": round(sum(scores.values()) / len(scores), 3),
                    "review_comment": result.value.comment.strip()})
                if stray:
                    self._failed(c, "question_review", reason=stray, detail=str(scores))
                elif (latest[c.candidate_id].review_score < self.refine.review_bar
                      and rounds[c.candidate_id] < self.refine.revise_rounds):
                    to_revise.append(c)
            revisions = await asyncio.gather(*(
                question_review.REVISER.ask(self.gateway, self.llm, c.candidate_id, **question_review.revise_fields(
                    current[c.candidate_id], latest[c.candidate_id].review_comment, c.target_latex,
                    c.question_evidence)) for c in to_revise))
            open_ = []
            for c, result in zip(to_revise, revisions):
                cid = c.candidate_id
                if not result.ok:  # the reject says why; the question stays as reviewed
                    self._failed(c, "question_revise", result)
                    continue
                self.out.revisions.append(latest[cid])  # its review is complete: the next round begins
                rounds[cid] += 1
                revised = result.value.question.strip()
                why = question_review.changed_math(current[cid], revised, self.refine.verify_timeout_s)
                latest[cid] = QuestionRevision(candidate_id=cid, round=rounds[cid], question=revised,
                                               outcome="refused" if why else "accepted", reason=why,
                                               run_id=self.run_id)
                if why is None:  # the accepted revision is reviewed in the next round
                    current[cid] = revised
                    open_.append(c)
        self.out.revisions += latest.values()  # each candidate's last round (earlier ones went out as superseded)
        return current

    async def _solve_and_judge(self, candidates: list[Candidate], questions: dict[str, str]) -> None:
        """Stages 3 and 4 side by side: solver samples and the joint score."""
        samples = self.refine.solve_samples
        solving = asyncio.gather(*(
            solver.AGENT.ask(self.gateway, self.llm, c.candidate_id,
                             **solver.fields(questions[c.candidate_id], i + 1))
            for c in candidates for i in range(samples)))
        judging = asyncio.gather(*(
            joint_scorer.AGENT.ask(self.gateway, self.llm, c.candidate_id,
                                   **joint_scorer.fields(questions[c.candidate_id], c.answer or ""))
            for c in candidates))
        solved, judged = await asyncio.gather(solving, judging)
        solver_model = self.llm.for_agent(solver.AGENT.name).model
        for n, result in enumerate(solved):
            c, sample = candidates[n // samples], n % samples + 1
            if not result.ok:
                self._failed(c, "solve", result)
                continue
            final = solver.final_formula(result.value)
            if c.target_kind != "equation":  # a theorem's statement has no single formula to match
                comparison = Comparison(None, "none", "statement_target")
            else:
                comparison = same_result(c.target_latex, final, self.refine.verify_timeout_s)
            self.out.solutions.append(solver.solution_row(c.candidate_id, sample, result.value, final, comparison,
                                                          solver_model, self.run_id))
        joint_model = self.llm.for_agent(joint_scorer.AGENT.name).model
        for c, result in zip(candidates, judged):
            if not result.ok:
                self._failed(c, "joint_score", result)
                continue
            rows, stray = score_rows(c.candidate_id, joint_scorer.STAGE, result.value,
                                     tuple(type(result.value).model_fields), joint_scorer.LOW, joint_scorer.HIGH,
                                     joint_model, self.run_id)
            self.out.scores += rows
            if stray:
                self._failed(c, "joint_score", reason=stray, detail=", ".join(f"{r.criterion}={r.score:g}"
                                                                              for r in rows))
