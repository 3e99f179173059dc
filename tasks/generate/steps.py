"""The generation stage's steps: plan the work, run agents 2–6 per batch of papers, validate and
land.

Input: the catalog's ``extractions`` (status ok or partial), ``expressions`` and
``expression_edges`` (named queries ``generation_*``), and each paper's targets
(``tasks.generate.targets``).
Output tables: ``candidates`` (one row per target, written per paper: a paper's rows are
replaced as a whole), ``llm_calls`` (the ledger, one part per paper and run), ``rejects``
(stage ``generation``: a paper whose pipeline raised) and the stage suites'
``validations``/``quarantine``.

``generate_batch`` is a Prefect task per batch of papers on the Dask workers; the LLM calls of a
task run concurrently on one event loop (``tasks.generate.pipeline``), then one Great
Expectations suite per agent stage checks the candidates that reached it.

LaTeX targets the paper's structure answers exactly (a statement and its proof, a formula and the
passage deriving it) are drafted by rules first (``tasks.generate.drafts``): with no LLM endpoint
they end ``drafted``, and the rest ``pending``/``awaiting_llm``; with one, the agents skip the
Query Draft and the Answer Retriever for them and refine and judge the draft.

A candidate never disappears: it ends ``done`` (verdict ``derive``), ``dropped`` (a rule:
``no_answer_in_paper``, ``ungrounded_answer``, ``verdict_define``…), ``failed`` (the LLM call
failed or its reply was unusable: ``invalid_output``, ``llm_call_failed``; the paper ran over its
deadline: ``generation_timeout``) or ``pending``
(``budget_exhausted``: the next run continues it from the cache). A paper generated before from
the same targets, prompts, models, settings and code is skipped (``tasks.io.memo``).
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from toolz import groupby

from tasks.core.handoff import Opaque, stage_task
from tasks.core.records import AgentStage, Candidate, Expression, ExpressionEdge, LLMCall, Reject, allowed
from tasks.core.settings import Settings, describe_error
from tasks.generate.agents.extractor import Target
from tasks.generate.drafts import draft
from tasks.generate.pipeline import TRANSIENT_REASONS, PaperPipeline, PaperWork, new_candidate
from tasks.generate.renderable import unrenderable
from tasks.generate.targets import TargetChoice
from tasks.io.llm import CallTotals, gateway_for
from tasks.io.memo import Memo
from tasks.io.storage import Lake, named_rows, safe_key
from tasks.io.validate import gate, warm_up

GENERATOR_CODE = ("tasks.generate",)
"""The code a paper's candidates depend on (prompts count through the candidate ids)."""
LANDING_THREADS = 8
"""Papers of a task landed at once (each write waits on its fsync or PUT)."""
STAGES = tuple(allowed(AgentStage))
SUITES = {  # suite → the stage a candidate must have reached to be checked by it
    "candidate_targets": "target",
    "candidate_drafts": "query_draft",
    "candidate_answers": "answer_retriever",
    "candidate_contexts": "context_collector",
    "candidate_questions": "question_refiner",
    "candidate_verdicts": "answer_filter",
}


@dataclass
class GeneratedBatch:
    candidates: list[Candidate] = field(default_factory=list)
    calls: list[LLMCall] = field(default_factory=list)
    skipped: int = 0
    """Papers already generated from the same inputs, prompts and models."""
    quarantined: int = 0
    rejects: Counter = field(default_factory=Counter)
    """``rejects`` rows written (papers whose pipeline raised, ``generation/generation_error``, or
    ran over ``generate.paper_deadline_s``, ``generation/generation_timeout``)."""
    budget_exhausted: bool = False


def plan_generation(settings: Settings, paper_ids: list[str] | None = None) -> list[PaperWork]:
    """Papers with extracted expressions (extraction ok or partial), with their math."""
    if paper_ids is not None and not paper_ids:
        return []
    papers = named_rows(settings, "generation_papers", paper_ids=paper_ids)
    if not papers:
        return []
    by_paper = {p["paper_id"]: PaperWork(p["paper_id"], p["extractor"], [], [], p["macros"]) for p in papers}
    for row in named_rows(settings, "generation_expressions", paper_ids=paper_ids):
        by_paper[row["paper_id"]].expressions.append(Expression.model_validate(row))
    for row in named_rows(settings, "generation_edges", paper_ids=paper_ids):
        by_paper[row["paper_id"]].edges.append(ExpressionEdge.model_validate(row))
    return list(by_paper.values())


