"""The LLM gateway (``tasks.io.llm``, the only package that imports ``openai``).

``Gateway.call`` sends one agent's messages to an OpenAI-compatible endpoint and returns the
parsed pydantic response, or a status saying why there is none. It never raises for anything the
endpoint or the model does.

- **Structured output, three ways.** Servers differ: OpenAI and vLLM take
  ``response_format: json_schema``; llama.cpp's server answers that with HTTP 500 but takes
  ``json_object`` with a ``schema``; some take neither. The gateway starts with ``json_schema`` and
  steps down per model only on an answer about the format (a 400/422 naming the format or schema,
  a 5xx naming ``response_format``), remembers the mode that worked, and every ``PROBE_EVERY``
  calls tries the mode above again; an ordinary 5xx is an outage, retried in the same mode. Every prompt also states the schema, so plain text works. A reply that does
  not parse is repaired (code fences, trailing commas — ``json_repair``), then asked again once
  with the validation error (not when it was cut at ``max_tokens``: it would be cut again), and
  then recorded as ``invalid_output``.
- **Retries** (tenacity) on 429 — honouring ``Retry-After`` — 5xx, timeouts and connection
  errors, with jittered exponential backoff.
- **Limits.** ``llm.concurrency`` bounds the calls in flight of the whole run: on Dask workers the
  run's tasks share it through leases on the scheduler (``tasks.io.llm.limit``), elsewhere a
  semaphore holds it; requests and tokens per minute go through Prefect rate limits, shared by
  every Dask worker.
- **Cache** (``tasks.io.llm.cache``). Content-addressed in the lake (``cache/llm/``): the key
  hashes the model, the rendered messages, the response schema, the sampling parameters and the
  prompt version. A hit costs nothing and makes no request, so an unchanged rerun, or the rerun
  of a killed run, repeats no call that completed. Parsed and invalid outputs are both cached (the
  model gave its answer); transport failures are not (the next run tries again). Lookups are
  in memory and writes are appends: no file system work and no thread hop per call.
- **Lean requests.** The request body is serialised here (the part that depends only on the
  model, the mode and the sampling once per combination) and sent through the SDK's ``post``
  with ``cast_to=object``: the SDK's walk over every message and the schema to build the body,
  and its pydantic model of the reply, cost more than the rest of a call's client CPU.
- **Ledger.** One ``LLMCall`` row per call: tokens, cost from the price table, latency, cache hit,
  status, error. ``Budget`` refuses to start a call whose worst-case cost would pass the
  allowance: the call is recorded as ``budget_exhausted`` and the run can be resumed later.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar

import openai
from json_repair import repair_json
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from tasks.core.records import LLMCall, stable_id
from tasks.core.settings import AgentSettings, LLMSettings, Price, Settings, redact, reveal
from tasks.io.llm.cache import AnswerCache
from tasks.io.llm.limit import LeasePool, LocalLimit, run_limit
from tasks.io.ratelimit import llm_throttle
from tasks.io.storage import Lake

T = TypeVar("T", bound=BaseModel)

OUTPUT_MODES = ("json_schema", "json_object", "text")
PROBE_EVERY = 200
"""Calls in a stepped-down mode before the mode above it is tried again."""
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
TRUNCATED = "reply cut at max_tokens"
"""The error of a reply the endpoint cut at ``max_tokens`` (``finish_reason: length``)."""
CHARS_PER_TOKEN = 4
"""For estimates before a call (budget, token rate limit); the ledger uses the server's counts."""


class PlainText(BaseModel):
    """A free-form reply: what a model under evaluation writes. No structured output is asked
    for (the model answers as it would for a user) and any non-empty reply is accepted; reading
    a letter or a formula out of it is the grader's job."""

    text: str


@dataclass
class LLMResult(Generic[T]):
    value: T | None
    call: LLMCall

    @property
    def ok(self) -> bool:
        return self.value is not None


