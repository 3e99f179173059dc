"""The audit queue (tasks.curate.audit_queue over ReviewDB's item_audits): which audits open,
update or reopen an item, who may resolve one, and what a retirement writes to the lake."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tasks.core.records import ItemAudit, Retirement
from tasks.curate import audit_queue as aq
from tasks.curate import review
from tasks.io import storage

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def evidence(answer: str = "x = 2", grade: str = "incorrect", solve_rate: float = 0.0) -> str:
    return json.dumps({"models": {
        "model-a": [{"format": "judge", "sample": 0, "grade": grade, "parsed_answer": answer,
                     "raw_answer": f"Therefore {answer}."}],
        "model-b": [{"format": "symbolic", "sample": 0, "grade": grade, "parsed_answer": answer,
                     "raw_answer": answer}, {"format": "mc", "sample": 1, "grade": "correct",
                                             "parsed_answer": "B", "expected": "B", "raw_answer": "B"}]},
        "solve_rate": solve_rate})


def audit(item_id: str, *flags: str, audit_id: str = "a1", at: datetime = T0, **over) -> list[ItemAudit]:
    return [ItemAudit(audit_id=audit_id, item_id=item_id, flag=f, solve_rate=over.get("solve_rate", 0.0),
                      models=2, attempts=3, detail=f"{f} in {audit_id}", evidence=over.get("evidence", evidence()),
                      audited_at=at) for f in flags]


@pytest.fixture
def team(settings):
    from tests.factories import candidate_catalog

    candidate_catalog(settings, papers=1, per_paper=3)
    db = review.open_db(settings)
    for name in ("ana", "ben"):
        review.add_reviewer(db, name)
    for name in ("boss", "chief"):
        review.add_reviewer(db, name, "admin")
    review.load_items(settings, db)
    review.assign(db, 2)
    who = {name: review.Reviewer(name, "admin" if name in ("boss", "chief") else "reviewer")
           for name in ("ana", "ben", "boss", "chief")}
    return settings, db, who


def rows(db, item_id):
    return db.rows("SELECT audit_id, status, flags, resolved_by, reason FROM item_audits WHERE item_id = ? "
                   "ORDER BY opened_at, rowid", (item_id,))


def test_flags_of_one_item_make_one_open_audit_with_its_evidence(team):
    _, db, _ = team
    sent = audit("c0x0", "all_fail", "judge_symbolic_disagree") + audit("c0x1", "all_pass", solve_rate=1.0) \
        + audit("gone-item", "split", solve_rate=0.5)
    assert aq.send_to_adjudication(db, sent) == 3
    assert aq.send_to_adjudication(db, sent) == 0  # the same audit again: nothing changes
    queue = aq.audit_queue(db)
    assert [q["item_id"] for q in queue] == ["c0x0", "c0x1", "gone-item"] and aq.open_count(db) == 3
    first = queue[0]
    assert first["flags"] == ["all_fail", "judge_symbolic_disagree"] and first["status"] == "open"
    assert first["details"]["all_fail"] == "all_fail in a1"
    assert [m["model"] for m in first["models"]] == ["model-a", "model-b"]
    assert first["models"][1]["answers"][1] == {"format": "mc", "sample": "1", "grade": "correct",
                                                "parsed_answer": "B", "expected": "B", "reason": None,
                                                "raw_answer": "B"}
    assert r"\frac{a}{ b" in first["item"]["question"]  # c0x0's question (broken LaTeX, as written)
    assert first["item"]["answer"] and first["item"]["paper_id"] == "arxiv:2611.00000"
    assert queue[2]["item"] is None  # a released item the review database does not hold: shown as is


def test_an_open_audit_is_updated_and_a_decision_is_never_reopened_by_the_same_audit(team):
    settings, db, who = team
    aq.send_to_adjudication(db, audit("c0x0", "all_fail"))
    assert aq.send_to_adjudication(db, audit("c0x0", "all_fail", "split", evidence=evidence("y = 3"))) == 1
    (row,) = aq.audit_queue(db)
    assert row["flags"] == ["all_fail", "split"] and row["models"][0]["answers"][0]["parsed_answer"] == "y = 3"
    # a newer audit updates the open one in place (one open audit per item)
    assert aq.send_to_adjudication(db, audit("c0x0", "all_fail", audit_id="a2", at=T0 + timedelta(days=1))) == 1
    assert [(r["audit_id"], r["status"]) for r in rows(db, "c0x0")] == [("a2", "open")]
    # an older audit sent afterwards does not undo the newer one
    assert aq.send_to_adjudication(db, audit("c0x0", "split", audit_id="a0", at=T0 - timedelta(days=1))) == 0

    aq.resolve_audit(settings, db, who["boss"], "c0x0", "keep", comment="the key is right")
    assert aq.send_to_adjudication(db, audit("c0x0", "all_fail", audit_id="a2", at=T0 + timedelta(days=1),
                                             evidence=evidence("z"))) == 0
    assert aq.audit_queue(db) == [] and rows(db, "c0x0")[0]["status"] == "kept"


def test_a_kept_item_is_reopened_only_by_a_new_audit_with_other_flags_and_a_retired_one_never(team):
    settings, db, who = team
    aq.send_to_adjudication(db, audit("c0x0", "all_fail") + audit("c0x1", "all_pass"))
    aq.resolve_audit(settings, db, who["boss"], "c0x0", "keep")
    aq.resolve_audit(settings, db, who["boss"], "c0x1", "retire", "trivial")
    later = T0 + timedelta(days=30)
    assert aq.send_to_adjudication(db, audit("c0x0", "all_fail", audit_id="a2", at=later)) == 0  # same question
    assert aq.send_to_adjudication(db, audit("c0x1", "split", audit_id="a2", at=later)) == 0  # retired: final
    assert aq.send_to_adjudication(db, audit("c0x0", "split", audit_id="a3", at=later)) == 1
    # the reopened item is a new row; the earlier decision stays as it was
    assert [(r["audit_id"], r["status"], r["resolved_by"]) for r in rows(db, "c0x0")] == \
        [("a1", "kept", "boss"), ("a3", "open", None)]
    assert [q["item_id"] for q in aq.audit_queue(db)] == ["c0x0"]
    everything = aq.audit_queue(db, include_resolved=True)
    assert [(q["item_id"], q["status"], q["latest"]) for q in everything] == \
        [("c0x0", "open", True), ("c0x1", "retired", True), ("c0x0", "kept", False)]  # kept: superseded


def test_only_admins_resolve_once_and_only_the_same_admin_changes_their_decision(team):
    settings, db, who = team
    aq.send_to_adjudication(db, audit("c0x0", "all_fail"))
    with pytest.raises(aq.AuditRefused) as refused:
        aq.resolve_audit(settings, db, who["ana"], "c0x0", "keep")
    assert refused.value.status == 403
    # the role is the database's, not what a caller claims
    with pytest.raises(aq.AuditRefused) as refused:
        aq.resolve_audit(settings, db, review.Reviewer("ana", "admin"), "c0x0", "keep")
    assert refused.value.status == 403
    with pytest.raises(aq.AuditRefused) as refused:
        aq.resolve_audit(settings, db, who["boss"], "c0x0", "retire")  # no reason
    assert refused.value.status == 422
    with pytest.raises(aq.NoAudit):
        aq.resolve_audit(settings, db, who["boss"], "c9x9", "keep")
    with pytest.raises(aq.AuditRefused) as refused:
        aq.resolve_audit(settings, db, who["boss"], "c0x0", "keep", audit_id="an-older-page")
    assert refused.value.status == 409 and "audited again" in str(refused.value)
    assert rows(db, "c0x0")[0]["status"] == "open"

    first = aq.resolve_audit(settings, db, who["boss"], "c0x0", "keep", comment="fine", audit_id="a1")
    assert (first["outcome"], first["status"], first["reason"]) == ("resolved", "kept", None)
    assert aq.resolve_audit(settings, db, who["boss"], "c0x0", "keep", comment="fine")["outcome"] == "unchanged"
    with pytest.raises(aq.AuditRefused) as refused:
        aq.resolve_audit(settings, db, who["chief"], "c0x0", "retire", "wrong_key")
    assert refused.value.status == 409 and "boss" in str(refused.value)
    changed = aq.resolve_audit(settings, db, who["boss"], "c0x0", "retire", "wrong_key", "on second look")
    assert (changed["outcome"], changed["status"], changed["reason"], changed["resolved_by"]) == \
        ("changed", "retired", "wrong_key", "boss")


def test_a_retirement_lands_in_the_lake_and_a_changed_mind_takes_it_back(team):
    settings, db, who = team
    lake = storage.Lake.from_settings(settings)
    aq.send_to_adjudication(db, audit("c0x0", "all_fail", "split") + audit("c0x1", "all_fail"))
    aq.resolve_audit(settings, db, who["boss"], "c0x0", "retire", "wrong_key", "the paper's sign is off")
    aq.resolve_audit(settings, db, who["chief"], "c0x1", "retire", "ambiguous")
    (row,) = lake.read_part(Retirement, aq.retirement_part("c0x0"))
    assert (row["item_id"], row["reason"], row["retired_by"]) == ("c0x0", "wrong_key", "boss")
    assert "all_fail, split" in row["detail"] and "the paper's sign is off" in row["detail"]
    assert len(lake.table_files("retirements")) == 2  # one file per item: none overwrites another
    storage.publish_catalog(settings)
    assert {(r["item_id"], r["reason"]) for r in storage.query_rows(settings, "SELECT * FROM retirements")} == \
        {("c0x0", "wrong_key"), ("c0x1", "ambiguous")}

    aq.resolve_audit(settings, db, who["boss"], "c0x0", "keep", comment="misread it")
    assert lake.read_part(Retirement, aq.retirement_part("c0x0")) == []
    assert len(lake.read_part(Retirement, aq.retirement_part("c0x1"))) == 1


def test_when_the_lake_cannot_be_written_no_retirement_is_recorded(team, monkeypatch):
    settings, db, who = team
    aq.send_to_adjudication(db, audit("c0x0", "all_fail"))

    def broken(*args, **kwargs):
        raise OSError("the lake is away")

    monkeypatch.setattr(storage.Lake, "write_table", broken)
    with pytest.raises(OSError):
        aq.resolve_audit(settings, db, who["boss"], "c0x0", "retire", "wrong_key")
    assert rows(db, "c0x0")[0]["status"] == "open"  # the admin can simply try again


def test_audits_leave_reviews_and_adjudications_alone(team):
    settings, db, who = team
    for name in ("ana", "ben"):
        for q in review.queue(db, name):
            form = review.ReviewForm(reasoning_density=3, problem_clarity=4, derivation_correctness=2,
                                     problem_difficulty=3, human_heuristics=3, decision="keep",
                                     comment=f"{name} on {q['candidate_id']}", submission_id=f"sub-{name}-0001")
            review.submit(db, who[name], q["candidate_id"], form)
    review.adjudicate(db, who["boss"], "c0x0", "keep", "good")
    before = db.snapshot()
    aq.send_to_adjudication(db, audit("c0x0", "all_fail") + audit("c0x1", "all_pass"))
    aq.resolve_audit(settings, db, who["boss"], "c0x0", "retire", "wrong_key")
    aq.resolve_audit(settings, db, who["chief"], "c0x1", "keep")
    aq.send_to_adjudication(db, audit("c0x1", "split", audit_id="a2", at=T0 + timedelta(days=2)))
    assert db.snapshot() == before and len(before[0]) == 6


def test_a_review_database_from_before_audits_opens_with_its_reviews(team):
    settings, db, who = team
    cid = review.queue(db, "ana")[0]["candidate_id"]
    review.submit(db, who["ana"], cid, review.ReviewForm(
        reasoning_density=3, problem_clarity=4, derivation_correctness=2, problem_difficulty=3,
        human_heuristics=3, decision="keep", submission_id="sub-ana-0001"))
    with db.transaction(write=True) as con:  # as a database made before this table existed
        con.execute("DROP INDEX item_audits_one_open")
        con.execute("DROP TABLE item_audits")
    reopened = review.open_db(settings)
    assert not reopened.created and reopened.count_reviews() == 1
    assert aq.send_to_adjudication(reopened, audit(cid, "all_fail")) == 1 and aq.open_count(reopened) == 1


def test_the_database_refuses_what_the_rules_forbid(team):
    _, db, _ = team
    aq.send_to_adjudication(db, audit("c0x0", "all_fail"))
    import sqlite3

    for sql in ("UPDATE item_audits SET status = 'retired', resolved_by = 'boss'",  # retired without a reason
                "UPDATE item_audits SET status = 'kept'",  # resolved by nobody
                "UPDATE item_audits SET status = 'gone', resolved_by = 'boss'",
                "INSERT INTO item_audits (item_id, audit_id, flags, audited_at, opened_at) "
                "VALUES ('c0x0', 'a9', '[]', 'x', 'x')"):  # a second open audit of one item
        with pytest.raises(sqlite3.IntegrityError), db.transaction(write=True) as con:
            con.execute(sql)
