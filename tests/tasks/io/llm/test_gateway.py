"""The LLM gateway against the scripted OpenAI-compatible server over real HTTP on loopback."""

import asyncio

import pytest
from pydantic import BaseModel

from tasks.core.settings import AgentSettings, LLMSettings, Price
from tasks.io.llm import Budget, CallTotals, Gateway, cache_key, mode_of, parse_reply
from tasks.io.storage import Lake
from tests.llm_server import Script, ScriptedLLM

FILTER_SYSTEM = "You are the Answer Filter. Decide."
MESSAGES = [{"role": "system", "content": FILTER_SYSTEM},
            {"role": "user", "content": "Question:\n<paper>\nDerive x.\n</paper>\n\nAnswer:\n<paper>\nx = 1 + 1 = 2\n</paper>"}]
AGENT = AgentSettings(model="gpt-4o-mini", temperature=0.0, max_tokens=200)


class Verdict(BaseModel):
    verdict: str
    rationale: str
    confidence: float


def llm_settings(server, **kw) -> LLMSettings:
    base = dict(base_url=server.base_url, api_key="sk-test-secret", retries=4, backoff_s=0.01, backoff_max_s=0.05,
                timeout_s=5.0)
    return LLMSettings(**(base | kw))


def call(settings, lake, messages=MESSAGES, gateway=None, **kw):
    async def go():
        g = gateway or Gateway(settings, lake, "run-1", **kw)
        try:
            return await g.call("answer_filter", "cand-1", messages, Verdict, "v1", AGENT), g
        finally:
            await g.aclose()
    return asyncio.run(go())


@pytest.fixture
def lake(tmp_path):
    return Lake(str(tmp_path / "lake"))


def test_parsed_reply_is_cached_and_ledgered(lake):
    with ScriptedLLM() as server:
        settings = llm_settings(server)
        result, gateway = call(settings, lake)
        assert result.ok and result.value.verdict == "derive"
        row = result.call
        assert (row.status, row.cache_hit, row.output_mode, row.attempts) == ("ok", False, "json_schema", 1)
        assert row.prompt_tokens > 0 and row.completion_tokens > 0
        assert row.cost_usd == pytest.approx((row.prompt_tokens * 0.15 + row.completion_tokens * 0.60) / 1e6)
        again, _ = call(settings, lake)
        assert server.log.requests == 1  # the second call was a cache hit
        assert (again.call.cache_hit, again.call.cost_usd, again.value) == (True, 0.0, result.value)
        totals = CallTotals.of([row, again.call])
        assert (totals.calls, totals.cache_hits, totals.cost_usd) == (1, 1, row.cost_usd)


def test_cache_key_covers_model_messages_schema_sampling_and_prompt_version():
    base = ("m", MESSAGES, {"a": 1}, {"temperature": 0}, "v1")
    keys = {cache_key(*base),
            cache_key("m2", *base[1:]),
            cache_key("m", MESSAGES[:1], *base[2:]),
            cache_key("m", MESSAGES, {"a": 2}, *base[3:]),
            cache_key("m", MESSAGES, {"a": 1}, {"temperature": 0.5}, "v1"),
            cache_key(*base[:4], "v2")}
    assert len(keys) == 6


def test_server_without_json_schema_falls_back_to_json_object(lake):
    with ScriptedLLM(Script(reject_json_schema=True)) as server:
        result, gateway = call(llm_settings(server), lake)
        assert result.ok and result.call.output_mode == "json_object"
        assert mode_of(gateway, "gpt-4o-mini") == "json_object"
        assert server.log.modes["json_schema"] == 1 and server.log.modes["json_object"] == 1


@pytest.mark.parametrize("fault", ["429", "500", "slow"])
def test_transient_faults_are_retried(lake, fault):
    with ScriptedLLM(Script(fault_rate=0.6, faults=(fault,), slow_s=2.0)) as server:
        settings = llm_settings(server, timeout_s=0.5, retries=8)
        result, _ = call(settings, lake)
        assert result.ok, result.call.error
        assert result.call.attempts == server.log.faults[fault] + 1 > 1


def test_retry_after_is_honoured(lake):
    with ScriptedLLM(Script(fault_rate=1.0, faults=("429",))) as server:
        settings = llm_settings(server, retries=2, backoff_s=30, backoff_max_s=30)  # backoff alone would wait 30 s
        result, _ = call(settings, lake)
        assert result.call.status == "failed" and "429" in result.call.error
        assert result.call.attempts == 3 and result.call.latency_ms < 5_000  # waited Retry-After (0.05 s)


