"""The item audit queue in the review app (/admin/audits): admins only, CSRF on every decision,
models' answers shown as escaped text, a retirement written to the lake."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tasks.core.records import ItemAudit, Retirement
from tasks.curate import audit_queue, review
from tasks.io import storage
from tests.reviewapp.web import HTML, browser, client

HOSTILE = '</pre></div><script>alert("raw")</script><img src=x onerror=alert(1)>'
HOSTILE_ITEM = 'gone"><script>alert(2)</script>'


def evidence(raw: str = "so $x = 2$", parsed: str = r"$x = \frac{4}{2}$", model: str = "model-a") -> str:
    return json.dumps({"models": {
        model: [{"format": "judge", "sample": 0, "grade": "incorrect", "parsed_answer": parsed, "raw_answer": raw}],
        "model-b": [{"format": "symbolic", "sample": 0, "grade": "correct", "parsed_answer": "x = 2",
                     "expected": "x = 2", "reason": "math_verify_equal", "raw_answer": "x = 2"}]}})


def send(db, item_id: str, *flags: str, audit_id: str = "audit-1", **kw) -> int:
    return audit_queue.send_to_adjudication(db, [
        ItemAudit(audit_id=audit_id, item_id=item_id, flag=f, solve_rate=0.5, models=2, attempts=2,
                  detail=f"{f}: 1 of 2 models", evidence=evidence(**kw), audited_at=datetime(2026, 12, 1, tzinfo=UTC))
        for f in flags])


def test_the_admin_sees_the_audits_with_their_evidence_and_retires_an_item(world):
    settings, db, tokens, app = world
    send(db, "c0x1", "split", "judge_symbolic_disagree")
    send(db, "released-only", "all_fail")
    boss, csrf = browser(app, tokens["boss"])

    admin = boss.get("/admin", headers=HTML).text
    assert "Item audits (2 open)" in admin and 'href="/admin/audits"' in admin
    page = boss.get("/admin/audits", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "Item audits (2 open)" in text
    for shown in ("c0x1", "released-only", "split", "judge symbolic disagree", "0.50", "model-a", "model-b",
                  "incorrect", "correct", "audit-1", r"$x = \frac{4}{2}$", "so $x = 2$", "split: 1 of 2 models",
                  "graded against", "math verify equal", "Paper 0: convex learning", "is not in the review database"):
        assert shown in text, shown
    question = review.item(db, review.Reviewer("boss", "admin"), "c0x1")
    assert question["question"].replace("$", "") in text.replace("$", "")
    assert "/static/katex/katex.min.js" in text  # math renders in the browser, from the app's own KaTeX

    r = boss.post("/admin/audits/resolve", data={
        "item_id": "c0x1", "audit_id": "audit-1", "decision": "retire", "reason": "ambiguous",
        "comment": "two readings", "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/audits"
    (row,) = storage.Lake.from_settings(settings).read_part(Retirement, audit_queue.retirement_part("c0x1"))
    assert (row["item_id"], row["reason"], row["retired_by"]) == ("c0x1", "ambiguous", "boss")
    after = boss.get("/admin/audits", headers=HTML).text
    assert "Item audits (1 open)" in after and "Decided (1)" in after and "two readings" in after
    assert "Change my decision" in after  # the admin who decided may change it
    assert "Item audits (1 open)" in boss.get("/admin", headers=HTML).text

    api = client(app, tokens["boss"]).get("/api/audits?resolved=true").json()
    assert [(a["item_id"], a["status"]) for a in api] == [("released-only", "open"), ("c0x1", "retired")]


def test_a_reviewer_gets_403_and_changes_nothing(world):
    _, db, tokens, app = world
    send(db, "c0x1", "all_pass")
    ana, csrf = browser(app, tokens["ana"])
    assert ana.get("/admin/audits", headers=HTML).status_code == 403
    assert ana.get("/api/audits").status_code == 403
    assert "Item audits" not in ana.get("/queue", headers=HTML).text
    r = ana.post("/admin/audits/resolve", data={"item_id": "c0x1", "decision": "keep", "csrf_token": csrf})
    assert r.status_code == 403
    api = client(app, tokens["ana"]).post("/admin/audits/resolve", data={"item_id": "c0x1", "decision": "keep"})
    assert api.status_code == 403
    assert [a["status"] for a in audit_queue.audit_queue(db)] == ["open"]


def test_a_decision_needs_the_sessions_csrf_token(world):
    settings, db, tokens, app = world
    send(db, "c0x1", "all_fail")
    boss, csrf = browser(app, tokens["boss"])
    ana, ana_csrf = browser(app, tokens["ana"])
    decision = {"item_id": "c0x1", "decision": "retire", "reason": "wrong_key"}
    for forged in ({}, {"csrf_token": "forged"}, {"csrf_token": ana_csrf}):
        r = boss.post("/admin/audits/resolve", data={**decision, **forged})
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert [a["status"] for a in audit_queue.audit_queue(db)] == ["open"]
    assert storage.Lake.from_settings(settings).table_files("retirements") == []
    html = boss.get("/admin/audits", headers=HTML).text
    assert html.count('<form method="post"') == html.count(f'name="csrf_token" value="{csrf}"') >= 2
    ok = boss.post("/admin/audits/resolve", data={**decision, "csrf_token": csrf}, follow_redirects=False)
    assert ok.status_code == 303


def test_models_answers_are_shown_as_text_never_as_markup(world):
    _, db, tokens, app = world
    send(db, "c0x1", "split", raw=HOSTILE, parsed=HOSTILE + r" \href{javascript:alert(3)}{x}",
         model="<b>evil</b>")
    send(db, HOSTILE_ITEM, "all_fail", raw=HOSTILE)
    boss, _ = browser(app, tokens["boss"])
    text = boss.get("/admin/audits", headers=HTML).text
    assert "<script>alert" not in text and "<img src=x" not in text and "<b>evil</b>" not in text
    assert "&lt;script&gt;alert(&#34;raw&#34;)&lt;/script&gt;" in text and "&lt;b&gt;evil&lt;/b&gt;" in text
    assert 'value="gone&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in text  # even an item id
    assert "<script" not in text.replace('<script defer src="/static/', "")


def test_refusals_are_explained_and_record_nothing(world):
    settings, db, tokens, app = world
    chief_token = review.add_reviewer(db, "chief", "admin")
    send(db, "c0x1", "all_fail")
    boss, chief = client(app, tokens["boss"]), client(app, chief_token)
    no_reason = boss.post("/admin/audits/resolve", data={"item_id": "c0x1", "decision": "retire"})
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.json()["detail"]
    bad = boss.post("/admin/audits/resolve", data={"item_id": "c0x1", "decision": "delete"})
    assert bad.status_code == 422 and "decision" in bad.json()["detail"]
    assert boss.post("/admin/audits/resolve", data={"item_id": "c9x9", "decision": "keep"}).status_code == 404
    stale = boss.post("/admin/audits/resolve", data={"item_id": "c0x1", "decision": "keep", "audit_id": "old"})
    assert stale.status_code == 409 and "reload" in stale.json()["detail"]
    assert boss.post("/admin/audits/resolve", data={"item_id": "c0x1", "decision": "keep"},
                     follow_redirects=False).status_code == 303
    taken = chief.post("/admin/audits/resolve", data={"item_id": "c0x1", "decision": "retire", "reason": "trivial"},
                       headers=HTML)
    assert taken.status_code == 409 and "resolved by boss" in taken.text
    assert "Change my decision" not in chief.get("/admin/audits", headers=HTML).text  # not chief's decision
    (row,) = audit_queue.audit_queue(db, include_resolved=True)
    assert (row["status"], row["resolved_by"]) == ("kept", "boss")
    assert storage.Lake.from_settings(settings).table_files("retirements") == []
