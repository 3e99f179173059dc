"""The review app's web defences: CSRF on every POST, server-side sessions, cookie flags,
security headers and bounded request bodies."""

from __future__ import annotations

import asyncio

import pytest

from reviewapp import security
from reviewapp.app import LOGIN_BODY_LIMIT, LOGIN_COOKIE, SESSION_COOKIE, create_app
from tasks.curate import review
from tests.reviewapp.web import HTML, browser, client, csrf_in, form


def _shared(ana, ben_queue) -> str:
    return next(c["candidate_id"] for c in ana.get("/api/queue").json()
                if c["candidate_id"] in {q["candidate_id"] for q in ben_queue})


def test_every_post_a_cookie_authenticates_needs_the_sessions_csrf_token(world):
    _, db, tokens, app = world
    ana, ana_csrf = browser(app, tokens["ana"])
    boss, boss_csrf = browser(app, tokens["boss"])
    cid = ana.get("/api/queue").json()[0]["candidate_id"]
    refused = [
        ana.post(f"/candidates/{cid}/review", data=form()),
        ana.post(f"/candidates/{cid}/review", data=form(csrf_token="forged")),
        ana.post(f"/candidates/{cid}/review", data=form(csrf_token=boss_csrf)),  # another session's
        ana.post(f"/api/candidates/{cid}/review", json=form()),
        boss.post("/admin/load"),
        boss.post(f"/admin/candidates/{cid}/adjudicate", data={"decision": "keep"}),
        ana.post("/logout"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert "CSRF" in refused[0].json()["detail"]
    assert review.all_reviews(db) == [] and review.adjudications(db) == []
    assert ana.get("/api/me").status_code == 200  # the forged logout ended nothing

    ok = ana.post(f"/candidates/{cid}/review", data=form(csrf_token=ana_csrf), follow_redirects=False)
    assert ok.status_code == 303
    api = ana.post(f"/api/candidates/{cid}/review", json=form("sub-00000002"), headers={"X-CSRF-Token": ana_csrf})
    assert api.status_code == 200 and api.json()["revision"] == 2
    assert boss.post(f"/admin/candidates/{cid}/adjudicate", data={"decision": "keep", "csrf_token": boss_csrf},
                     follow_redirects=False).status_code == 303
    # API clients authenticate with a header a browser never adds by itself: no token needed
    ben = client(app, tokens["ben"])
    bens = ben.get("/api/queue").json()[0]["candidate_id"]
    assert ben.post(f"/api/candidates/{bens}/review", json=form()).status_code == 200


def test_every_form_on_the_pages_carries_the_token(world):
    _, _, tokens, app = world
    boss, csrf = browser(app, tokens["boss"])
    for path in ("/admin", "/candidates/c0x0", "/queue"):
        html = boss.get(path, headers=HTML).text
        assert html.count('<form method="post"') == html.count(f'name="csrf_token" value="{csrf}"'), path


def test_login_needs_the_forms_own_token(world):
    _, db, tokens, app = world
    c = client(app)
    # a login form posted from another site: no cookie, or a cookie and a field that differ
    assert c.post("/login", data={"token": tokens["ana"]}).status_code == 403
    csrf = csrf_in(c.get("/login", headers=HTML).text)
    assert c.post("/login", data={"token": tokens["ana"], "csrf_token": csrf + "x"}).status_code == 403
    c.cookies.delete(LOGIN_COOKIE)
    assert c.post("/login", data={"token": tokens["ana"], "csrf_token": csrf}).status_code == 403
    assert db.rows("SELECT count(*) AS n FROM sessions") == [{"n": 0}]
    refused = c.post("/login", data={"token": tokens["ana"]}, headers=HTML)
    assert "out of date" in refused.text and 'name="csrf_token"' in refused.text  # a fresh form to retry


def test_logout_ends_the_session_on_the_server(world):
    _, db, tokens, app = world
    ana, csrf = browser(app, tokens["ana"])
    stolen = ana.cookies.get(SESSION_COOKIE)
    assert stolen and db.rows("SELECT session_sha256 FROM sessions")[0]["session_sha256"] == \
        review.token_digest(stolen)  # only the hash is stored
    r = ana.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    thief = client(app)
    thief.cookies.set(SESSION_COOKIE, stolen)
    assert thief.get("/api/me").status_code == 401
    page = thief.get("/queue", headers=HTML, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert db.rows("SELECT count(*) AS n FROM sessions") == [{"n": 0}]


def test_a_new_token_and_the_sessions_age_end_sessions(world):
    _, db, tokens, app = world
    ana, _ = browser(app, tokens["ana"])
    ben, _ = browser(app, tokens["ben"])
    review.add_reviewer(db, "ana", rotate=True)
    assert ana.get("/api/me").status_code == 401
    assert ben.get("/api/me").status_code == 200
    with db.transaction(write=True) as con:
        con.execute("UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000000+00:00'")
    assert ben.get("/api/me").status_code == 401


@pytest.mark.parametrize(("host", "configured", "secure"), [
    ("127.0.0.1", None, False), ("localhost", None, False), ("::1", None, False),
    ("0.0.0.0", None, True), ("review.example.org", None, True), ("0.0.0.0", False, False),
    ("127.0.0.1", True, True)])
def test_cookies_are_secure_unless_the_app_listens_on_loopback(settings, host, configured, secure):
    settings.review.host, settings.review.secure_cookies = host, configured
    assert settings.review.cookies_secure() is secure
    app = create_app(settings, publish=False)
    token = review.add_reviewer(review.open_db(settings), "ana")
    c = client(app)
    page = c.get("/login", headers=HTML)
    assert ("; Secure" in page.headers["set-cookie"]) is secure
    # a plain-http visitor of a Secure-cookie app is told why a login will not stick
    assert ("HTTPS only" in page.text) is secure
    c.cookies.set(LOGIN_COOKIE, csrf_in(page.text))  # the test client keeps no Secure cookie over http
    r = c.post("/login", data={"token": token, "csrf_token": csrf_in(page.text)}, follow_redirects=False)
    session_cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE))
    assert ("; Secure" in session_cookie) is secure


def test_every_response_carries_the_security_headers(world):
    _, _, tokens, app = world
    boss, _ = browser(app, tokens["boss"])
    responses = {"page": boss.get("/admin", headers=HTML), "json": boss.get("/api/stats"),
                 "static": boss.get("/static/review.js"), "login": client(app).get("/login"),
                 "error": boss.get("/candidates/nope", headers=HTML), "png": boss.get("/candidates/c0x0/page.png")}
    for name, r in responses.items():
        csp = r.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, name
        assert [d for d in csp.split("; ") if "unsafe" in d] == ["style-src 'self' 'unsafe-inline'"], name
        assert r.headers["x-content-type-options"] == "nosniff", name
        assert r.headers["referrer-policy"] == "no-referrer", name
    assert responses["page"].headers["cache-control"] == "no-store"
    assert responses["png"].headers["cache-control"].startswith("private")  # the route's own caching stays
    assert "<script>" not in responses["page"].text  # nothing inline for the CSP to block


def test_a_login_body_over_its_limit_is_refused(world):
    _, _, _, app = world
    c = client(app)
    r = c.post("/login", content=b"token=" + b"a" * (LOGIN_BODY_LIMIT + 1),
               headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert c.post("/login", data={"token": "a" * 300, "csrf_token": "x"}).status_code == 422


def _run(middleware, chunks):
    """Feeds ``chunks`` (an iterator) to ``middleware`` as one request; returns the status, the
    number of chunks read and the bytes the app saw."""
    read, seen, status = [0], [0], []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            seen[0] += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive():
        read[0] += 1
        return {"type": "http.request", "body": next(chunks), "more_body": True}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {"type": "http", "path": "/login", "headers": [], "method": "POST"}
    try:
        asyncio.run(middleware(app)(scope, receive, send))
    except security.HTTPException as exc:  # raised from receive(): the app's handler answers 413
        status.append(exc.status_code)
    return status[0], read[0], seen[0]


def test_body_limit_stops_an_endless_body_while_reading_it():
    def endless():
        while True:
            yield b"x" * 1000

    status, chunks_read, seen = _run(lambda app: security.BodyLimit(app, default=10_000), endless())
    assert status == 413 and chunks_read == 11 and seen <= 10_000
    declared = security.BodyLimit(None, default=100)  # a declared length over the limit: not read at all
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        raise AssertionError("the body must not be read")

    asyncio.run(declared({"type": "http", "path": "/x", "headers": [(b"content-length", b"101")]}, receive, send))
    assert sent[0]["status"] == 413