def plan_jobs(settings: Settings, lake: Lake, works: list[PaperWork], choices: list[TargetChoice], run_id: str,
              force: bool = False) -> tuple[list[list[tuple[PaperWork, list[Target]]]], int]:
    """Generation tasks: at least one per Dask worker, with even shares of targets; papers already
    generated from the same inputs are left out (unless ``force``). Returns (tasks, papers skipped)."""
    by_paper = {w.paper_id: w for w in works}
    memo = Memo(lake, "generated", code=GENERATOR_CODE)
    with_targets = [(by_paper[c.paper_id], c.targets) for c in choices if c.targets]
    todo = with_targets if force else [
        (w, t) for w, t in with_targets if not unchanged(settings, memo, w, t, run_id)]
    n_tasks = max(settings.dask_workers, math.ceil(len(todo) / settings.generate.papers_per_task))
    todo.sort(key=lambda item: -len(item[1]))
    return [todo[i::n_tasks] for i in range(n_tasks) if todo[i::n_tasks]], len(with_targets) - len(todo)


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


def _inputs(candidates: list[Candidate], settings: Settings) -> list:
    """What a paper's candidates were generated from: their ids (paper, target, prompt versions,
    models) and the settings that shape the pipeline."""
    g = settings.generate
    # With or without an LLM: drafts made by the rules alone are refined when an endpoint appears.
    return [sorted(c.candidate_id for c in candidates), g.grounded_threshold, g.draft_batch, g.excerpt_chars,
            "llm" if settings.llm.configured else "rules", g.rules_drafts]


def validate_candidates(lake: Lake, candidates: list[Candidate], run_id: str,
                        part: str) -> tuple[list[Candidate], int]:
    """Run each agent stage's suite on the candidates that reached it; a candidate failing a
    row-level expectation is kept as ``dropped`` with reason ``failed_<suite>`` and quarantined."""
    failed: dict[str, str] = {}
    quarantined = 0
    for suite, stage in SUITES.items():
        rows = [c for c in candidates if STAGES.index(c.stage_reached) >= STAGES.index(stage)]
        outcome = gate(lake, suite, rows, run_id, part)
        passed = {c.candidate_id for c in outcome.passed}
        for c in rows:
            if c.candidate_id not in passed:
                failed.setdefault(c.candidate_id, f"failed_{suite}")
        quarantined += len(outcome.quarantined)
    # a candidate already dropped or failed keeps its first reason; its quarantine rows say the rest
    out = [c.model_copy(update={"status": "dropped", "reason": failed[c.candidate_id]})
           if c.candidate_id in failed and c.status in ("done", "drafted", "pending") else c for c in candidates]
    return out, quarantined


def with_drafts(settings: Settings, work: PaperWork, targets: list[Target],
                candidates: list[Candidate]) -> list[Candidate]:
    """Each candidate with the rules' exact draft where the LaTeX structure gives one
    (``tasks.generate.drafts``): query, question and answer filled, ``drafted_by = rules``."""
    if work.extractor != "latex" or not settings.generate.rules_drafts:
        return candidates
    out = []
    for candidate, target in zip(candidates, targets):
        made = draft(target, work.by_id, work.macro_table)
        if made is None or made.grounded_score < settings.generate.grounded_threshold:
            out.append(candidate)
            continue
        out.append(candidate.model_copy(update={
            "drafted_by": "rules", "stage_reached": "answer_retriever", "query": made.query,
            "question": made.question, "answer": made.answer, "answer_portable": made.answer_portable,
            "answer_evidence": made.answer_evidence,
            "answer_source": made.answer_source, "answer_span": made.answer_span,
            "grounded_score": made.grounded_score, "precondition_exprs": made.precondition_exprs,
            "symbols": made.symbols}))
    return out


def _without_llm(c: Candidate) -> Candidate:
    if c.drafted_by == "rules":
        return c.model_copy(update={"status": "drafted", "reason": None, "stage_reached": "question_refiner"})
    return c.model_copy(update={"status": "pending", "reason": "awaiting_llm"})


def unchanged(settings: Settings, memo: Memo, work: PaperWork, targets: list[Target], run_id: str) -> bool:
    """True when this paper was generated from the same targets, prompts, models, settings and code."""
    candidates = [new_candidate(settings, work, t, run_id) for t in targets]
    return memo.recall(work.paper_id, _inputs(candidates, settings)) is not None