class Budget:
    """A spending allowance in US dollars for one process's calls.

    ``reserve`` books a call's worst case (its prompt and ``max_tokens`` of completion) before
    it is sent, ``settle`` replaces that with the real cost, so calls in flight can never take
    the total past the allowance.
    """

    def __init__(self, allowance_usd: float | None):
        self.allowance_usd = allowance_usd
        self.spent_usd = 0.0
        self._reserved = 0.0
        self.refused = 0

    def reserve(self, worst_case_usd: float) -> bool:
        if self.allowance_usd is not None and \
                self.spent_usd + self._reserved + worst_case_usd > self.allowance_usd + 1e-12:
            self.refused += 1
            return False
        self._reserved += worst_case_usd
        return True

    def settle(self, worst_case_usd: float, actual_usd: float) -> None:
        self._reserved -= worst_case_usd
        self.spent_usd += actual_usd


def price_of(prices: dict[str, Price], model: str, prompt_tokens: int, completion_tokens: int) -> float:
    price = prices.get(model)
    if price is None:
        return 0.0
    return (prompt_tokens * price.prompt + completion_tokens * price.completion) / 1_000_000


def cache_key(model: str, messages: list[dict[str, str]], schema: dict[str, Any],
              sampling: dict[str, Any], prompt_version: str) -> str:
    payload = json.dumps({"model": model, "messages": messages, "schema": schema, "sampling": sampling,
                          "prompt_version": prompt_version}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def parse_reply(content: str | None, response_model: type[T], repair: bool = True) -> tuple[T | None, str | None]:
    """The reply as ``response_model``, repairing what JSON repair can; else ``(None, error)``.

    ``repair=False`` for a reply cut at ``max_tokens``: JSON repair would close it and quietly
    keep half a list or half an answer.
    """
    if not content or not content.strip():
        return None, "empty reply"
    if response_model is PlainText:
        return PlainText(text=content), None
    try:
        return response_model.model_validate_json(content), None
    except ValidationError as exc:
        error = _short(exc)
    if not repair:
        return None, error
    text = content.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1)
    start = text.find("{")
    if start < 0:
        return None, f"no JSON object in reply: {error}"
    try:
        repaired = repair_json(text[start:], return_objects=True)
        return response_model.model_validate(repaired), None
    except (ValidationError, ValueError, TypeError) as exc:
        return None, _short(exc)


@lru_cache(maxsize=64)
def _schema(response_model: type[BaseModel]) -> dict[str, Any]:
    """The response model's JSON schema (pydantic builds it in about a millisecond: once per model)."""
    return response_model.model_json_schema()


