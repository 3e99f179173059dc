"""The harness against scripted models whose behaviour is known: it must recover their accuracies,
detect the options-only leak, flag planted wrong keys, and record every bad answer with a reason."""

from collections import Counter, defaultdict

import pytest

from tasks.evaluate import audits
from tasks.evaluate.items import EvalItem
from tasks.evaluate.steps import EvalRequest, evaluate
from tests.llm_server import Script, ScriptedLLM

SHORT, LONG = "a short step", "a long derivation with every intermediate step written out in full detail"


def catalogue(n: int, leaky: int = 0, planted: int = 0, disagree: int = 0) -> tuple[list[EvalItem], dict]:
    """``n`` four-option items with known answers. In the first ``leaky`` the right option is the
    longest (the options give it away); in the rest it is the shortest. The last ``planted`` have a
    wrong key (the dataset's answer, target and key are a distractor's; the models know better); the first ``disagree`` have a paper
    derivation that writes the result in another form (the scripted judge cannot find it there)."""
    found, key = [], {}
    for i in range(n):
        target = f"y_{{{i}}} = {i + 2} x"
        right = f"{LONG if i < leaky else SHORT} {i}: so {target}"
        wrong = [f"{SHORT if i < leaky else LONG} {i}: so y_{{{i}}} = {i + 2 + k} x" for k in (1, 2, 3)]
        wrong_key = i >= n - planted
        index = 2 if wrong_key else 0
        keyed = f"y_{{{i}}} = {i + 4} x" if wrong_key else target  # a planted key is the distractor at 2
        question = f"Question {i}: derive y_{{{i}}} from the premises."
        answer = (f"From the premises, $y_{{{i}}} = {i + 1} x + x$." if i < disagree
                  else f"From the premises, $ {keyed} $.")
        found.append(EvalItem(item_id=f"item-{i:03d}", question=question, answer=answer, target=keyed,
                              choices=(right, *wrong), answer_index=index, paper_id=f"p{i % 3}",
                              paper_month=f"2026-{9 + i % 3:02d}"))
        key[question] = {"correct": right, "target": target}
    return found, key


@pytest.fixture
def evaluated(settings):
    def run(items, key, models, formats, samples, **llm):
        with ScriptedLLM(Script(answer_key=key, slow_s=2.0)) as server:
            local = settings.model_copy(update={"llm": settings.llm.model_copy(update={
                "base_url": server.base_url, "model": "judge-model", "retries": 0, **llm})})
            request = EvalRequest(eval_id="evaluate-t", dataset="test", items=items, models=models,
                                  formats=formats, samples=samples)
            outcome = evaluate(local, request)
            return outcome, server.log, local, request
    return run


def accuracy(rows, model, fmt, ids=None):
    graded = [r for r in rows if r.model == model and r.format == fmt and r.grade in ("correct", "incorrect")
              and (ids is None or r.item_id in ids)]
    return sum(r.grade == "correct" for r in graded) / len(graded)


def test_known_accuracies_are_recovered_and_the_leak_is_found(evaluated):
    items, key = catalogue(40, leaky=20)
    outcome, _, _, _ = evaluated(items, key, ["scripted-p70", "scripted-always-a", "scripted-options-reader"],
                                 ("mc", "options_only"), 8)
    rows = outcome.rows
    assert len(rows) == 40 * 3 * 2 * 8
    assert abs(accuracy(rows, "scripted-p70", "mc") - 0.70) < 0.08
    assert abs(accuracy(rows, "scripted-always-a", "mc") - 0.25) < 0.08  # the shuffle defeats a position
    leaky = {f"item-{i:03d}" for i in range(20)}
    fair = {f"item-{i:03d}" for i in range(20, 40)}
    assert accuracy(rows, "scripted-options-reader", "mc", leaky) == 1.0
    assert accuracy(rows, "scripted-options-reader", "mc", fair) == 0.0
    # position bias is measured: always-a picks A every time
    picked = Counter(r.parsed_answer for r in rows if r.model == "scripted-always-a" and r.format == "mc")
    assert picked == Counter({"A": 320})

    as_dicts = [r.model_dump() for r in rows]
    reader = audits.leak_test([r for r in as_dicts if r["model"] == "scripted-options-reader"])
    guesser = audits.leak_test([r for r in as_dicts if r["model"] == "scripted-p70"])
    assert reader.leaks and abs(reader.accuracy - 0.5) < 0.01
    assert not guesser.leaks and abs(guesser.accuracy - 0.25) < 0.08
    flagged = {a.item_id for a in audits.audit(as_dicts, 2, "a") if a.flag == "options_only_solvable"}
    assert flagged <= leaky and len(flagged) >= 15


