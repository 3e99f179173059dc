"""``refine-candidates`` over a catalog of finished candidates, through Prefect and Dask, against
the scripted server: a planted near duplicate and a planted benchmark overlap are dropped with
their pointers, the rest are scored, revised, solved and ranked into the review queue, the views
answer, and an unchanged rerun makes no LLM call."""

import json

import pytest

from tasks.core.settings import BenchmarkFile
from tasks.io.storage import query, query_rows
from tests.llm_server import ScriptedLLM

pytestmark = pytest.mark.usefixtures("prefect_api")

PROBLEMS = [  # nine unrelated derivations: (question, answer)
    (r"For gradient descent with step $\eta \le 1/L$ on an $L$-smooth convex $f$, derive the rate "
     r"$f(x_T) - f^* \le \|x_0 - x^*\|^2 / (2 \eta T)$.",
     r"Smoothness gives the descent lemma $f(x_{t+1}) \le f(x_t) - \frac{\eta}{2}\|\nabla f(x_t)\|^2$; "
     r"convexity bounds the gap by the distance to the optimum; summing the telescoping terms over $T$ steps "
     r"gives the rate."),
    (r"Derive the evidence lower bound $\log p(x) \ge \mathbb{E}_q[\log p(x,z)] - \mathbb{E}_q[\log q(z)]$.",
     r"Write $\log p(x) = \log \int q(z) \frac{p(x,z)}{q(z)} dz$ and apply Jensen's inequality to the "
     r"concave logarithm; the expectation under $q$ of the log ratio is the bound."),
    (r"Show that the importance sampling estimator $\hat\mu = \frac1n \sum_i w(x_i) f(x_i)$ with "
     r"$w = p/q$ is unbiased.",
     r"Each term has expectation $\mathbb{E}_q[w f] = \int q \frac{p}{q} f = \mathbb{E}_p[f]$, and the mean "
     r"of $n$ such terms keeps it by linearity of expectation."),
    (r"Bound the spectral norm of an $n \times n$ matrix with independent standard Gaussian entries: "
     r"$\mathbb{E}\|G\| \le 2\sqrt{n}$.",
     r"Slepian's comparison between the Gaussian processes $\langle Gu, v\rangle$ and "
     r"$\langle g, u\rangle + \langle h, v\rangle$ over unit spheres bounds the supremum by the two "
     r"norms, each of expectation at most $\sqrt{n}$."),
    (r"Prove that the Bellman optimality operator $T$ is a $\gamma$-contraction in the sup norm.",
     r"For two value functions, the difference of maxima is at most the maximum difference: "
     r"$|TV(s) - TW(s)| \le \gamma \max_{s'} |V(s') - W(s')|$, since rewards cancel and the transition "
     r"probabilities sum to one."),
    (r"Derive the variance of the score-function gradient estimator $\hat g = f(x) \nabla \log p_\theta(x)$.",
     r"The variance is $\mathbb{E}[f^2 \|\nabla \log p\|^2] - \|\nabla \mathbb{E} f\|^2$, and a "
     r"baseline $b$ subtracted from $f$ leaves the mean unchanged while reducing the second moment."),
    (r"Derive the regret of online mirror descent with a strongly convex regulariser $R$: "
     r"$\mathrm{Reg}_T \le \frac{R(u)}{\eta} + \frac{\eta}{2} \sum_t \|g_t\|_*^2$.",
     r"The three-point identity of Bregman divergences telescopes the linearised losses; strong convexity "
     r"of the regulariser controls each step by the dual norm of the gradient."),
    (r"Show that the Langevin diffusion $dX = -\nabla U(X) dt + \sqrt{2} dB$ has stationary density "
     r"proportional to $e^{-U}$.",
     r"The Fokker-Planck equation reads $\partial_t \rho = \nabla \cdot (\rho \nabla U) + \Delta \rho$; "
     r"substituting $\rho \propto e^{-U}$ makes the flux vanish, so the density is stationary."),
    (r"Derive the closed form of ridge regression $\hat\beta = (X^\top X + \lambda I)^{-1} X^\top y$.",
     r"Setting the gradient of $\|y - X\beta\|^2 + \lambda \|\beta\|^2$ to zero gives the normal "
     r"equations $(X^\top X + \lambda I)\beta = X^\top y$, and the matrix is invertible for $\lambda > 0$."),
]


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
                                 "WHERE rank IS NOT NULL ORDER BY rank")
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
    assert query(settings, "SELECT count(*) AS n FROM solve_rates WHERE undecided = 1").n[0] == len(ids) - 2
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