def _text_of(content: Any) -> str | None:
    """A message's text: a string, or the text parts of a list of parts (some servers answer so)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "".join(parts) if parts else None
    return None


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def describe_failure(exc: BaseException, secrets: list[str | None]) -> str:
    """A failed call as it is stored: the error class, HTTP status and error code, then the
    message with every secret the settings hold (and key-like shapes) redacted."""
    status, code = getattr(exc, "status_code", None), getattr(exc, "code", None)
    head = type(exc).__name__ + (f" status={status}" if status else "") + (f" code={code}" if code else "")
    message = getattr(exc, "message", None) or str(exc)
    return redact(f"{head}: {message}", secrets)[:500]


def _status_of(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    return _status_of(exc) in RETRYABLE_STATUS


def _retry_after(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome else None
    response = getattr(exc, "response", None)
    if response is None:
        return None
    value = response.headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to backoff


class _ModeRejected(Exception):
    """The server refused this structured-output mode; try the next one."""


class Gateway:
    """One process's connection to the LLM endpoint. Build it inside the worker's event loop."""

    def __init__(self, settings: LLMSettings, lake: Lake, run_id: str, *, concurrency: int | None = None,
                 budget: Budget | None = None,
                 throttle: Callable[[int], Awaitable[None]] | None = None,
                 limit: LocalLimit | LeasePool | None = None):
        if not settings.configured:
            raise ValueError("no LLM endpoint configured (set llm.base_url)")
        self.settings = settings
        self.lake = lake
        self.run_id = run_id
        self.budget = budget or Budget(settings.budget_usd)
        self.throttle = throttle
        self.calls: list[LLMCall] = []
        self.cache = AnswerCache(lake)
        self._bodies: dict[tuple, bytes] = {}
        self.limit = limit or LocalLimit(max(1, concurrency or settings.concurrency))
        self._modes: dict[str, int] = {}
        self._calls_in_mode: dict[str, int] = {}
        self._inflight: dict[str, asyncio.Future] = {}
        api_key = reveal(settings.api_key)
        self._secrets = [api_key]  # redacted from every error this gateway stores
        self._client = openai.AsyncOpenAI(
            base_url=settings.base_url, api_key=api_key or "not-needed",
            timeout=settings.timeout_s, max_retries=0)  # retries are ours: they honour the ledger

    async def aclose(self) -> None:
        try:
            await self.cache.aclose()
        finally:
            await self.limit.aclose()
            await self._client.close()

    async def __aenter__(self) -> "Gateway":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the one public call ---------------------------------------------------------------
    async def call(self, stage: str, entity_id: str, messages: list[dict[str, str]],
                   response_model: type[T], prompt_version: str,
                   agent: AgentSettings, sample: int = 0, per_endpoint: bool = False) -> LLMResult[T]:
        """``sample``: the k-th independent answer to the same messages (evaluation draws several
        at a temperature above 0); ``per_endpoint``: the answer belongs to this endpoint (a model
        under evaluation: two servers may serve different weights under one name). Both go into
        the cache key, never into the request."""
        schema = _schema(response_model)
        sampling = {"temperature": agent.temperature, "max_tokens": agent.max_tokens}
        if sample:
            sampling["sample"] = sample
        if per_endpoint:
            sampling["endpoint"] = self.settings.base_url
        key = cache_key(agent.model, messages, schema, sampling, prompt_version)
        row = dict(call_id=stable_id(key, self.run_id, stage, entity_id), run_id=self.run_id, stage=stage,
                   entity_id=entity_id, model=agent.model, cache_key=key, prompt_version=prompt_version)

        if key in self._inflight:  # the same request already on its way (identical passages): share it
            await asyncio.shield(self._inflight[key])
        cached = await self.cache.get(key)
        if cached is not None:
            content = cached.get("content") if isinstance(cached.get("content"), str) else None
            value = parse_reply(content, response_model)[0] if content is not None else None
            error = None if value is not None else cached.get("error") or "invalid output (cached)"
            return self._record(LLMResult(value, LLMCall(
                **row, cache_hit=True, output_mode=cached.get("mode"),
                status="ok" if value is not None else "invalid_output", error=error)))

        done = self._inflight.setdefault(key, asyncio.get_running_loop().create_future())
        try:
            return await self._send(row, key, messages, schema, response_model, agent)
        finally:
            self._inflight.pop(key, None)
            if not done.done():
                done.set_result(None)

    async def _send(self, row, key, messages, schema, response_model, agent) -> LLMResult:
        prompt_estimate = sum(len(m["content"]) for m in messages) // CHARS_PER_TOKEN
        worst_case = price_of(self.settings.prices, agent.model, prompt_estimate, agent.max_tokens)
        if not self.budget.reserve(worst_case):
            return self._record(LLMResult(None, LLMCall(**row, status="budget_exhausted",
                                                        error="budget allowance reached")))
        started = time.perf_counter()
        usage = [0, 0]
        attempts = [0]
        try:
            async with self.limit:
                if self.throttle is not None:
                    await self.throttle(prompt_estimate + agent.max_tokens)
                content, mode, error = await self._complete(messages, schema, response_model, agent,
                                                            usage, attempts)
        except Exception as exc:  # transport failure after every retry: not cached, retried next run
            cost = price_of(self.settings.prices, agent.model, *usage)
            self.budget.settle(worst_case, cost)
            return self._record(LLMResult(None, LLMCall(
                **row, prompt_tokens=usage[0], completion_tokens=usage[1], cost_usd=cost,
                latency_ms=round((time.perf_counter() - started) * 1000, 1), attempts=attempts[0],
                status="failed", error=describe_failure(exc, self._secrets))))
        cost = price_of(self.settings.prices, agent.model, *usage)
        self.budget.settle(worst_case, cost)
        self.cache.put(key, content, error, mode, agent.model)
        value = parse_reply(content, response_model)[0] if content is not None else None
        return self._record(LLMResult(value, LLMCall(
            **row, prompt_tokens=usage[0], completion_tokens=usage[1], cost_usd=cost,
            latency_ms=round((time.perf_counter() - started) * 1000, 1), attempts=attempts[0],
            output_mode=mode, status="ok" if value is not None else "invalid_output", error=error)))

    # -- internals -------------------------------------------------------------------------------
    def _record(self, result: LLMResult) -> LLMResult:
        self.calls.append(result.call)
        return result

    async def _complete(self, messages, schema, response_model, agent, usage, attempts):
        """Ask, and ask again once if the reply does not validate.

        Returns (a reply that validates or ``None``, the output mode, the validation error)."""
        content, mode, finish = await self._ask(messages, schema, response_model, agent, usage, attempts)
        if response_model is PlainText:
            # A free-form reply cut at max_tokens is not an answer: its last "Answer:" or formula
            # may be a step on the way. Empty: asking again changes nothing.
            if finish == "length":
                return None, mode, f"{TRUNCATED} ({agent.max_tokens})"
            value, error = parse_reply(content, response_model)
            return (content, mode, None) if value is not None else (None, mode, error)
        value, error = parse_reply(content, response_model, repair=finish != "length")
        if value is not None:
            return content, mode, None
        if finish == "length":  # asking again would be cut at the same length: not worth paying for
            return None, mode, f"{TRUNCATED} ({agent.max_tokens}): {error}"
        # One repair round: show the model its reply and the validation error.
        retry_messages = [*messages, {"role": "assistant", "content": (content or "")[:4000]},
                          {"role": "user", "content": "That reply is not a JSON object matching the schema "
                           f"({error}). Reply again with only the corrected JSON object."}]
        repaired, mode, finish = await self._ask(retry_messages, schema, response_model, agent, usage, attempts)
        if parse_reply(repaired, response_model, repair=finish != "length")[0] is not None:
            return repaired, mode, None
        return None, mode, error

    async def _ask(self, messages, schema, response_model, agent, usage, attempts):
        """One completion with retries, stepping down structured-output modes the server refuses."""
        while True:
            plain = response_model is PlainText
            mode_index = OUTPUT_MODES.index("text") if plain else self._mode_for(agent.model)
            mode = OUTPUT_MODES[mode_index]
            try:
                async for attempt in AsyncRetrying(
                        retry=retry_if_exception(_is_transient),
                        stop=stop_after_attempt(self.settings.retries + 1),
                        wait=self._wait, reraise=True):
                    with attempt:
                        attempts[0] += 1
                        response = await self._request(messages, schema, response_model, agent, mode)
                if not plain:
                    self._modes[agent.model] = mode_index  # a probe that worked moves back up
                    self._calls_in_mode[agent.model] = self._calls_in_mode.get(agent.model, 0) + 1
                choice = response["choices"][0]
                message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
                content = _text_of(message.get("content"))
                counted = response.get("usage") if isinstance(response.get("usage"), dict) else None
                if counted is not None:
                    usage[0] += int(counted.get("prompt_tokens") or 0)
                    usage[1] += int(counted.get("completion_tokens") or 0)
                else:
                    usage[0] += sum(len(m["content"]) for m in messages) // CHARS_PER_TOKEN
                    usage[1] += len(content or "") // CHARS_PER_TOKEN
                return content, mode, choice.get("finish_reason")
            except _ModeRejected:
                self._modes[agent.model] = mode_index + 1
                self._calls_in_mode[agent.model] = 0
                continue

    async def _request(self, messages, schema, response_model, agent, mode) -> dict[str, Any]:
        try:
            reply = await self._client.post("/chat/completions", cast_to=object,
                                            content=self._body(messages, schema, response_model, agent, mode),
                                            options={"headers": {"Content-Type": "application/json"}})
        except openai.APIStatusError as exc:
            if mode != "text" and self._refuses_mode(exc):
                raise _ModeRejected() from exc
            raise
        if isinstance(reply, str):  # a JSON body served with another content type: the SDK gives text
            try:
                reply = json.loads(reply)
            except ValueError:
                raise RuntimeError("reply is not JSON") from None
        choices = reply.get("choices") if isinstance(reply, dict) else None
        if not choices or not isinstance(choices[0], dict):
            raise RuntimeError("reply without choices")
        return reply

    def _body(self, messages, schema, response_model, agent, mode) -> bytes:
        """The request as JSON: everything but the messages serialised once per model, mode and
        sampling (the schema is most of it), the messages on every call."""
        fixed = (agent.model, agent.temperature, agent.max_tokens, mode, response_model)
        head = self._bodies.get(fixed)
        if head is None:
            body: dict[str, Any] = {"model": agent.model, "temperature": agent.temperature,
                                    "max_tokens": agent.max_tokens}
            if mode == "json_schema":
                body["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": response_model.__name__, "schema": schema, "strict": False}}
            elif mode == "json_object":
                body["response_format"] = {"type": "json_object", "schema": schema}
            head = self._bodies[fixed] = json.dumps(body, ensure_ascii=False).encode()[:-1] + b', "messages": '
        return head + json.dumps(messages, ensure_ascii=False).encode() + b"}"

    @staticmethod
    def _refuses_mode(exc: openai.APIStatusError) -> bool:
        """Only an answer about the format steps the mode down: a 400/422 naming the format or
        schema, or a 5xx naming ``response_format`` (llama.cpp's server answers ``json_schema``
        so). Any other 5xx is an outage: retried in the same mode."""
        status, message = exc.status_code, str(exc.body or exc.message).lower()
        return (status in (400, 422) and ("response_format" in message or "schema" in message)) or \
            (status >= 500 and "response_format" in message)

    def _mode_for(self, model: str) -> int:
        """The mode to ask in: the one that worked, and every ``PROBE_EVERY`` calls in a lower
        mode the one above it again (a server may have been upgraded, or the refusal was a fluke)."""
        index = self._modes.get(model, 0)
        if index and self._calls_in_mode.get(model, 0) >= PROBE_EVERY:
            self._calls_in_mode[model] = 0
            return index - 1
        return index

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(multiplier=self.settings.backoff_s, max=self.settings.backoff_max_s)
        retry_after = _retry_after(state)
        if retry_after is not None:
            return min(retry_after, self.settings.backoff_max_s * 2)
        return backoff(state)


def mode_of(gateway: Gateway, model: str) -> str:
    """The structured-output mode the gateway currently uses for ``model`` (for tests and logs)."""
    return OUTPUT_MODES[gateway._modes.get(model, 0)]


@dataclass
class CallTotals:
    """What a list of ledger rows adds up to."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: list[LLMCall]) -> "CallTotals":
        totals = cls()
        for row in rows:
            totals.calls += not row.cache_hit and row.status != "budget_exhausted"
            totals.cache_hits += row.cache_hit
            totals.prompt_tokens += row.prompt_tokens
            totals.completion_tokens += row.completion_tokens
            totals.cost_usd += row.cost_usd
            totals.by_status[row.status] = totals.by_status.get(row.status, 0) + 1
        return totals


def gateway_for(settings: Settings, run_id: str, allowance: float | None = None) -> Gateway:
    """The gateway of one task of a run: the run's concurrency limit (shared with its other
    tasks), the run's (or the given) spending allowance, and the rate limits every task shares.
    Build it inside the task's event loop."""
    return Gateway(settings.llm, Lake.from_settings(settings), run_id,
                   budget=Budget(allowance if allowance is not None else settings.llm.budget_usd),
                   throttle=llm_throttle(settings), limit=run_limit(run_id, max(1, settings.llm.concurrency)))
