"""The quality layer's whole-run steps without an LLM: a problem queued last month is the twin a
new near copy points at (a paper's v2 does not re-issue it), and a drop is undone when its twin
goes."""

from tasks.core.records import Candidate
from tasks.io.storage import Lake, publish_catalog, query_rows
from tasks.refine.steps import land, plan_refine, rank, screen
from tests.factories import DISTINCT_PROBLEMS as PROBLEMS


def refine_without_llm(settings, run_id):
    plan = plan_refine(settings, run_id)
    screened = screen(settings, Lake.from_settings(settings), plan, run_id)
    queue, _ = rank(settings, plan, screened.candidates, plan.signals, screened.vectors, run_id)
    land(settings, Lake.from_settings(settings), plan, screened.candidates, screened, queue, run_id)
    publish_catalog(settings)


def test_a_later_copy_points_at_the_problem_queued_before_and_a_drop_is_undone(settings):
    from tests.factories import candidate_catalog

    ids = ["c0x0", "c0x1", "c1x0", "c1x1"]
    candidate_catalog(settings, papers=2, per_paper=2, broken=False,
                      questions={cid: PROBLEMS[i][0] for i, cid in enumerate(ids)},
                      answers={cid: PROBLEMS[i][1] for i, cid in enumerate(ids)})
    refine_without_llm(settings, "run-may")
    assert len(query_rows(settings, "SELECT * FROM review_queue")) == 4

    # June: version 2 of paper 0 re-issues its second problem, with a better grounding score
    lake = Lake.from_settings(settings)
    again = query_rows(settings, "SELECT * FROM candidates WHERE candidate_id = 'c0x1'")[0]
    v2 = Candidate.model_validate({**{k: v for k, v in again.items() if k not in ("prompt_versions", "models")},
                                   "candidate_id": "v2x1", "paper_id": "arxiv:2611.00000v2", "grounded_score": 100.0})
    lake.write_table(Candidate, [v2], "arxiv:2611.00000v2")
    publish_catalog(settings)
    refine_without_llm(settings, "run-june")
    assert query_rows(settings, "SELECT candidate_id, twin_id, twin_earlier FROM duplicates") == [
        {"candidate_id": "v2x1", "twin_id": "c0x1", "twin_earlier": True}]
    status = {r["candidate_id"]: (r["status"], r["reason"]) for r in query_rows(
        settings, "SELECT candidate_id, status, reason FROM candidates")}
    assert status["v2x1"] == ("dropped", "near_duplicate") and status["c0x1"] == ("done", None)

    # the twin is withdrawn (its paper regenerated without it): the copy comes back
    lake.write_table(Candidate, [], "arxiv:2611.00000", replace_empty=True)
    publish_catalog(settings)
    refine_without_llm(settings, "run-july")
    assert query_rows(settings, "SELECT status, reason FROM candidates WHERE candidate_id = 'v2x1'") == [
        {"status": "done", "reason": None}]
    assert query_rows(settings, "SELECT count(*) AS n FROM duplicates") == [{"n": 0}]


def test_a_paraphrase_stays_dropped_while_the_embedding_model_cannot_load(settings):
    """Embeddings found the paraphrase; a later run without them must not let both twins into the
    queue (queued candidates are never dropped after)."""
    from tests.factories import candidate_catalog

    # c0x0 and c1x0 are the same quadratic in other words, and share a target (the catalog's
    # targets depend on the position in the paper only)
    questions = {"c0x0": r"Solve $x^2-5x+6=0$ for real x.", "c0x1": PROBLEMS[1][0],
                 "c1x0": r"Find all real x with $x^2 - 5x + 6 = 0$."}
    answers = {"c0x0": r"Factor as $(x-2)(x-3)=0$, so $x=2$ or $x=3$.", "c0x1": PROBLEMS[1][1],
               "c1x0": r"Factoring gives $(x-2)(x-3)=0$, hence $x=2$ or $x=3$."}
    candidate_catalog(settings, papers=2, per_paper=2, broken=False, questions=questions, answers=answers)
    refine_without_llm(settings, "run-1")
    found = query_rows(settings, "SELECT candidate_id, twin_id, method FROM duplicates")
    assert len(found) == 1 and found[0]["method"] == "embedding"
    dropped = found[0]["candidate_id"]

    no_model = settings.model_copy(update={"refine": settings.refine.model_copy(update={"embedding_model": "gone"})})
    refine_without_llm(no_model, "run-2")
    assert query_rows(settings, "SELECT candidate_id, method FROM duplicates") == [
        {"candidate_id": dropped, "method": "embedding"}]
    assert query_rows(settings, "SELECT status, reason FROM candidates WHERE candidate_id = $id", {"id": dropped}) == [
        {"status": "dropped", "reason": "near_duplicate"}]
    assert dropped not in {r["candidate_id"] for r in query_rows(settings, "SELECT candidate_id FROM review_queue")}