@pytest.mark.parametrize("fault", ["invalid", "truncated", "schema"])
def test_unusable_replies_are_repaired_once_then_recorded(lake, fault):
    with ScriptedLLM(Script(fault_rate=1.0, faults=(fault,))) as server:
        result, _ = call(llm_settings(server), lake)
        assert result.value is None and result.call.status == "invalid_output"
        rounds = 1 if fault == "truncated" else 2  # the reply, then one repair round unless it was cut short
        assert result.call.error and server.log.requests == result.call.attempts == rounds
    with ScriptedLLM() as healthy:  # the model gave its answer: cached, not asked again
        result, _ = call(llm_settings(healthy), lake)
        assert result.call.cache_hit and result.call.status == "invalid_output" and healthy.log.requests == 0


def test_connection_refused_is_a_failed_call_not_a_crash(lake):
    server = ScriptedLLM()  # never started
    result, _ = call(llm_settings(server, retries=1), lake)
    assert result.call.status == "failed" and "Connection" in result.call.error
    assert not (lake.root_path / "cache").exists()  # a transport failure is not cached: the next run retries


def test_budget_refuses_calls_past_the_allowance(lake):
    with ScriptedLLM() as server:
        settings = llm_settings(server, prices={"gpt-4o-mini": Price(prompt=1000.0, completion=1000.0)})
        result, _ = call(settings, lake, budget=Budget(0.01))
        assert result.call.status == "budget_exhausted" and server.log.requests == 0
        result, _ = call(settings, lake, budget=Budget(100.0))
        assert result.ok and result.call.cost_usd > 0.01


def test_concurrency_bound(lake):
    with ScriptedLLM(Script(latency_s=0.05)) as server:
        settings = llm_settings(server)

        async def go():
            async with Gateway(settings, lake, "run-1", concurrency=3) as g:
                await asyncio.gather(*(g.call("answer_filter", f"c{i}", [MESSAGES[0], {
                    "role": "user", "content": MESSAGES[1]["content"] + str(i)}], Verdict, "v1", AGENT)
                    for i in range(12)))
                return g
        gateway = asyncio.run(go())
        assert len(gateway.calls) == 12 and server.log.max_in_flight == 3


def test_secret_is_sent_but_never_stored(lake):
    with ScriptedLLM() as server:
        result, _ = call(llm_settings(server), lake)
    stored = b"".join(p.read_bytes() for p in lake.root_path.rglob("*") if p.is_file())
    assert b"sk-test-secret" not in stored and "sk-test-secret" not in result.call.model_dump_json()


def test_an_endpoint_that_echoes_the_key_leaves_no_trace_of_it(lake):
    with ScriptedLLM(Script(echo_authorization=True)) as server:
        result, _ = call(llm_settings(server), lake)
    assert result.call.status == "failed"
    assert result.call.error.startswith("AuthenticationError status=401 code=invalid_api_key: ")
    assert "sk-test-secret" not in result.call.error and "[redacted]" in result.call.error
    stored = b"".join(p.read_bytes() for p in lake.root_path.rglob("*") if p.is_file())
    assert b"sk-test-secret" not in stored


def test_redact_removes_secrets_bearer_tokens_key_shapes_and_url_credentials():
    from tasks.core.settings import redact

    text = ("key hunter22 in Bearer abc.def-123 and sk-proj-AbC123xyz789 at https://ana:pw@minio.local/x, "
            "short 'ab' kept")
    cleaned = redact(text, ["hunter22", "ab", None])
    assert cleaned == ("key [redacted] in Bearer [redacted] and [redacted] at https://[redacted]@minio.local/x, "
                       "short 'ab' kept")


def test_parse_reply_repairs_fences_and_trailing_commas():
    value, error = parse_reply('Here:\n```json\n{"verdict": "derive", "rationale": "r", "confidence": 0.5,}\n```',
                               Verdict)
    assert error is None and value.verdict == "derive"
    assert parse_reply("no json here", Verdict)[0] is None
    assert parse_reply('{"verdict": "derive"}', Verdict)[1].startswith("ValidationError")


def test_unreadable_cache_entry_is_a_miss(lake):
    with ScriptedLLM() as server:
        settings = llm_settings(server)
        first, _ = call(settings, lake)
        (segment,) = (lake.root_path / "cache").rglob("*.jsonl")
        segment.write_text('{"key": "' + first.call.cache_key[:20] + '  torn by a kill')
        again, _ = call(settings, lake)
        assert again.ok and not again.call.cache_hit and server.log.requests == 2


