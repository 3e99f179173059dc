"""The evaluation run: every model answers every item in every format, graded and landed.

Input: ``EvalItem`` values (``tasks.evaluate.items``), the models (``evaluate.models`` cards give
each one's endpoint, price and training cutoff), the formats and the samples per item.
Output tables: ``evaluations`` (one row per item, model, format and sample: raw and parsed answer,
grade, tier, tokens, cost), ``llm_calls`` (the models' and the judge's calls) and ``rejects``
(stage ``evaluate``: unusable dataset rows, items a format cannot ask).

How it runs: one asyncio loop; each model has its own gateway (its endpoint, a semaphore of
``evaluate.concurrency``), the judge has one on ``llm.base_url``, and all share one budget. A
derivation is graded by the judge as soon as it arrives; the symbolic checks run after the calls,
one bounded child process each (they must fork from the main thread, not from a busy loop).
Every call goes through the gateway's cache: rerunning an evaluation costs nothing, and a run
stopped by its budget continues where it stopped. Symbolic grades are cached in the lake too
(``cache/symbolic/``, keyed by the target, the final result, the limits and the checker's code).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from tasks.core.equivalence import import_math_verify
from tasks.core.records import EvalFormat, Evaluation, LLMCall, Reject, allowed
from tasks.core.settings import AgentSettings, LLMSettings, Settings
from tasks.evaluate import derivation, judge, multiple_choice, symbolic
from tasks.evaluate.items import EvalItem
from tasks.io.llm import TRUNCATED, Budget, Gateway, LLMResult
from tasks.io.memo import code_fingerprint
from tasks.io.memo import fingerprint as memo_fingerprint
from tasks.io.ratelimit import llm_throttle
from tasks.io.storage import Lake

FORMATS: tuple[str, ...] = tuple(allowed(EvalFormat))
SYMBOLIC_CODE = ("tasks.core.equivalence", "tasks.evaluate.symbolic")
"""The code a symbolic grade depends on: editing it invalidates the cached grades."""
RAW_ANSWER_CHARS = 20_000
"""Longer replies are stored cut to this length (the grade is taken from the whole reply)."""


@dataclass
class EvalRequest:
    eval_id: str
    dataset: str
    items: list[EvalItem]
    models: list[str]
    formats: tuple[str, ...] = FORMATS
    samples: int = 4
    base_url: str | None = None
    """An endpoint for every model of this run (``--base-url``), before ``evaluate.models``."""


@dataclass
class EvalOutcome:
    rows: list[Evaluation] = field(default_factory=list)
    calls: list[LLMCall] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    budget_exhausted: bool = False
    symbolic_seconds: float = 0.0


def model_llm(settings: Settings, model: str, base_url: str | None) -> LLMSettings:
    """The endpoint, key and price a model under evaluation answers with. The platform's key
    (``llm.api_key``) goes only to the platform's endpoint: another endpoint gets the model's own
    key (``evaluate.models.<name>.api_key``) or none."""
    card = settings.evaluate.models.get(model)
    prices = dict(settings.llm.prices)
    if card and card.price:
        prices[model] = card.price
    endpoint = base_url or (card.base_url if card else None) or settings.llm.base_url
    key = card.api_key if card and card.api_key else (
        settings.llm.api_key if endpoint == settings.llm.base_url else None)
    return settings.llm.model_copy(update={"base_url": endpoint, "api_key": key, "prices": prices,
                                           "concurrency": settings.evaluate.concurrency})


def check_request(settings: Settings, request: EvalRequest) -> None:
    """Refuse what would run wrongly: unknown formats, no endpoint, a budget with unpriced models."""
    unknown = set(request.formats) - set(FORMATS)
    if unknown or not request.formats:
        raise ValueError(f"unknown format(s) {sorted(unknown)}; choose from {', '.join(FORMATS)}")
    if not request.models:
        raise ValueError("no model to evaluate: pass --model")
    for model in request.models:
        if not model_llm(settings, model, request.base_url).configured:
            raise ValueError(f"no endpoint for model {model}: pass --base-url, set evaluate.models.{model}.base_url "
                             f"or llm.base_url")
    if "judge" in request.formats and not settings.llm.configured:
        raise ValueError("the judge needs llm.base_url (or leave judge out of --format)")
    if settings.llm.budget_usd is not None:
        unpriced = [m for m in request.models if m not in model_llm(settings, m, request.base_url).prices]
        if "judge" in request.formats and judge_model(settings).model not in settings.llm.prices:
            unpriced.append(judge_model(settings).model)
        if unpriced:
            raise ValueError(f"with a budget every model needs a price: {', '.join(unpriced)} has none; set "
                             f"evaluate.models.<model>.price or llm.prices.<model>")


def judge_model(settings: Settings) -> AgentSettings:
    own = settings.llm.for_agent("judge")
    return own.model_copy(update={"model": settings.evaluate.judge_model or own.model, "temperature": 0.0})


def _row(request: EvalRequest, item: EvalItem, model: str, fmt: str, sample: int, version: str,
         result: LLMResult | None, charge: bool = True, **fields) -> Evaluation:
    """``charge``: the answer's call is counted on this row (one derivation serves the judge and the
    symbolic rows; it is charged once, on the symbolic row when there is one)."""
    call = result.call if result is not None and charge else None
    text = result.value.text if result is not None and result.ok else ""
    fields.setdefault("cache_hit", result.call.cache_hit if result is not None else False)
    return Evaluation(
        eval_id=request.eval_id, dataset=request.dataset, item_id=item.item_id, paper_id=item.paper_id,
        paper_month=item.paper_month, model=model, format=fmt, sample=sample, prompt_version=version,
        raw_answer=text[:RAW_ANSWER_CHARS],
        prompt_tokens=call.prompt_tokens if call else 0, completion_tokens=call.completion_tokens if call else 0,
        cost_usd=call.cost_usd if call else 0.0, **fields)


def _failed(result: LLMResult) -> dict:
    """A call that gave no answer: ``failed`` with its status as the reason, or ``unparsed``
    (``reply_truncated``) for a reply cut at ``max_tokens``; never a wrong answer."""
    if (result.call.error or "").startswith(TRUNCATED):
        return {"grade": "unparsed", "tier": "none", "reason": "reply_truncated"}
    return {"grade": "failed", "tier": "none", "reason": result.call.status}


class Evaluator:
    """One evaluation run's calls: the models' answers and the judge's readings."""

    def __init__(self, settings: Settings, request: EvalRequest, lake: Lake,
                 progress: Callable[[int, int], None] | None = None):
        self.settings, self.request, self.lake = settings, request, lake
        self.progress = progress or (lambda done, total: None)
        self.budget = Budget(settings.llm.budget_usd)
        self.outcome = EvalOutcome()
        self.derivations: list[tuple[EvalItem, str, int, LLMResult]] = []
        self.done = 0
        self.total = 0
        self._targets: dict[str, str | None] = {}

    def _tick(self, calls: int = 1) -> None:
        self.done += calls
        self.progress(self.done, self.total)

    def _jobs(self) -> list[tuple[EvalItem, str, int]]:
        return [(item, fmt, s) for item in self.request.items for fmt in ("mc", "options_only", "derivation")
                for s in range(1, self.request.samples + 1) if self._asks(item, fmt)]

    def _asks(self, item: EvalItem, job: str) -> bool:
        """Whether a job (``mc``, ``options_only`` or ``derivation``: the answer the judge and the
        symbolic check share) is asked of ``item``."""
        if job == "derivation":
            return self._wants(item, "judge") or self._wants(item, "symbolic")
        return self._wants(item, job)

    def _can_ask(self, item: EvalItem, fmt: str) -> bool:
        """Whether ``item`` has what format ``fmt`` needs: options with a key, the paper's answer
        (the judge's reference), a target (the symbolic check's)."""
        if fmt in ("mc", "options_only"):
            return len(item.choices) >= 2 and item.answer_index is not None
        if fmt == "judge":
            return bool(item.answer)
        return self._target(item) is not None

    def _wants(self, item: EvalItem, fmt: str) -> bool:
        return fmt in self.request.formats and self._can_ask(item, fmt)

    def _target(self, item: EvalItem) -> str | None:
        if item.item_id not in self._targets:
            self._targets[item.item_id] = item.target or (symbolic.final_result(item.answer) if item.answer else None)
        return self._targets[item.item_id]

    def _unaskable(self) -> None:
        """A ``rejects`` row for each item a requested format cannot ask (no options, no target…)."""
        wants = {"mc": "no_choices", "options_only": "no_choices", "judge": "no_reference_answer",
                 "symbolic": "no_target"}
        for item in self.request.items:
            for fmt in self.request.formats:
                if not self._can_ask(item, fmt):
                    self.outcome.rejects.append(Reject(run_id=self.request.eval_id, stage=f"evaluate_{fmt}",
                                                       entity_id=item.item_id, reason=wants[fmt]))

    async def run(self) -> EvalOutcome:
        self._unaskable()
        jobs = self._jobs()
        derivations = sum(fmt == "derivation" for _, fmt, _ in jobs)
        judged = 2 * derivations if "judge" in self.request.formats else 0
        self.total = len(self.request.models) * (len(jobs) + judged)
        throttle = llm_throttle(self.settings)
        judge_gateway = (Gateway(self.settings.llm.model_copy(update={"concurrency": self.settings.evaluate.concurrency}),
                                 self.lake, self.request.eval_id, budget=self.budget, throttle=throttle)
                         if "judge" in self.request.formats else None)
        try:
            await asyncio.gather(*(self._model(model, jobs, judge_gateway) for model in self.request.models))
        finally:
            if judge_gateway is not None:
                self.outcome.calls += judge_gateway.calls
                await judge_gateway.aclose()
        self.outcome.budget_exhausted = self.budget.refused > 0
        return self.outcome

    async def _model(self, model: str, jobs: list[tuple[EvalItem, str, int]], judge_gateway: Gateway | None) -> None:
        llm = model_llm(self.settings, model, self.request.base_url)
        async with Gateway(llm, self.lake, self.request.eval_id, budget=self.budget) as gateway:
            answering = AgentSettings(model=model, temperature=self.settings.evaluate.temperature,
                                      max_tokens=self.settings.evaluate.max_tokens)
            try:
                await asyncio.gather(*(self._guarded(gateway, judge_gateway, answering, item, fmt, s)
                                       for item, fmt, s in jobs))
            finally:
                self.outcome.calls += gateway.calls

    async def _guarded(self, gateway: Gateway, judge_gateway: Gateway | None, model: AgentSettings,
                       item: EvalItem, fmt: str, sample: int) -> None:
        """One job; an unexpected error loses that job (a ``rejects`` row), never the run's rows."""
        try:
            await self._answer(gateway, judge_gateway, model, item, fmt, sample)
        except Exception as exc:
            self.outcome.rejects.append(Reject(
                run_id=self.request.eval_id, stage=f"evaluate_{fmt}", entity_id=f"{item.item_id}/{model.model}/{sample}",
                reason="harness_error", detail=f"{type(exc).__name__}: {str(exc)[:300]}"))

    async def _answer(self, gateway: Gateway, judge_gateway: Gateway | None, model: AgentSettings,
                      item: EvalItem, fmt: str, sample: int) -> None:
        rows = self.outcome.rows
        if fmt in ("mc", "options_only"):
            agent = multiple_choice.MC if fmt == "mc" else multiple_choice.OPTIONS_ONLY
            order = multiple_choice.order_for(item, sample)
            expected = multiple_choice.expected_letter(item, order)
            result = await agent.ask_as(gateway, model, item.item_id, sample, **multiple_choice.fields(item, order))
            self._tick()
            if not result.ok:
                rows.append(_row(self.request, item, model.model, fmt, sample, agent.version, result,
                                 expected=expected, choice_order=order, **_failed(result)))
                return
            grade, letter, reason = multiple_choice.grade(result.value.text, expected, len(item.choices))
            rows.append(_row(self.request, item, model.model, fmt, sample, agent.version, result,
                             expected=expected, parsed_answer=letter, grade=grade, tier="letter", reason=reason,
                             choice_order=order))
            return
        agent = derivation.DERIVATION
        result = await agent.ask_as(gateway, model, item.item_id, sample, **derivation.fields(item.question))
        self._tick()
        if self._wants(item, "symbolic"):
            self.derivations.append((item, model.model, sample, result))
        if judge_gateway is None or not self._wants(item, "judge"):
            return
        charge = not self._wants(item, "symbolic")
        if not result.ok:
            rows.append(_row(self.request, item, model.model, "judge", sample, judge.JUDGE.version, result,
                             charge=charge, **_failed(result)))
            self._tick(2)
            return
        grader = judge_model(self.settings)
        readings = await asyncio.gather(*(
            judge.JUDGE.ask_as(judge_gateway, grader, f"{item.item_id}/{model.model}/{sample}",
                               **judge.fields(item.question, item.answer, result.value.text, first))
            for first in (True, False)))
        self._tick(2)
        grader_cost = sum(r.call.cost_usd for r in readings)
        failed = next((r for r in readings if not r.ok), None)
        if failed is not None:
            rows.append(_row(self.request, item, model.model, "judge", sample, judge.JUDGE.version, result,
                             charge=charge, grader_model=grader.model, grader_cost_usd=grader_cost,
                             **_failed(failed)))
            return
        parsed = [judge.parse(r.value) for r in readings]
        grade, means, disagree, reason = judge.combine(parsed[0][0], parsed[1][0])
        rows.append(_row(self.request, item, model.model, "judge", sample, judge.JUDGE.version, result,
                         charge=charge, grade=grade,
                         tier="judge" if grade in ("correct", "incorrect", "undecided") else "none",
                         reason=reason, order_disagreement=disagree, grader_model=grader.model,
                         grader_cost_usd=grader_cost, **means))

    def grade_symbolic(self) -> None:
        """The symbolic check of every derivation (after the calls; see the module docstring).
        A (target, final result) pair is checked once (per run, and across runs through the lake's
        cache): samples and models often reach the same result, and each check is a forked child."""
        checked_pairs: dict[tuple[str, str | None], symbolic.SymbolicGrade] = {}
        code = code_fingerprint(*SYMBOLIC_CODE)
        for item, model, sample, result in self.derivations:
            target = self._target(item)
            if not result.ok:
                self.outcome.rows.append(_row(self.request, item, model, "symbolic", sample,
                                              derivation.DERIVATION.version, result, expected=target,
                                              **_failed(result)))
                continue
            try:
                pair = (target, symbolic.final_result(result.value.text))
                if pair not in checked_pairs:
                    checked_pairs[pair] = self._graded(pair, result.value.text, code)
            except Exception as exc:  # the checker failed in this process: this answer only is lost
                self.outcome.rejects.append(Reject(
                    run_id=self.request.eval_id, stage="evaluate_symbolic", entity_id=f"{item.item_id}/{model}/{sample}",
                    reason="harness_error", detail=f"{type(exc).__name__}: {str(exc)[:300]}"))
                continue
            checked = checked_pairs[pair]
            self.outcome.rows.append(_row(self.request, item, model, "symbolic", sample,
                                          derivation.DERIVATION.version, result, expected=target,
                                          parsed_answer=checked.parsed, grade=checked.grade, tier=checked.tier,
                                          reason=checked.reason))

    def _graded(self, pair: tuple[str, str | None], text: str, code: str) -> symbolic.SymbolicGrade:
        """A pair's grade from the lake's cache (keyed by the pair, the limits and the checker's
        code), else checked now and cached. A timeout is not cached: a rerun may have more time."""
        evaluate = self.settings.evaluate
        key = memo_fingerprint(*pair, evaluate.symbolic_timeout_s, evaluate.symbolic_memory_mb, code)
        where = ("cache", "symbolic", key[:2], f"{key}.json")
        try:
            cached = self.lake.get_json(*where)
        except ValueError:  # an unreadable entry is a miss
            cached = None
        if cached is not None:
            return symbolic.SymbolicGrade(**cached)
        checked = symbolic.grade(pair[0], text, evaluate.symbolic_timeout_s, evaluate.symbolic_memory_mb)
        if checked.reason not in ("verify_timeout", "verify_memory_limit", "verify_crash"):
            self.lake.put_json(dataclasses.asdict(checked), *where)
        return checked


def evaluate(settings: Settings, request: EvalRequest, progress: Callable[[int, int], None] | None = None
             ) -> EvalOutcome:
    """Ask, grade and return every row (the caller validates and lands them)."""
    import time

    check_request(settings, request)
    evaluator = Evaluator(settings, request, Lake.from_settings(settings), progress)
    outcome = asyncio.run(evaluator.run())
    started = time.perf_counter()
    if evaluator.derivations:
        import_math_verify()  # once here: every check forks from this process
    evaluator.grade_symbolic()
    outcome.symbolic_seconds = time.perf_counter() - started
    return outcome
