"""Clients for the review app as an API client (a bearer token) and as a browser (a session)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

SCORES = {"reasoning_density": 4, "problem_clarity": 5, "derivation_correctness": 4,
          "problem_difficulty": 3, "human_heuristics": 2}
HTML = {"accept": "text/html"}


def client(app, token=None) -> TestClient:
    """An API client: ``Authorization: Bearer`` on every request, no cookies needed."""
    c = TestClient(app)
    if token:
        c.headers["Authorization"] = f"Bearer {token}"
    return c


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token field"
    return found.group(1)


def browser(app, token: str) -> tuple[TestClient, str]:
    """A browser that logged in through the form: (client with its session cookie, the
    session's CSRF token, as its pages carry it)."""
    c = TestClient(app)
    login = c.get("/login", headers=HTML)
    r = c.post("/login", data={"token": token, "csrf_token": csrf_in(login.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c, csrf_in(c.get("/queue", headers=HTML).text)


def form(submission_id="sub-00000001", **over):
    return {**SCORES, "decision": "keep", "comment": "fine", "submission_id": submission_id, **over}
