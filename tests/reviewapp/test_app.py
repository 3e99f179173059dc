"""The review app over HTTP (FastAPI's TestClient): auth, blindness, assignment, bad input."""

from __future__ import annotations

from reviewapp.app import SESSION_COOKIE, create_app
from tasks.curate import review
from tests.factories import candidate_catalog
from tests.reviewapp.web import HTML, browser, client, csrf_in, form


def test_every_request_needs_a_known_token(world):
    _, _, tokens, app = world
    anonymous = client(app)
    assert anonymous.get("/api/queue").status_code == 401
    assert client(app, "not-a-token").get("/api/queue").status_code == 401
    assert client(app, "not-a-token").get("/queue", headers={"accept": "text/html"}).status_code == 401
    page = anonymous.get("/queue", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert client(app, tokens["ana"]).get("/api/me").json() == {"name": "ana", "role": "reviewer"}


def test_login_starts_a_session_and_a_wrong_token_is_401(world):
    _, db, tokens, app = world
    c = client(app)
    csrf = csrf_in(c.get("/login", headers=HTML).text)
    assert c.post("/login", data={"token": "wrong", "csrf_token": csrf}).status_code == 401
    csrf = csrf_in(c.get("/login", headers=HTML).text)
    r = c.post("/login", data={"token": tokens["ben"], "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert tokens["ben"] not in cookie  # the browser holds a session id, never the token
    assert c.get("/api/me").json()["name"] == "ben"
    assert db.rows("SELECT reviewer FROM sessions") == [{"reviewer": "ben"}]


def test_tokens_are_stored_hashed(world):
    settings, db, tokens, _ = world
    raw = open(settings.review_db_path, "rb").read()
    for token in tokens.values():
        assert token.encode() not in raw
    assert {r["token_sha256"] for r in db.rows("SELECT token_sha256 FROM reviewers")} == \
        {review.token_digest(t) for t in tokens.values()}


def test_each_candidate_gets_k_reviewers_spread_evenly(world):
    _, db, _, _ = world
    per_candidate = db.rows("SELECT candidate_id, count(*) AS n FROM assignments GROUP BY candidate_id")
    assert len(per_candidate) == 6 and {r["n"] for r in per_candidate} == {2}
    loads = {r["reviewer"]: r["assigned"] for r in review.progress(db)}
    assert set(loads) == {"ana", "ben", "cho"} and max(loads.values()) - min(loads.values()) <= 1
    assert review.assign(db, 2).assigned == 0  # idempotent


def test_a_reviewer_reads_and_writes_only_their_own(world):
    _, db, tokens, app = world
    ana, ben = client(app, tokens["ana"]), client(app, tokens["ben"])
    mine = [q["candidate_id"] for q in ana.get("/api/queue").json()]
    bens = [q["candidate_id"] for q in ben.get("/api/queue").json()]
    shared = next(c for c in mine if c in bens)
    not_mine = next(c for c in bens if c not in mine)

    assert ana.post(f"/api/candidates/{shared}/review", json=form()).status_code == 200
    assert ben.post(f"/api/candidates/{shared}/review", json=form("sub-ben00001", problem_clarity=1)).status_code == 200
    # blind: each sees only their own scores, even for the candidate they share
    seen = ana.get("/api/reviews").json()
    assert [(r["reviewer"], r["problem_clarity"]) for r in seen] == [("ana", 5)]
    assert "problem_clarity" not in str(ana.get(f"/api/candidates/{shared}").json())
    assert "ben" not in ana.get(f"/candidates/{shared}", headers={"accept": "text/html"}).text
    # someone else's candidate: 403 to read and to write, and nothing is stored
    assert ana.get(f"/api/candidates/{not_mine}").status_code == 403
    assert ana.get(f"/candidates/{not_mine}", headers={"accept": "text/html"}).status_code == 403
    assert ana.post(f"/api/candidates/{not_mine}/review", json=form("sub-ana00002")).status_code == 403
    assert ana.post(f"/candidates/{not_mine}/review", data=form("sub-ana00003")).status_code == 403
    assert len(review.all_reviews(db)) == 2
    # the admin sees everything
    boss = client(app, tokens["boss"])
    assert len(boss.get("/api/reviews").json()) == 2
    assert "ben" in boss.get(f"/candidates/{shared}", headers={"accept": "text/html"}).text
    assert ana.get("/admin").status_code == 403 and ana.get("/api/stats").status_code == 403


def test_malformed_forms_get_422_with_a_message(world):
    _, db, tokens, app = world
    ana = client(app, tokens["ana"])
    cid = ana.get("/api/queue").json()[0]["candidate_id"]
    for bad, field in ((form(problem_clarity=7), "problem_clarity"), (form(decision="maybe"), "decision"),
                       ({k: v for k, v in form().items() if k != "human_heuristics"}, "human_heuristics"),
                       (form(reasoning_density="four"), "reasoning_density"),
                       (form(submission_id="x"), "submission_id")):
        r = ana.post(f"/candidates/{cid}/review", data=bad)
        assert r.status_code == 422 and field in r.json()["detail"], r.text
        html = ana.post(f"/candidates/{cid}/review", data=bad, headers={"accept": "text/html"})
        assert html.status_code == 422 and field in html.text
    assert ana.post(f"/api/candidates/{cid}/review", content=b"{not json",
                    headers={"content-type": "application/json"}).status_code == 422
    assert review.all_reviews(db) == []


def test_double_submit_stores_one_review_and_a_change_is_a_new_revision(world):
    _, db, tokens, app = world
    ana = client(app, tokens["ana"])
    cid = ana.get("/api/queue").json()[0]["candidate_id"]
    first = ana.post(f"/candidates/{cid}/review", data=form(), follow_redirects=False)
    again = ana.post(f"/candidates/{cid}/review", data=form(), follow_redirects=False)
    assert first.status_code == again.status_code == 303
    stored = review.all_reviews(db)
    assert len(stored) == 1 and stored[0].revision == 1
    ana.post(f"/candidates/{cid}/review", data=form("sub-00000002", decision="reject"))
    (changed,) = review.all_reviews(db)
    assert changed.revision == 2 and changed.decision == "reject"


def test_home_resumes_at_the_first_unreviewed_candidate(world):
    _, _, tokens, app = world
    ana = client(app, tokens["ana"])
    queue = [q["candidate_id"] for q in ana.get("/api/queue").json()]
    first = ana.get("/", follow_redirects=False)
    assert first.headers["location"] == f"/candidates/{queue[0]}"
    after = ana.post(f"/candidates/{queue[0]}/review", data=form(), follow_redirects=False)
    assert after.headers["location"] == f"/candidates/{queue[1]}"
    assert ana.get("/", follow_redirects=False).headers["location"] == f"/candidates/{queue[1]}"


def test_review_page_renders_math_evidence_and_broken_latex(world):
    _, db, tokens, app = world
    boss = client(app, tokens["boss"])
    page = boss.get("/candidates/c0x0", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert r"\frac{a}{ b" in page.text  # broken LaTeX: the source is on the page
    assert "/static/katex/katex.min.js" in page.text and "cdn" not in page.text.lower()
    assert "<mark>We assume each loss is convex and G-Lipschitz.</mark>" in page.text
    assert boss.get("/static/katex/katex.min.js").status_code == 200
    png = boss.get("/candidates/c0x0/page.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert boss.get("/candidates/c0x0/page.png?n=9").status_code == 404


def test_new_accounts_get_work_when_they_log_in_not_on_page_views(settings):
    candidate_catalog(settings, papers=1, per_paper=4)
    db = review.open_db(settings)
    review.load_items(settings, db)
    app = create_app(settings, publish=False)
    token = review.add_reviewer(db, "late")
    as_api = client(app, token)
    assert as_api.get("/", follow_redirects=False).headers["location"] == "/queue"
    assert as_api.get("/api/queue").json() == []  # page views write nothing
    logged_in, _ = browser(app, token)
    assert logged_in.get("/", follow_redirects=False).headers["location"].startswith("/candidates/")
    assert len(as_api.get("/api/queue").json()) == 4


def test_adjudication_is_admin_only_and_leaves_the_queue(world):
    settings, db, tokens, app = world
    ana, ben, boss = (client(app, tokens[n]) for n in ("ana", "ben", "boss"))
    shared = next(c["candidate_id"] for c in ana.get("/api/queue").json()
                  if c["candidate_id"] in {q["candidate_id"] for q in ben.get("/api/queue").json()})
    ana.post(f"/api/candidates/{shared}/review", json=form())
    ben.post(f"/api/candidates/{shared}/review", json=form("sub-ben00001", decision="reject"))
    assert boss.get("/api/stats").json()["adjudication_queue"] == [shared]
    assert ana.post(f"/admin/candidates/{shared}/adjudicate", data={"decision": "keep"}).status_code == 403
    assert boss.post(f"/admin/candidates/{shared}/adjudicate", data={"decision": "keep", "comment": "ok"},
                     follow_redirects=False).status_code == 303
    assert boss.get("/api/stats").json()["adjudication_queue"] == []
    assert "Adjudication queue (0)" in boss.get("/admin", headers={"accept": "text/html"}).text


def test_admin_loads_new_candidates_while_serving(world):
    settings, db, tokens, app = world
    boss = client(app, tokens["boss"])
    before = len(db.rows("SELECT 1 FROM items"))
    candidate_catalog(settings, papers=3, per_paper=3)  # a later run added a paper
    r = boss.post("/admin/load", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin?loaded=3&assigned=6"
    assert len(db.rows("SELECT 1 FROM items")) == before + 3
    assert "3 new candidates loaded, 6 assignments made" in boss.get(r.headers["location"]).text
    assert client(app, tokens["ana"]).post("/admin/load").status_code == 403


def test_an_unreadable_catalog_is_a_503_and_the_app_keeps_serving(world):
    settings, _, tokens, app = world
    boss = client(app, tokens["boss"])
    with open(settings.catalog_path, "wb") as f:
        f.write(b"this is not a DuckDB file")
    r = boss.post("/admin/load")
    assert r.status_code == 503 and "could not read candidates from the catalog" in r.json()["detail"]
    assert boss.get("/api/stats").status_code == 200


def test_rules_drafted_problems_are_loaded_and_say_what_they_are(settings):
    ids = candidate_catalog(settings, papers=1, per_paper=2, drafted=frozenset({"c0x1"}))
    db = review.open_db(settings)
    token = review.add_reviewer(db, "boss", "admin")
    assert review.load_items(settings, db) == 2
    boss = client(create_app(settings, publish=False), token)
    assert "Drafted by rules" in boss.get(f"/candidates/{ids[1]}", headers=HTML).text
    assert "Drafted by rules" not in boss.get(f"/candidates/{ids[0]}", headers=HTML).text
