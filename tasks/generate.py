"""The generation stage's tasks: extracted expressions → grounded derivation candidates.

Input: the catalog's ``extractions`` (status ok or partial), ``expressions`` and
``expression_edges``.
Output tables: ``candidates`` (one row per target, written per paper: a paper's rows are
replaced as a whole), ``llm_calls`` (the ledger, one part per paper and run), and the stage
suites' ``validations``/``quarantine``.

Two steps, each a Prefect task per batch of papers on the Dask workers, with the LLM calls of a
task running concurrently on one event loop:

1. ``select_targets``: the Math Expression Extractor (agent 1) per paper.
2. ``generate_batch``: per paper, the Query Draft (agent 2) in batches of targets, then per
   candidate the Answer Retriever and the Context Collector side by side, the groundedness check,
   the Question Refiner and the Answer Filter (agents 3–6), then one Great Expectations suite per
   agent stage.

A candidate never disappears: it ends ``done`` (verdict ``derive``), ``dropped`` (a rule:
``no_answer_in_paper``, ``ungrounded_answer``, ``verdict_define``…), ``failed`` (the LLM call
failed or its reply was unusable: ``invalid_output``, ``llm_call_failed``) or ``pending``
(``budget_exhausted``: the next run continues it from the cache).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from dataclasses import dataclass, field

from prefect import task
from prefect.cache_policies import NO_CACHE
from toolz import groupby, partition_all

from tasks.agents import answer_filter, answer_retriever, context_collector, extractor, query_draft, question_refiner
from tasks.agents.excerpt import appendix_mentions, ground, pieces_for
from tasks.agents.extractor import Target
from tasks.harvest import Opaque, validate_and_record
from tasks.llm import Budget, CallTotals, Gateway, LLMResult
from tasks.models import Candidate, Expression, ExpressionEdge, LLMCall, Reject, stable_id
from tasks.ratelimit import llm_throttle
from tasks.settings import AGENTS, Settings
from tasks.storage import Lake, query_rows, safe_key
from tasks.validate import _context as warm_up_validation

GENERATOR_VERSION = "candidates-1"
"""Bump when the pipeline (not a prompt) changes: every paper is generated again."""
STAGES = ("target", *AGENTS[1:])
SUITES = {  # suite → the stage a candidate must have reached to be checked by it
    "candidate_targets": "target",
    "candidate_drafts": "query_draft",
    "candidate_answers": "answer_retriever",
    "candidate_contexts": "context_collector",
    "candidate_questions": "question_refiner",
    "candidate_verdicts": "answer_filter",
}
FAILED_CALL = {"invalid_output": "invalid_output", "failed": "llm_call_failed"}


@dataclass
class PaperWork:
    """One paper's extracted math, as the agents read it."""

    paper_id: str
    extractor: str
    expressions: list[Expression]
    edges: list[ExpressionEdge]

    @property
    def by_id(self) -> dict[str, Expression]:
        return {e.expr_id: e for e in self.expressions}


@dataclass
class TargetChoice:
    paper_id: str
    targets: list[Target]
    calls: list[LLMCall] = field(default_factory=list)
    reason: str | None = None
    """Why a paper has no (or fewer) targets: ``invalid_output``, ``target_selection_error``…"""
    detail: str | None = None


@dataclass
class GeneratedBatch:
    candidates: list[Candidate] = field(default_factory=list)
    calls: list[LLMCall] = field(default_factory=list)
    skipped: int = 0
    """Papers already generated from the same inputs, prompts and models."""
    quarantined: int = 0
    budget_exhausted: bool = False