def generate_papers(settings: Settings, lake: Lake, work_targets: list[tuple[PaperWork, list[Target]]],
                    run_id: str, allowance: float | None = None, force: bool = False) -> GeneratedBatch:
    """Agents 2–6 for a batch of papers, then validation (once for the batch: Great Expectations
    costs a fixed few hundred milliseconds per suite run) and landing per paper."""
    out = GeneratedBatch()
    todo = []
    memo = Memo(lake, "generated", code=GENERATOR_CODE)
    for work, targets in work_targets:
        if not force and unchanged(settings, memo, work, targets, run_id):
            out.skipped += 1
            continue
        candidates = [new_candidate(settings, work, t, run_id) for t in targets]
        todo.append((work, targets, with_drafts(settings, work, targets, candidates)))
    if not todo:
        return out

    errors: list[Reject] = []

    async def run() -> list[tuple[str, list[Candidate], list[LLMCall]]]:
        warm = asyncio.create_task(asyncio.to_thread(warm_up))  # no-op on a warm Dask worker
        async with gateway_for(settings, run_id, allowance) as gateway:
            async def one(work: PaperWork, targets: list[Target], candidates: list[Candidate]):
                start = len(gateway.calls)
                deadline = settings.generate.paper_deadline_s
                try:
                    # Generation waits on the network, not on this worker's CPU or memory, so a
                    # deadline on the event loop bounds it; cancelling closes the calls in flight.
                    done = await asyncio.wait_for(PaperPipeline(settings, gateway, work).run(candidates, targets),
                                                  deadline)
                except TimeoutError:
                    errors.append(Reject(run_id=run_id, stage="generation", entity_id=work.paper_id,
                                         reason="generation_timeout",
                                         detail=f"agents 2-6 took over {deadline:g} s for {len(targets)} targets"))
                    done = [c.model_copy(update={"status": "failed", "reason": "generation_timeout"})
                            for c in candidates]
                except Exception as exc:  # recorded; the other papers of the task go on
                    errors.append(Reject(run_id=run_id, stage="generation", entity_id=work.paper_id,
                                         reason="generation_error", detail=describe_error(exc, settings)))
                    done = [c.model_copy(update={"status": "failed", "reason": "generation_error"})
                            for c in candidates]
                # ledger rows of this paper: its own calls (drafts) and its candidates' calls
                ids = {c.candidate_id for c in done} | {work.paper_id}
                return work.paper_id, done, [c for c in gateway.calls[start:] if c.entity_id in ids]
            papers = await asyncio.gather(*(one(*item) for item in todo))
            out.budget_exhausted = gateway.budget.refused > 0
        await warm
        return list(papers)

    if settings.llm.configured:
        papers = asyncio.run(run())
    else:  # the rules' drafts are the output; the rest waits for an endpoint
        papers = [(work.paper_id, [_without_llm(c) for c in candidates], []) for work, _, candidates in todo]
    lake.write_table(Reject, errors, f"generation-{run_id}-{safe_key(todo[0][0].paper_id)}")
    out.rejects.update(f"{r.stage}/{r.reason}" for r in errors)
    candidates = [c.model_copy(update={"transient_failure": c.status == "failed" and c.reason in TRANSIENT_REASONS,
                                       "unrenderable_latex": sorted(set(unrenderable(c.question))
                                                                    | set(unrenderable(c.answer_portable or c.answer)))})
                  for _, done, calls in papers for c in _with_spend(done, calls)]
    candidates, out.quarantined = validate_candidates(lake, candidates, run_id, safe_key(todo[0][0].paper_id))
    by_paper: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_paper.setdefault(c.paper_id, []).append(c)
    def land(paper_id: str, calls: list[LLMCall]) -> None:
        key, rows = safe_key(paper_id), by_paper.get(paper_id, [])
        lake.write_table(LLMCall, calls, f"{run_id}-{key}")
        lake.write_table(Candidate, rows, key, replace_empty=True)
        settled = all((c.status != "pending" or c.reason == "awaiting_llm") and not c.transient_failure for c in rows)
        if settled:  # else the next run goes on
            memo.remember(paper_id, {"candidates": len(rows)}, _inputs(rows, settings))

    # Each write waits on its fsync (or an S3 PUT): a few threads overlap them.
    with ThreadPoolExecutor(LANDING_THREADS) as pool:
        list(pool.map(land, *zip(*[(paper_id, calls) for paper_id, _, calls in papers])))
    out.calls = [c for _, _, calls in papers for c in calls]
    out.candidates = candidates
    return out


@stage_task
def generate_batch(settings: Settings, work_targets: Opaque, run_id: str, allowance: float | None = None,
                   force: bool = False) -> GeneratedBatch:
    """Agents 2–6 for a batch of papers (``work_targets.value``: (PaperWork, targets) pairs)."""
    return generate_papers(settings, Lake.from_settings(settings), work_targets.value, run_id, allowance, force)


def count_reasons(candidates: list[Candidate]) -> Counter:
    return Counter(f"{c.status}/{c.reason}" for c in candidates if c.reason)
