"""Stages 1–4 (score, review → revise, solve, joint score) on a batch of candidates against the
scripted server: drops below the floor, revisions kept or refused, solutions decided by
Math-Verify or not at all, bad replies recorded, and a rerun served from the cache."""

import pytest

from tasks.core.records import Candidate, QuestionRevision, Reject, Solution
from tasks.io.storage import Lake
from tasks.refine.steps import fingerprint, refine_with_llm
from tests.llm_server import Script, ScriptedLLM

ANSWER = r"Expanding, $a = b + c$, then $b = 2c$, so $a = 3c$ and $y = 3c$."


def candidate(cid: str, question: str, target: str = "y = 3c", kind: str = "equation") -> Candidate:
    return Candidate(candidate_id=cid, paper_id=f"arxiv:2612.{cid}", target_expr=f"e-{cid}", target_kind=kind,
                     target_latex=target, question=question, answer=ANSWER, status="done", verdict="derive",
                     question_evidence=["Let a, b and c be reals."], stage_reached="answer_filter")


BATCH = [
    candidate("clean", r"Let $a = b + c$ and $b = 2c$. Derive $y = 3c$."),
    candidate("pointing", r"Using Eq. (3) in the paper, with $a = b + c$ and $b = 2c$, derive $y = 3c$."),
    candidate("mathchange", r"CHANGE-MATH: from Eq. (2), with $a = b + c$, derive $y = 3c$."),
    candidate("same", r"SAME-QUESTION: from Eq. (2), with $a = b + c$, derive $y = 3c$."),
    candidate("trivial", r"TRIVIAL: state $y = 3c$."),
    candidate("stray", r"STRAY: with $a = b + c$, derive $y = 3c$."),
    candidate("wrong", r"WRONG: with $a = b + c$ and $b = 2c$, derive $y = 3c$."),
    candidate("prose", r"PROSE: show that the estimator is consistent."),
    candidate("theorem", r"Prove that $f$ is convex whenever $g$ is.", target="f is convex", kind="statement"),
]


@pytest.fixture
def refine_settings(settings):
    def make(server, **refine):
        llm = dict(base_url=server.base_url, retries=8, backoff_s=0.01, backoff_max_s=0.05, timeout_s=2.0)
        return settings.model_copy(update={"llm": settings.llm.model_copy(update=llm),
                                           "refine": settings.refine.model_copy(update=refine)})
    return make


def by_id(rows):
    return {r.candidate_id: r for r in rows}


def test_stages_score_revise_solve_and_judge(refine_settings):
    with ScriptedLLM() as server:
        settings = refine_settings(server)
        lake = Lake.from_settings(settings)
        out = refine_with_llm(settings, lake, BATCH, "run-1", "part")
        requests = server.log.requests
        again = refine_with_llm(settings, lake, BATCH, "run-2", "part")
        assert server.log.requests == requests  # every call of the rerun came from the cache
    assert [c.candidate_id for c in out.candidates] == [c.candidate_id for c in BATCH]
    cands = by_id(out.candidates)

    # stage 1: the floor drops the trivial one; the stray score is recorded, not a drop
    assert cands["trivial"].status == "dropped" and cands["trivial"].reason == "low_quality_score"
    assert cands["stray"].status == "done"
    rejects = lake.read_part(Reject, "refine-run-1-part")
    assert {(r["entity_id"], r["reason"]) for r in rejects} == {("stray", "score_out_of_range")}

    # stage 2: a question pointing into the paper is revised once and then passes the bar
    revisions = lake.read_part(QuestionRevision, "run-1-part")
    rounds = {(r["candidate_id"], r["round"]): r for r in revisions}
    assert rounds[("pointing", 0)]["outcome"] == "original" and rounds[("pointing", 0)]["review_score"] < 4.5
    assert rounds[("pointing", 1)]["outcome"] == "accepted" and rounds[("pointing", 1)]["review_score"] >= 4.5
    assert ("pointing", 2) not in rounds
    assert cands["pointing"].revised_question == "Using , with $a = b + c$ and $b = 2c$, derive $y = 3c$."
    assert rounds[("mathchange", 1)]["outcome"] == "refused"
    assert rounds[("mathchange", 1)]["reason"] == "revision_changed_math"
    assert rounds[("same", 1)]["reason"] == "revision_unchanged"
    assert cands["mathchange"].revised_question is None and cands["same"].revised_question is None
    assert rounds[("clean", 0)]["review_score"] == pytest.approx(4.833, abs=1e-3) and ("clean", 1) not in rounds
    assert not any(cid == "trivial" for cid, _ in rounds)  # a dropped candidate is not reviewed

    # stage 3: solved by strings or a symbolic tier, not solved, undecided with a reason
    solutions = by_id([Solution.model_validate(r) for r in lake.read_part(Solution, "run-1-part")])
    assert solutions["clean"].outcome == "solved" and solutions["clean"].decided_by == "string"
    # a difference is shown at a random point (Math-Verify's "not equal" alone does not decide)
    assert solutions["wrong"].outcome == "not_solved" and solutions["wrong"].decided_by == "numeric"
    assert (solutions["prose"].outcome, solutions["prose"].reason) == ("undecided", "no_final_answer")
    assert (solutions["theorem"].outcome, solutions["theorem"].reason) == ("undecided", "statement_target")
    assert "trivial" not in solutions
    assert out.signals["clean"]["solve_rate"] == 1.0 and out.signals["wrong"]["solve_rate"] == 0.0

    # stage 4: five rubric scores in 1–5; their mean is the ranking's raw score
    assert out.signals["clean"]["joint_score"] == pytest.approx((5 + 4 + 4 + 5 + 3) / 5)
    # settled candidates carry the fingerprint that makes the next run skip them
    assert all(c.refined_with == fingerprint(settings, c) for c in again.candidates)
    assert again.calls and all(c.cache_hit for c in again.calls)


def test_faults_are_recorded_and_retried_next_run(refine_settings):
    script = Script(fault_rate=0.5, faults=("429", "500", "invalid", "schema"))
    with ScriptedLLM(script) as server:
        settings = refine_settings(server, revise_rounds=1)
        settings = settings.model_copy(update={"llm": settings.llm.model_copy(update={"retries": 0})})
        out = refine_with_llm(settings, Lake.from_settings(settings), BATCH[:4], "run-f", "part")
    assert len(out.candidates) == 4  # nothing lost
    rejects = Lake.from_settings(settings).read_part(Reject, "refine-run-f-part")
    assert rejects and {r["reason"] for r in rejects} <= {"invalid_output", "llm_call_failed"}
    failed = {r["entity_id"] for r in rejects if r["reason"] == "llm_call_failed"}
    # a transport failure leaves the candidate unsettled: the next run asks again
    assert all(c.refined_with is None for c in out.candidates if c.candidate_id in failed)