def test_planted_wrong_keys_are_flagged_all_fail_and_graders_disagreeing_are_found(evaluated):
    items, key = catalogue(12, planted=3, disagree=2)
    outcome, log, _, _ = evaluated(items, key, ["scripted-p90", "scripted-french"], ("mc", "judge", "symbolic"), 4)
    rows = [r.model_dump() for r in outcome.rows]
    flags = defaultdict(set)
    for a in audits.audit(rows, 2, "audit-t"):
        flags[a.flag].add(a.item_id)
    planted = {"item-009", "item-010", "item-011"}
    assert flags["all_fail"] == planted
    assert flags["judge_symbolic_disagree"] == {"item-000", "item-001"}
    judged = [c for c in outcome.calls if c.stage == "judge"]
    assert len(judged) == 2 * 12 * 2 * 4  # both orders of every derivation
    # two models writing the same derivation share the judge's readings (one request, a cache hit)
    assert log.by_agent["judge"] == sum(not c.cache_hit for c in judged) < len(judged)
    tiers = Counter(r["tier"] for r in rows if r["format"] == "symbolic")
    assert set(tiers) <= {"string", "math_verify", "sympy", "numeric", "none"} and tiers["none"] == 0
    french = [r for r in rows if r["model"] == "scripted-french" and r["item_id"] not in planted]
    assert {r["grade"] for r in french if r["format"] in ("mc", "symbolic")} == {"correct"}


def test_bad_answers_are_recorded_with_reasons_and_never_counted_wrong(evaluated):
    items, key = catalogue(4)
    items.append(EvalItem(item_id="no-options", question="Derive z.", answer="z = 1", target=None))
    outcome, _, _, _ = evaluated(items, key, ["scripted-mute", "scripted-two-letters", "scripted-slow"],
                                 ("mc", "symbolic"), 1, timeout_s=0.5)
    by_model = defaultdict(Counter)
    for r in outcome.rows:
        by_model[r.model][(r.format, r.grade, r.reason)] += 1
    assert by_model["scripted-mute"][("mc", "unparsed", "no_letter")] == 4
    assert by_model["scripted-two-letters"][("mc", "unparsed", "multiple_letters")] == 4
    assert by_model["scripted-slow"][("mc", "failed", "failed")] == 4
    assert not any(r.grade == "incorrect" for r in outcome.rows if r.format == "mc")
    reasons = Counter((r.stage, r.reason) for r in outcome.rejects)
    assert reasons[("evaluate_mc", "no_choices")] == 1


def test_a_rerun_is_answered_from_the_cache(evaluated, settings):
    items, key = catalogue(3)
    with ScriptedLLM(Script(answer_key=key)) as server:
        local = settings.model_copy(update={"llm": settings.llm.model_copy(update={"base_url": server.base_url})})
        request = EvalRequest(eval_id="e1", dataset="t", items=items, models=["scripted-p70"], formats=("mc",), samples=3)
        first = evaluate(local, request)
        sent = server.log.requests
        again = evaluate(local, request)
        assert server.log.requests == sent == 9  # samples differ (their option order), the rerun asks nothing
    graded = lambda rows: sorted((r.item_id, r.sample, r.grade) for r in rows)  # noqa: E731
    assert graded(first.rows) == graded(again.rows)
    assert all(r.cache_hit for r in again.rows)