def plan_generation(settings: Settings, paper_ids: list[str] | None = None) -> list[PaperWork]:
    """Papers with extracted expressions (extraction ok or partial), with their math."""
    where = "e.status IN ('ok', 'partial') AND e.expressions > 0"
    if paper_ids is not None:
        if not paper_ids:
            return []
        where += " AND e.paper_id IN (" + ", ".join("'" + p.replace("'", "''") + "'" for p in paper_ids) + ")"
    papers = query_rows(settings, f"SELECT paper_id, extractor FROM extractions e WHERE {where} ORDER BY paper_id")
    if not papers:
        return []
    by_paper = {p["paper_id"]: PaperWork(p["paper_id"], p["extractor"], [], []) for p in papers}
    for row in query_rows(settings, f"""
            SELECT x.* FROM expressions x JOIN extractions e USING (paper_id) WHERE {where}
            ORDER BY x.paper_id, x.source_file NULLS LAST, x.char_start NULLS LAST, x.page, x.expr_id"""):
        by_paper[row["paper_id"]].expressions.append(Expression.model_validate(row))
    for row in query_rows(settings, f"""
            SELECT x.* FROM expression_edges x JOIN extractions e USING (paper_id) WHERE {where}"""):
        by_paper[row["paper_id"]].edges.append(ExpressionEdge.model_validate(row))
    return list(by_paper.values())


def plan_jobs(settings: Settings, lake: Lake, works: list[PaperWork], choices: list[TargetChoice], run_id: str,
              force: bool = False) -> tuple[list[list[tuple[PaperWork, list[Target]]]], int]:
    """Generation tasks: at least one per Dask worker, with even shares of targets; papers already
    generated from the same inputs are left out (unless ``force``). Returns (tasks, papers skipped)."""
    by_paper = {w.paper_id: w for w in works}
    with_targets = [(by_paper[c.paper_id], c.targets) for c in choices if c.targets]
    todo = with_targets if force else [
        (w, t) for w, t in with_targets if not unchanged(settings, lake, w, t, run_id)]
    n_tasks = max(settings.dask_workers, math.ceil(len(todo) / settings.generate.papers_per_task))
    todo.sort(key=lambda item: -len(item[1]))
    return [todo[i::n_tasks] for i in range(n_tasks) if todo[i::n_tasks]], len(with_targets) - len(todo)


def cap_targets(choices: list[TargetChoice], target: int) -> list[TargetChoice]:
    """At most ``target`` targets in all, taken round-robin across papers so every paper counts."""
    left, taken = target, {c.paper_id: 0 for c in choices}
    depth = 0
    while left > 0 and any(depth < len(c.targets) for c in choices):
        for choice in choices:
            if left > 0 and depth < len(choice.targets):
                taken[choice.paper_id] += 1
                left -= 1
        depth += 1
    return [TargetChoice(c.paper_id, c.targets[:taken[c.paper_id]], c.calls, c.reason) for c in choices]


# -- step 1: targets ------------------------------------------------------------------------------
async def _choose(settings: Settings, gateway: Gateway | None, work: PaperWork) -> TargetChoice:
    try:
        return await _choose_targets(settings, gateway, work)
    except Exception as exc:  # one paper's surprise must not stop the others
        return TargetChoice(work.paper_id, [], reason="target_selection_error",
                            detail=f"{type(exc).__name__}: {exc}"[:500])


async def _choose_targets(settings: Settings, gateway: Gateway | None, work: PaperWork) -> TargetChoice:
    limit = settings.generate.targets_per_paper
    if work.extractor == "latex":
        return TargetChoice(work.paper_id, extractor.latex_targets(work.expressions, work.edges, limit))
    displays = [e for e in work.expressions if e.kind == "equation"]
    if gateway is None or not displays:
        return TargetChoice(work.paper_id, [], reason=None if displays else "no_displays")
    chosen: list[Target] = []
    for chunk in partition_all(extractor.PDF_DISPLAYS_PER_CALL, displays):
        chunk = list(chunk)
        result = await extractor.AGENT.ask(gateway, settings.llm, work.paper_id,
                                           **extractor.pdf_messages_fields(chunk))
        if not result.ok:
            return TargetChoice(work.paper_id, chosen[:limit], reason=_reason(result)[1])
        chosen += extractor.parse_pdf_reply(result.value, chunk)
    return TargetChoice(work.paper_id, chosen[:limit])


