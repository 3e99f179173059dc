"""Agents 2–6 for one paper: draft, retrieve and collect, ground, refine, filter.

Input: a paper's extracted math (``PaperWork``: ``expressions`` and ``expression_edges`` rows)
and its targets (agent 1). Output columns of ``candidates``, filled in stage by stage:
``query``, ``precondition_exprs``, ``setting``, ``symbols`` (Query Draft); ``answer``,
``answer_evidence``, ``grounded_score``, ``answer_source``, ``answer_span`` (Answer Retriever and
the groundedness check); ``question_evidence``, ``evidence_grounded`` (Context Collector);
``question`` (Question Refiner); ``verdict``, ``verdict_rationale``, ``verdict_confidence``
(Answer Filter); and ``stage_reached``, ``status``, ``reason`` throughout.

The Query Draft takes a batch of targets per call; then, per candidate, the Answer Retriever and
the Context Collector run side by side, and the Question Refiner and the Answer Filter follow.
Every call of a paper goes through the gateway its task shares, concurrently.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from toolz import partition_all

from tasks.core.records import Candidate, Expression, ExpressionEdge, stable_id
from tasks.core.settings import AGENTS, Settings
from tasks.documents.latex_macros import MacroTable
from tasks.generate.agents import (
    answer_filter,
    answer_retriever,
    context_collector,
    extractor,
    query_draft,
    question_refiner,
)
from tasks.generate.agents.excerpt import appendix_mentions, ground, pieces_for
from tasks.generate.agents.extractor import Target
from tasks.io.llm import Gateway, LLMResult

ID_SCHEME = "candidates-1"
"""Part of every candidate id (it was the pipeline's version string). Never change it: expert
reviews are keyed by candidate id. Code changes re-run generation through ``tasks.io.memo``
and update candidates in place."""
FAILED_CALL = {"invalid_output": "invalid_output", "failed": "llm_call_failed"}
TRANSIENT_REASONS = frozenset({"llm_call_failed", "generation_timeout"})
"""Failures the next run retries: the gateway caches answers, never transport failures."""


@dataclass
class PaperWork:
    """One paper's extracted math, as the agents read it."""

    paper_id: str
    extractor: str
    expressions: list[Expression]
    edges: list[ExpressionEdge]
    macros: str | None = None
    """The paper's user macros as its extraction stored them (``extractions.macros``)."""
    _macro_table: MacroTable | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def macro_table(self) -> MacroTable:
        """The macros, read once per paper where they are used (a Dask worker, not the planner)."""
        if self._macro_table is None:
            self._macro_table = MacroTable.from_json(self.macros)
        return self._macro_table

    @property
    def by_id(self) -> dict[str, Expression]:
        return {e.expr_id: e for e in self.expressions}


def call_outcome(result: LLMResult) -> tuple[str, str]:
    """(status, reason) for a candidate whose call gave nothing usable."""
    if result.call.status == "budget_exhausted":
        return "pending", "budget_exhausted"
    return "failed", FAILED_CALL.get(result.call.status, "llm_call_failed")


AGENT_MODULES = (extractor, query_draft, answer_retriever, context_collector, question_refiner, answer_filter)


def prompt_versions() -> dict[str, str]:
    return {module.AGENT.name: module.AGENT.version for module in AGENT_MODULES}


def new_candidate(settings: Settings, work: PaperWork, target: Target, run_id: str) -> Candidate:
    versions = prompt_versions()
    models = {a: settings.llm.for_agent(a).model for a in AGENTS}
    expr = target.expr
    candidate_id = stable_id(work.paper_id, expr.expr_id, expr.latex or expr.text, ID_SCHEME,
                             json.dumps(versions, sort_keys=True), json.dumps(models, sort_keys=True))
    return Candidate(candidate_id=candidate_id, paper_id=work.paper_id, target_expr=expr.expr_id,
                     target_kind=expr.kind, target_number=expr.number, target_latex=expr.latex or expr.text,
                     precondition_exprs=target.preconditions, symbols=target.definitions,
                     prompt_versions=versions, models=models, run_id=run_id)


class PaperPipeline:
    """Agents 2–6 for one paper's targets, on a gateway shared by the task's papers."""

    def __init__(self, settings: Settings, gateway: Gateway, work: PaperWork):
        self.settings, self.gateway, self.work = settings, gateway, work
        self.by_id = work.by_id
        self.llm = settings.llm

    async def run(self, candidates: list[Candidate], targets: list[Target]) -> list[Candidate]:
        # Targets the rules drafted exactly need no Query Draft: only the others are batched.
        ruled = [c for c in candidates if c.drafted_by == "rules"]
        open_ = [(c, t) for c, t in zip(candidates, targets) if c.drafted_by != "rules"]
        batches = list(partition_all(self.settings.generate.draft_batch, open_))
        drafted = await asyncio.gather(*(self._draft(list(b)) for b in batches))
        finished = await asyncio.gather(*(self._finish(c) for c in [*ruled, *(c for b in drafted for c in b)]))
        by_id = {c.candidate_id: c for c in finished}
        return [by_id[c.candidate_id] for c in candidates]  # in the targets' order

    async def _draft(self, batch: list[tuple[Candidate, Target]]) -> list[Candidate]:
        targets = [t for _, t in batch]
        per_target = self.settings.generate.excerpt_chars // max(1, len(targets))
        fields, cited = query_draft.fields(targets, self.by_id, max(600, per_target))
        result = await query_draft.AGENT.ask(self.gateway, self.llm, self.work.paper_id, **fields)
        out = []
        if not result.ok:
            status, reason = call_outcome(result)
            return [c.model_copy(update={"status": status, "reason": reason}) for c, _ in batch]
        drafts = query_draft.parse(result.value, targets, cited)
        for candidate, target in batch:
            draft = drafts.get(target.expr.expr_id)
            if draft is None:
                out.append(candidate.model_copy(update={"status": "failed", "reason": "missing_from_draft"}))
                continue
            out.append(candidate.model_copy(update={
                "stage_reached": "query_draft", "query": draft.query.strip(), "drafted_by": "llm",
                "precondition_exprs": draft.preconditions or candidate.precondition_exprs,
                "setting": draft.setting.strip() or None,
                "symbols": "\n".join(s for s in (candidate.symbols, draft.symbols.strip()) if s) or None}))
        return out

    async def _finish(self, c: Candidate) -> Candidate:
        if c.status != "pending" or c.stage_reached not in ("query_draft", "answer_retriever"):
            return c
        target = self.by_id[c.target_expr]
        pieces = pieces_for(target, self.by_id, c.precondition_exprs,
                            appendix_mentions(target, self.work.expressions),
                            self.settings.generate.excerpt_chars)
        collecting = context_collector.AGENT.ask(self.gateway, self.llm, c.candidate_id,
                                                 **context_collector.fields(c.query, pieces))
        if c.stage_reached == "answer_retriever":  # drafted by the rules: the answer is the paper's, exactly
            collected = await collecting
            answer = c.answer
        else:
            retrieved, collected = await asyncio.gather(
                answer_retriever.AGENT.ask(self.gateway, self.llm, c.candidate_id,
                                           **answer_retriever.fields(c.query, pieces)), collecting)
            if not retrieved.ok:
                return self._stop(c, *call_outcome(retrieved))
            answer, cited, location = answer_retriever.parse(retrieved.value, pieces)
            if answer is None:
                return self._stop(c, "dropped", "no_answer_in_paper")
            grounding = ground(answer, pieces, cited.label if cited else None)
            c = c.model_copy(update={"stage_reached": "answer_retriever", "answer": answer,
                                     "answer_evidence": location, "grounded_score": grounding.score,
                                     "answer_source": grounding.source,
                                     "answer_span": list(grounding.span) if grounding.span else None})
            if grounding.score < self.settings.generate.grounded_threshold:
                return self._stop(c, "dropped", "ungrounded_answer")
        if not collected.ok:
            return self._stop(c, *call_outcome(collected))
        passages = [(p, ground(p, pieces).score) for p in context_collector.parse(collected.value)]
        kept = [p for p, score in passages if score >= self.settings.generate.grounded_threshold]
        c = c.model_copy(update={
            "stage_reached": "context_collector", "question_evidence": kept,
            "evidence_grounded": round(sum(s for _, s in passages) / len(passages), 2) if passages else None})
        refined = await question_refiner.AGENT.ask(self.gateway, self.llm, c.candidate_id,
                                                   **question_refiner.fields(c.query, c.setting, c.symbols, kept))
        if not refined.ok:
            return self._stop(c, *call_outcome(refined))
        question = question_refiner.parse(refined.value)
        if question is None:
            return self._stop(c, "failed", "empty_question")
        c = c.model_copy(update={"stage_reached": "question_refiner", "question": question})
        verdict = await answer_filter.AGENT.ask(self.gateway, self.llm, c.candidate_id,
                                                **answer_filter.fields(question, answer))
        if not verdict.ok:
            return self._stop(c, *call_outcome(verdict))
        label, rationale, confidence = answer_filter.parse(verdict.value)
        c = c.model_copy(update={"stage_reached": "answer_filter", "verdict": label,
                                 "verdict_rationale": rationale, "verdict_confidence": confidence})
        if label != "derive":
            return self._stop(c, "dropped", f"verdict_{label}")
        return c.model_copy(update={"status": "done", "reason": None})

    @staticmethod
    def _stop(c: Candidate, status: str, reason: str) -> Candidate:
        return c.model_copy(update={"status": status, "reason": reason})