def test_the_budget_stops_the_run_and_a_rerun_continues_it(settings):
    from tasks.core.settings import ModelCard, Price

    items, key = catalogue(10)
    card = ModelCard(price=Price(prompt=100.0, completion=100.0))  # about a cent a call here
    with ScriptedLLM(Script(answer_key=key)) as server:
        local = settings.model_copy(update={
            "llm": settings.llm.model_copy(update={"base_url": server.base_url, "budget_usd": 2.0}),
            "evaluate": settings.evaluate.model_copy(update={"models": {"scripted-p70": card}})})
        request = EvalRequest(eval_id="e", dataset="t", items=items, models=["scripted-p70"], formats=("mc",), samples=2)
        stopped = evaluate(local, request)
        spent = sum(c.cost_usd for c in stopped.calls)
        assert stopped.budget_exhausted and 0 < spent <= 0.1
        assert Counter(r.reason for r in stopped.rows if r.grade == "failed") == Counter(
            {"budget_exhausted": sum(r.grade == "failed" for r in stopped.rows)}) and server.log.requests < 20
        roomy = local.model_copy(update={"llm": local.llm.model_copy(update={"budget_usd": 100.0})})
        done = evaluate(roomy, request)
    assert not done.budget_exhausted and not any(r.grade == "failed" for r in done.rows)
    assert sum(c.cache_hit for c in done.calls) == sum(1 for c in stopped.calls if c.status == "ok")


def test_the_platforms_key_goes_only_to_the_platforms_endpoint(settings):
    from pydantic import SecretStr

    from tasks.core.settings import ModelCard
    from tasks.evaluate.steps import model_llm

    local = settings.model_copy(update={
        "llm": settings.llm.model_copy(update={"base_url": "https://api.example/v1", "api_key": SecretStr("sk-main")}),
        "evaluate": settings.evaluate.model_copy(update={"models": {
            "theirs": ModelCard(base_url="http://vllm:8000/v1", api_key=SecretStr("sk-theirs"))}})})
    assert model_llm(local, "gpt-x", None).api_key.get_secret_value() == "sk-main"
    assert model_llm(local, "gpt-x", "http://elsewhere:8000/v1").api_key is None
    assert model_llm(local, "theirs", None).api_key.get_secret_value() == "sk-theirs"
    assert model_llm(local, "theirs", None).base_url == "http://vllm:8000/v1"


def test_symbolic_grades_are_checked_once_per_pair_and_cached_across_runs(settings, monkeypatch):
    from tasks.evaluate import symbolic

    checks = []
    real = symbolic.grade
    monkeypatch.setattr(symbolic, "grade", lambda *a, **k: checks.append(a[:2]) or real(*a, **k))
    items, key = catalogue(3)
    with ScriptedLLM(Script(answer_key=key)) as server:
        local = settings.model_copy(update={"llm": settings.llm.model_copy(update={"base_url": server.base_url})})
        request = EvalRequest(eval_id="e1", dataset="t", items=items, models=["scripted-french", "scripted-p70"],
                              formats=("symbolic",), samples=3)
        first = evaluate(local, request)
        graded = len(checks)
        again = evaluate(local, request)
    finals = {(r.expected, r.parsed_answer) for r in first.rows}
    assert graded == len(finals) < len(first.rows)  # one check per (target, final result)
    assert len(checks) == graded  # the rerun read every grade from the lake
    assert sorted((r.item_id, r.model, r.sample, r.grade) for r in again.rows) == \
        sorted((r.item_id, r.model, r.sample, r.grade) for r in first.rows)


def test_a_checker_failing_in_process_loses_that_answer_only(settings, monkeypatch):
    from tasks.evaluate import symbolic

    items, key = catalogue(2)
    monkeypatch.setattr(symbolic, "grade", lambda target, *a: 1 / 0 if target.startswith("y_{0}") else
                        symbolic.SymbolicGrade("correct", "string", target))
    with ScriptedLLM(Script(answer_key=key)) as server:
        local = settings.model_copy(update={"llm": settings.llm.model_copy(update={"base_url": server.base_url})})
        out = evaluate(local, EvalRequest(eval_id="e", dataset="t", items=items, models=["scripted-french"],
                                          formats=("mc", "symbolic"), samples=1))
    assert Counter(r.format for r in out.rows) == Counter({"mc": 2, "symbolic": 1})
    assert [(r.stage, r.reason) for r in out.rejects] == [("evaluate_symbolic", "harness_error")]