def choose_targets(settings: Settings, works: list[PaperWork], run_id: str) -> list[TargetChoice]:
    """Agent 1 for a batch of papers; LaTeX papers need no LLM."""

    async def run() -> list[TargetChoice]:
        gateway = _gateway(settings, run_id) if settings.llm.configured else None
        try:
            choices = await asyncio.gather(*(_choose(settings, gateway, w) for w in works))
        finally:
            if gateway is not None:
                await gateway.aclose()
        if gateway is not None:
            by_paper = groupby(lambda call: call.entity_id, gateway.calls)
            for choice in choices:
                choice.calls = by_paper.get(choice.paper_id, [])
        return list(choices)

    return asyncio.run(run())


# -- step 2: candidates ---------------------------------------------------------------------------
def _gateway(settings: Settings, run_id: str, allowance: float | None = None) -> Gateway:
    share = max(1, settings.llm.concurrency // max(1, settings.dask_workers))
    return Gateway(settings.llm, Lake.from_settings(settings), run_id, concurrency=share,
                   budget=Budget(allowance if allowance is not None else settings.llm.budget_usd),
                   throttle=llm_throttle(settings))


def _reason(result: LLMResult) -> tuple[str, str]:
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
    candidate_id = stable_id(work.paper_id, expr.expr_id, expr.latex or expr.text, GENERATOR_VERSION,
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
        batches = list(partition_all(self.settings.generate.draft_batch, zip(candidates, targets)))
        drafted = await asyncio.gather(*(self._draft(list(b)) for b in batches))
        return list(await asyncio.gather(*(self._finish(c) for batch in drafted for c in batch)))

    async def _draft(self, batch: list[tuple[Candidate, Target]]) -> list[Candidate]:
        targets = [t for _, t in batch]
        per_target = self.settings.generate.excerpt_chars // max(1, len(targets))
        fields, cited = query_draft.fields(targets, self.by_id, max(600, per_target))
        result = await query_draft.AGENT.ask(self.gateway, self.llm, self.work.paper_id, **fields)
        out = []
        if not result.ok:
            status, reason = _reason(result)
            return [c.model_copy(update={"status": status, "reason": reason}) for c, _ in batch]
        drafts = query_draft.parse(result.value, targets, cited)
        for candidate, target in batch:
            draft = drafts.get(target.expr.expr_id)
            if draft is None:
                out.append(candidate.model_copy(update={"status": "failed", "reason": "missing_from_draft"}))
                continue
            out.append(candidate.model_copy(update={
                "stage_reached": "query_draft", "query": draft.query.strip(),
                "precondition_exprs": draft.preconditions or candidate.precondition_exprs,
                "setting": draft.setting.strip() or None,
                "symbols": "\n".join(s for s in (candidate.symbols, draft.symbols.strip()) if s) or None}))
        return out

    async def _finish(self, c: Candidate) -> Candidate:
        if c.status != "pending" or c.stage_reached != "query_draft":
            return c
        target = self.by_id[c.target_expr]
        pieces = pieces_for(target, self.by_id, c.precondition_exprs,
                            appendix_mentions(target, self.work.expressions),
                            self.settings.generate.excerpt_chars)
        retrieved, collected = await asyncio.gather(
            answer_retriever.AGENT.ask(self.gateway, self.llm, c.candidate_id,
                                       **answer_retriever.fields(c.query, pieces)),
            context_collector.AGENT.ask(self.gateway, self.llm, c.candidate_id,
                                        **context_collector.fields(c.query, pieces)))
        if not retrieved.ok:
            return self._stop(c, *_reason(retrieved))
        answer, cited, location = answer_retriever.parse(retrieved.value, pieces)
        if answer is None:
            return self._stop(c, "dropped", "no_answer_in_paper")
        grounding = ground(answer, pieces, cited.label if cited else None)
        c = c.model_copy(update={"stage_reached": "answer_retriever", "answer": answer, "answer_evidence": location,
                                 "grounded_score": grounding.score, "answer_source": grounding.source,
                                 "answer_span": list(grounding.span) if grounding.span else None})
        if grounding.score < self.settings.generate.grounded_threshold:
            return self._stop(c, "dropped", "ungrounded_answer")
        if not collected.ok:
            return self._stop(c, *_reason(collected))
        passages = [(p, ground(p, pieces).score) for p in context_collector.parse(collected.value)]
        kept = [p for p, score in passages if score >= self.settings.generate.grounded_threshold]
        c = c.model_copy(update={
            "stage_reached": "context_collector", "question_evidence": kept,
            "evidence_grounded": round(sum(s for _, s in passages) / len(passages), 2) if passages else None})
        refined = await question_refiner.AGENT.ask(self.gateway, self.llm, c.candidate_id,
                                                   **question_refiner.fields(c.query, c.setting, c.symbols, kept))
        if not refined.ok:
            return self._stop(c, *_reason(refined))
        question = question_refiner.parse(refined.value)
        if question is None:
            return self._stop(c, "failed", "empty_question")
        c = c.model_copy(update={"stage_reached": "question_refiner", "question": question})
        verdict = await answer_filter.AGENT.ask(self.gateway, self.llm, c.candidate_id,
                                                **answer_filter.fields(question, answer))
        if not verdict.ok:
            return self._stop(c, *_reason(verdict))
        label, rationale, confidence = answer_filter.parse(verdict.value)
        c = c.model_copy(update={"stage_reached": "answer_filter", "verdict": label,
                                 "verdict_rationale": rationale, "verdict_confidence": confidence})
        if label != "derive":
            return self._stop(c, "dropped", f"verdict_{label}")
        return c.model_copy(update={"status": "done", "reason": None})

    @staticmethod
    def _stop(c: Candidate, status: str, reason: str) -> Candidate:
        return c.model_copy(update={"status": status, "reason": reason})


def _with_spend(candidates: list[Candidate], calls: list[LLMCall]) -> list[Candidate]:
    """Each candidate with the tokens and dollars of its own calls (a paper's draft calls, shared
    by its targets, stay on the paper in the ledger)."""
    by_entity = groupby(lambda call: call.entity_id, calls)
    out = []
    for c in candidates:
        totals = CallTotals.of(by_entity.get(c.candidate_id, []))
        out.append(c.model_copy(update={"prompt_tokens": totals.prompt_tokens, "cost_usd": round(totals.cost_usd, 6),
                                        "completion_tokens": totals.completion_tokens}))
    return out


def _fingerprint(candidates: list[Candidate], settings: Settings) -> str:
    g = settings.generate
    return stable_id(*sorted(c.candidate_id for c in candidates), g.grounded_threshold, g.draft_batch,
                     g.excerpt_chars)


def _state(paper_id: str) -> tuple[str, ...]:
    return ("state", "generated", GENERATOR_VERSION, f"{safe_key(paper_id)}.json")


def validate_candidates(lake: Lake, candidates: list[Candidate], run_id: str,
                        part: str) -> tuple[list[Candidate], int]:
    """Run each agent stage's suite on the candidates that reached it; a candidate failing a
    row-level expectation is kept as ``dropped`` with reason ``failed_<suite>`` and quarantined."""
    failed: dict[str, str] = {}
    quarantined = 0
    for suite, stage in SUITES.items():
        rows = [c for c in candidates if STAGES.index(c.stage_reached) >= STAGES.index(stage)]
        outcome = validate_and_record(lake, suite, rows, run_id, part)
        passed = {c.candidate_id for c in outcome.passed}
        for c in rows:
            if c.candidate_id not in passed:
                failed.setdefault(c.candidate_id, f"failed_{suite}")
        quarantined += len(outcome.quarantined)
    # a candidate already dropped or failed keeps its first reason; its quarantine rows say the rest
    out = [c.model_copy(update={"status": "dropped", "reason": failed[c.candidate_id]})
           if c.candidate_id in failed and c.status in ("done", "pending") else c for c in candidates]
    return out, quarantined


def unchanged(settings: Settings, lake: Lake, work: PaperWork, targets: list[Target], run_id: str) -> bool:
    """True when this paper was generated from the same targets, prompts, models and settings."""
    candidates = [new_candidate(settings, work, t, run_id) for t in targets]
    return lake.get_json(*_state(work.paper_id)) == {"fingerprint": _fingerprint(candidates, settings)}


def generate_papers(settings: Settings, lake: Lake, work_targets: list[tuple[PaperWork, list[Target]]],
                    run_id: str, allowance: float | None = None, force: bool = False) -> GeneratedBatch:
    """Agents 2–6 for a batch of papers, then validation (once for the batch: Great Expectations
    costs a fixed few hundred milliseconds per suite run) and landing per paper."""
    out = GeneratedBatch()
    todo = []
    for work, targets in work_targets:
        if not force and unchanged(settings, lake, work, targets, run_id):
            out.skipped += 1
            continue
        todo.append((work, targets, [new_candidate(settings, work, t, run_id) for t in targets]))
    if not todo:
        return out

    errors: list[Reject] = []

    async def run() -> list[tuple[str, list[Candidate], list[LLMCall]]]:
        warm = asyncio.create_task(asyncio.to_thread(warm_up_validation))  # no-op on a warm Dask worker
        async with _gateway(settings, run_id, allowance) as gateway:
            async def one(work: PaperWork, targets: list[Target], candidates: list[Candidate]):
                start = len(gateway.calls)
                try:
                    done = await PaperPipeline(settings, gateway, work).run(candidates, targets)
                except Exception as exc:  # recorded; the other papers of the task go on
                    errors.append(Reject(run_id=run_id, stage="generation", entity_id=work.paper_id,
                                         reason="generation_error", detail=f"{type(exc).__name__}: {exc}"[:500]))
                    done = [c.model_copy(update={"status": "failed", "reason": "generation_error"})
                            for c in candidates]
                # ledger rows of this paper: its own calls (drafts) and its candidates' calls
                ids = {c.candidate_id for c in done} | {work.paper_id}
                return work.paper_id, done, [c for c in gateway.calls[start:] if c.entity_id in ids]
            papers = await asyncio.gather(*(one(*item) for item in todo))
            out.budget_exhausted = gateway.budget.refused > 0
        await warm
        return list(papers)

    papers = asyncio.run(run())
    lake.write_table(Reject, errors, f"generation-{run_id}-{safe_key(todo[0][0].paper_id)}")
    candidates = [c for _, done, calls in papers for c in _with_spend(done, calls)]
    candidates, out.quarantined = validate_candidates(lake, candidates, run_id, safe_key(todo[0][0].paper_id))
    by_paper: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_paper.setdefault(c.paper_id, []).append(c)
    for paper_id, _, calls in papers:
        key, rows = safe_key(paper_id), by_paper.get(paper_id, [])
        lake.write_table(LLMCall, calls, f"{run_id}-{key}")
        lake.write_table(Candidate, rows, key, replace_empty=True)
        if all(c.status != "pending" for c in rows):
            lake.put_json({"fingerprint": _fingerprint(rows, settings)}, *_state(paper_id))
        out.calls += calls
    out.candidates = candidates
    return out


@task(cache_policy=NO_CACHE, retries=0)
def select_targets(settings: Settings, works: Opaque, run_id: str) -> list[TargetChoice]:
    """Agent 1 for a batch of papers (``works.value``: a list of ``PaperWork``)."""
    choices = choose_targets(settings, works.value, run_id)
    record_choices(Lake.from_settings(settings), choices, run_id)
    return choices


def record_choices(lake: Lake, choices: list[TargetChoice], run_id: str) -> None:
    """Land the Extractor's ledger rows, and a ``rejects`` row for each paper it could not read."""
    for choice in choices:
        lake.write_table(LLMCall, choice.calls, f"{run_id}-targets-{safe_key(choice.paper_id)}")
    rejects = [Reject(run_id=run_id, stage="targets", entity_id=c.paper_id, reason=c.reason, detail=c.detail)
               for c in choices if c.reason]
    if rejects:
        lake.write_table(Reject, rejects, f"targets-{run_id}-{safe_key(rejects[0].entity_id)}")


@task(cache_policy=NO_CACHE, retries=0)
def generate_batch(settings: Settings, work_targets: Opaque, run_id: str, allowance: float | None = None,
                   force: bool = False) -> GeneratedBatch:
    """Agents 2–6 for a batch of papers (``work_targets.value``: (PaperWork, targets) pairs)."""
    return generate_papers(settings, Lake.from_settings(settings), work_targets.value, run_id, allowance, force)


def count_reasons(candidates: list[Candidate]) -> Counter:
    return Counter(f"{c.status}/{c.reason}" for c in candidates if c.reason)