def test_an_outage_of_5xx_does_not_switch_off_structured_output(lake):
    """Ordinary 5xx (an outage, here every request's first two attempts) are retried in the same
    mode: only an answer about the format steps down."""
    with ScriptedLLM(Script(fault_rate=1.0, faults=("500",))) as server:
        settings = llm_settings(server, retries=1)

        async def go():
            gateway = Gateway(settings, lake, "run-1")
            try:
                results = await asyncio.gather(*(gateway.call("answer_filter", f"cand-{i}", [
                    MESSAGES[0], {"role": "user", "content": f"{MESSAGES[1]['content']} {i}"}], Verdict, "v1", AGENT)
                    for i in range(4)))
            finally:
                await gateway.aclose()
            return results, gateway

        results, gateway = asyncio.run(go())
    assert all(r.call.status == "failed" for r in results)
    assert mode_of(gateway, "gpt-4o-mini") == "json_schema" and set(server.log.modes) == {"json_schema"}


def test_a_stepped_down_mode_is_probed_again(lake, monkeypatch):
    from tasks.io.llm import gateway as gateway_module

    monkeypatch.setattr(gateway_module, "PROBE_EVERY", 3)
    with ScriptedLLM(Script(reject_json_schema=True)) as server:
        settings = llm_settings(server)

        async def go():
            gateway = Gateway(settings, lake, "run-1")
            try:
                for i in range(7):
                    await gateway.call("answer_filter", f"cand-{i}", [
                        MESSAGES[0], {"role": "user", "content": f"{MESSAGES[1]['content']} {i}"}], Verdict, "v1", AGENT)
            finally:
                await gateway.aclose()

        asyncio.run(go())
    # stepped down at the first call, probed json_schema again after 3 calls in json_object, twice
    assert server.log.modes["json_schema"] == 3 and server.log.modes["json_object"] == 7


# -- free-form replies (models under evaluation) ----------------------------------------------

PLAIN = [{"role": "system", "content": "Derive."}, {"role": "user", "content": "Derive y."}]
EVALUATED = AgentSettings(model="scripted-p70", temperature=0.7, max_tokens=200)


def plain_calls(settings, lake, samples, per_endpoint=True):
    from tasks.io.llm import PlainText

    async def go():
        async with Gateway(settings, lake, "run-1") as g:
            return await asyncio.gather(*(g.call("derivation", "item-1", PLAIN, PlainText, "v1", EVALUATED,
                                                 sample=s, per_endpoint=per_endpoint) for s in samples))
    return asyncio.run(go())


def test_each_sample_is_its_own_request_and_a_rerun_asks_nothing(lake):
    with ScriptedLLM() as server:
        first = plain_calls(llm_settings(server), lake, [1, 2, 3])
        assert server.log.requests == 3  # the same messages, three independent answers
        again = plain_calls(llm_settings(server), lake, [1, 2, 3])
        assert server.log.requests == 3 and all(r.call.cache_hit for r in again)
    assert all(r.ok and r.value.text for r in first)
    assert len({r.call.cache_key for r in first}) == 3


def test_an_answer_belongs_to_its_endpoint(lake):
    with ScriptedLLM() as one, ScriptedLLM() as other:
        plain_calls(llm_settings(one), lake, [1])
        plain_calls(llm_settings(other), lake, [1])
        assert (one.log.requests, other.log.requests) == (1, 1)  # same model name, another server: asked again


def test_a_free_form_reply_cut_at_max_tokens_is_not_an_answer(lake):
    from tasks.io.llm import TRUNCATED

    with ScriptedLLM(Script(fault_rate=1.0, faults=("truncated",))) as server:
        [result] = plain_calls(llm_settings(server, retries=0), lake, [1])
    assert not result.ok and result.call.status == "invalid_output"
    assert result.call.error.startswith(TRUNCATED) and result.call.prompt_version == "v1"


def test_reply_text_as_a_list_of_parts_is_read():
    from tasks.io.llm.gateway import _text_of

    assert _text_of([{"type": "text", "text": '{"a": '}, {"type": "text", "text": "1}"}]) == '{"a": 1}'
    assert _text_of("plain") == "plain" and _text_of(None) is None and _text_of([{"type": "image"}]) is None
