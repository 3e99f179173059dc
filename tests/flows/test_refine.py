"""``refine-candidates`` over a catalog of finished candidates, through Prefect and Dask, against
the scripted server: a planted near duplicate and a planted benchmark overlap are dropped with
their pointers, the rest are scored, revised, solved and ranked into the review queue, the views
answer, and an unchanged rerun makes no LLM call."""

import json

import pytest

from tasks.core.settings import BenchmarkFile
from tasks.io.storage import query, query_rows
from tests.factories import DISTINCT_PROBLEMS as PROBLEMS
from tests.llm_server import ScriptedLLM

pytestmark = pytest.mark.usefixtures("prefect_api")


def refine_flow(settings, **kwargs):
    from flows.refine import refine_candidates
    from flows.runtime import dask_task_runner, prefect_api

    with prefect_api(settings):
        return refine_candidates.with_options(task_runner=dask_task_runner(settings))(settings=settings, **kwargs)


def test_refine_screens_scores_and_ranks_and_a_rerun_calls_nothing(settings, tmp_path):
    from tests.factories import candidate_catalog

    ids = [f"c{p}x{n}" for p in range(3) for n in range(3)]
    questions = {cid: PROBLEMS[i][0] for i, cid in enumerate(ids)}
    answers = {cid: PROBLEMS[i][1] for i, cid in enumerate(ids)}
    questions["c2x2"], answers["c2x2"] = questions["c0x1"], answers["c0x1"]  # the same problem, from another paper
    ids = candidate_catalog(settings, papers=3, per_paper=3, broken=False, answers=answers, questions=questions)
    benchmark = tmp_path / "bench.jsonl"
    leaked = answers["c1x0"]  # a benchmark that holds one candidate's derivation word for word
    benchmark.write_text(json.dumps({"id": "q-17", "problem": "Show the identity.", "solution": leaked}) + "\n"
                         + json.dumps({"id": "q-18", "problem": "An unrelated counting question about dice."}) + "\n")
    with ScriptedLLM() as server:
        settings = settings.model_copy(update={
            "llm": settings.llm.model_copy(update=dict(base_url=server.base_url, retries=8, backoff_s=0.01,
                                                       backoff_max_s=0.05, timeout_s=5.0)),
            "refine": settings.refine.model_copy(update={"benchmarks": [
                BenchmarkFile(name="toybench", path=str(benchmark), id_field="id")]})})
        run = refine_flow(settings)
        calls = server.log.requests
        again = refine_flow(settings)
        assert server.log.requests == calls
    assert run.status == "completed" and run.llm_calls > 0 and run.candidates_refined == len(ids) - 2
    assert again.llm_calls == 0 and again.candidates_refined == 0

    status = {r["candidate_id"]: (r["status"], r["reason"]) for r in query_rows(
        settings, "SELECT candidate_id, status, reason FROM candidates")}
    assert status["c1x0"] == ("dropped", "contaminated")
    assert sorted(cid for cid, s in status.items() if s == ("dropped", "near_duplicate")) == ["c2x2"]
    assert query_rows(settings, "SELECT candidate_id, twin_id, method FROM duplicates") == [
        {"candidate_id": "c2x2", "twin_id": "c0x1", "method": "minhash"}]
    hit = query_rows(settings, "SELECT benchmark, item_id, method, matched_span FROM contamination")
    assert [(h["benchmark"], h["item_id"], h["method"]) for h in hit] == [("toybench", "q-17", "ngram")]
    assert "over unit spheres bounds the supremum" in hit[0]["matched_span"]

    queue = query_rows(settings, "SELECT candidate_id, rank, raw_score, solve_rate FROM review_queue "
                                 "ORDER BY rank")
    assert [q["rank"] for q in queue] == list(range(1, len(ids) - 1))
    assert {q["candidate_id"] for q in queue} == set(ids) - {"c1x0", "c2x2"}
    assert all(q["raw_score"] is not None and q["solve_rate"] is None for q in queue)
    assert query(settings, "SELECT count(*) AS n FROM quality_scores").n[0] == (len(ids) - 2) * 9
    health = query_rows(settings, "SELECT * FROM queue_health")
    assert sum(h["candidates"] for h in health) == len(ids) - 2 and health[-1]["keepers_so_far"] == 0
    assert query_rows(settings, "SELECT round, questions FROM revision_effect") == [
        {"round": 0, "questions": len(ids) - 2}]
    # the targets are bounds (\\le): Math-Verify compares values, not bounds, so no sample is decided
    assert query_rows(settings, "SELECT outcome, reason, count(*) AS n FROM solutions GROUP BY ALL") == [
        {"outcome": "undecided", "reason": "not_comparable", "n": len(ids) - 2}]
    assert query(settings, "SELECT count(*) AS n FROM candidate_solve_rates WHERE undecided = 1").n[0] == len(ids) - 2
    # seven candidates are too few to estimate DS²'s transition matrix: scores stay uncorrected, said so
    assert {r["reason"] for r in query_rows(settings, "SELECT reason FROM review_queue")} == {
        "uncorrected_no_transition_matrix"}
    assert query_rows(settings, "SELECT count(*) AS n FROM rejects WHERE reason = 'embedding_model_unavailable'") == [
        {"n": 0}]


def test_without_embeddings_the_queue_is_ranked_on_raw_scores(settings, tmp_path):
    from tests.factories import candidate_catalog

    ids = ["c0x0", "c0x1", "c1x0", "c1x1"]
    candidate_catalog(settings, papers=2, per_paper=2, broken=False,
                      questions={cid: PROBLEMS[i][0] for i, cid in enumerate(ids)},
                      answers={cid: PROBLEMS[i][1] for i, cid in enumerate(ids)})
    settings = settings.model_copy(update={"refine": settings.refine.model_copy(update={"embedding_model": "absent"})})
    run = refine_flow(settings)
    assert run.status == "completed" and run.candidates_queued == 4 and run.llm_calls == 0
    assert query_rows(settings, "SELECT reason, count(*) AS n FROM rejects WHERE stage = 'refine' GROUP BY ALL") == [
        {"reason": "embedding_model_unavailable", "n": 1}]
    # no endpoint either: every candidate waits unscored, in paper order, none dropped
    assert [r["reason"] for r in query_rows(settings, "SELECT reason FROM review_queue ORDER BY rank")] == [
        "unscored"] * 4
