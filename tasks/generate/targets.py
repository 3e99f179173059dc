"""Agent 1, the Math Expression Extractor, for a batch of papers: which expressions become
derivation problems.

Input: ``PaperWork`` (a paper's ``expressions`` and ``expression_edges``). Output: one
``TargetChoice`` per paper (its targets, its LLM calls, and why it has none when it has none);
the calls land in ``llm_calls`` and a paper whose targets could not be chosen is a ``rejects``
row (stage ``targets``: ``invalid_output``, ``llm_call_failed``, ``target_selection_error``).
LaTeX papers need no LLM; a PDF paper's displays are chosen by the model.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from toolz import groupby, partition_all

from tasks.core.handoff import Opaque, stage_task
from tasks.core.records import LLMCall, Reject
from tasks.core.settings import Settings, describe_error
from tasks.generate.agents import extractor
from tasks.generate.agents.extractor import Target
from tasks.generate.pipeline import PaperWork, call_outcome
from tasks.io.llm import Gateway, gateway_for
from tasks.io.storage import Lake, safe_key


@dataclass
class TargetChoice:
    paper_id: str
    targets: list[Target]
    calls: list[LLMCall] = field(default_factory=list)
    reason: str | None = None
    """Why a paper has no (or fewer) targets: ``invalid_output``, ``target_selection_error``…"""
    detail: str | None = None


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
    return [TargetChoice(c.paper_id, c.targets[:taken[c.paper_id]], c.calls, c.reason, c.detail) for c in choices]



# -- agent 1 ----------------------------------------------------------------------------------
async def _choose(settings: Settings, gateway: Gateway | None, work: PaperWork) -> TargetChoice:
    try:
        return await _choose_targets(settings, gateway, work)
    except Exception as exc:  # one paper's surprise must not stop the others
        return TargetChoice(work.paper_id, [], reason="target_selection_error",
                            detail=describe_error(exc, settings))


async def _choose_targets(settings: Settings, gateway: Gateway | None, work: PaperWork) -> TargetChoice:
    limit = settings.generate.targets_per_paper
    if work.extractor == "latex":
        return _or_why(TargetChoice(work.paper_id, extractor.latex_targets(work.expressions, work.edges, limit)),
                       work)
    # a PDF's proved statements (read from its layout) are targets without asking; its displays
    # need the LLM to choose
    proved = [t for t in extractor.latex_targets(work.expressions, work.edges, limit) if t.expr.kind == "statement"]
    displays = [e for e in work.expressions if e.kind == "equation"]
    if not displays and not proved:
        return TargetChoice(work.paper_id, [], reason="no_displays",
                            detail=f"none of the {len(work.expressions)} expressions read from the PDF is a display")
    if gateway is None or not displays or len(proved) >= limit:
        return TargetChoice(work.paper_id, proved[:limit])
    chosen: list[Target] = list(proved)
    for chunk in partition_all(extractor.PDF_DISPLAYS_PER_CALL, displays):
        chunk = list(chunk)
        result = await extractor.AGENT.ask(gateway, settings.llm, work.paper_id,
                                           **extractor.pdf_messages_fields(chunk))
        if not result.ok:
            return TargetChoice(work.paper_id, chosen[:limit], reason=call_outcome(result)[1])
        chosen += extractor.parse_pdf_reply(result.value, chunk)
    return _or_why(TargetChoice(work.paper_id, chosen[:limit]), work)


def _or_why(choice: TargetChoice, work: PaperWork) -> TargetChoice:
    """A paper that yields no target says why (it becomes a ``rejects`` row)."""
    if choice.targets or choice.reason:
        return choice
    how = ("no theorem-like statement with a proof, and no numbered or labelled formula that cites others, sits "
           "in a proof or follows derivation language" if work.extractor == "latex"
           else "the model found no display the paper derives")
    return TargetChoice(choice.paper_id, [], choice.calls, "no_derivable_targets",
                        f"{how} ({len(work.expressions)} expressions)")


def choose_targets(settings: Settings, works: list[PaperWork], run_id: str) -> list[TargetChoice]:
    """Agent 1 for a batch of papers; LaTeX papers need no LLM."""

    async def run() -> list[TargetChoice]:
        gateway = gateway_for(settings, run_id) if settings.llm.configured else None
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


@stage_task
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
