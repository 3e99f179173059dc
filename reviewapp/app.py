"""The expert review web app: one FastAPI process, server-rendered pages, KaTeX shipped here.

FastAPI (already in the stack through Prefect) serves several concurrent reviewers from one
process: page handlers are plain functions run in its thread pool, and every read or write is a
short SQLite transaction (``tasks.curate.review``), so reviewers never wait on each other for more than
one write.

Logging in with a reviewer's token (a long random value, stored hashed) starts a server-side
session: the browser keeps only a random session id in an HttpOnly, SameSite=Strict cookie
(``Secure`` off loopback), logging out deletes the session, and every form carries the
session's CSRF token (``reviewapp.security``). API clients send ``Authorization: Bearer
<token>`` instead. Work is assigned when a reviewer logs in and when an admin loads candidates,
not on page views.

Routes: ``/login``, ``/`` (resume where you left off), ``/queue``, ``/candidates/{id}`` (review
page), ``/candidates/{id}/review`` (form POST), ``/candidates/{id}/page.png`` (the PDF page),
``/admin`` (agreement, grader calibration, progress, adjudication queue), ``/admin/candidates/{id}/adjudicate``,
``/admin/audits`` (items an evaluation audit flagged: keep or retire, ``/admin/audits/resolve``),
and JSON twins under ``/api``.
"""

# No ``from __future__ import annotations``: FastAPI resolves the route signatures, which use
# dependency aliases local to ``create_app``.
import logging
import secrets
import threading
import uuid
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from reviewapp import security
from reviewapp.highlight import highlight
from tasks.core.records import PRINCIPLES, Decision
from tasks.core.settings import Settings
from tasks.curate import agreement as agreement_of
from tasks.curate import audit_queue, review
from tasks.curate.review import ReviewDB
from tasks.documents.pages import page_png
from tasks.evaluate import calibration

HERE = Path(__file__).parent
SESSION_COOKIE = "stormborn_session"
LOGIN_COOKIE = "stormborn_login"
"""Holds the login form's CSRF token until the form comes back (double submit)."""
LOGIN_BODY_LIMIT = 4096
BODY_LIMIT = 64 * 1024
"""Bytes a request body may have: a review form (comment ≤ 5,000 characters) fits many times."""
AUDITS_DECIDED_SHOWN = 200
"""Resolved item audits listed under the open ones (latest first); ``/api/audits?resolved=true`` has all."""
PRINCIPLE_HELP = {
    "reasoning_density": "How much genuine reasoning the derivation needs per step.",
    "problem_clarity": "Is the question self-contained and unambiguous?",
    "derivation_correctness": "Is the paper's derivation correct and complete?",
    "problem_difficulty": "How hard is it for a strong graduate student?",
    "human_heuristics": "Does it need human-like heuristics: approximations, judicious steps?",
}
log = logging.getLogger("stormborn.review")


class SnapshotPublisher:
    """Copies the review tables into the lake after changes, off the request path.

    Requests only set a flag; one background thread does the copy (and republishes the catalog),
    so a burst of submissions costs one copy, and a slow lake never slows a reviewer down.
    """

    def __init__(self, settings: Settings, db: ReviewDB):
        self.settings, self.db = settings, db
        self.min_interval_s = settings.review.snapshot_seconds
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="review-snapshot", daemon=True)

    def start(self) -> None:
        self._wanted.set()  # one copy at start: reviews committed just before a crash get there too
        self._thread.start()

    def request(self) -> None:
        self._wanted.set()

    def stop(self) -> None:
        self._stop.set()
        self._wanted.set()
        self._thread.join(timeout=60)
        self.flush()

    def flush(self) -> None:
        try:
            review.snapshot(self.settings, self.db)
        except Exception:  # the reviews are safe in SQLite; the next change copies them again
            log.exception("could not copy reviews to the lake")

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wanted.wait()
            if self._stop.is_set():
                return
            self._wanted.clear()
            self.flush()
            self._stop.wait(self.min_interval_s)


def create_app(settings: Settings, publish: bool = True) -> FastAPI:
    db = review.open_db(settings)
    publisher = SnapshotPublisher(settings, db) if publish else None
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(PRINCIPLES=PRINCIPLES, PRINCIPLE_HELP=PRINCIPLE_HELP)
    # The admin page's link to the audit queue asks for the count itself (admin_audits_link.html).
    templates.env.globals["open_audits"] = lambda: audit_queue.open_count(db)

    def grader_calibration() -> dict[str, Any]:
        """The admin page's grader calibration (admin_calibration.html), from this database's
        reviews (fresher than the lake's copy) and the catalog's scores and evaluations. Never
        an error page: with no catalog yet, or one being replaced, the section says so."""
        try:
            return {"report": calibration.calibrate(settings, review.all_reviews(db), review.adjudications(db)),
                    "error": None}
        except Exception as exc:
            log.warning("grader calibration unavailable: %s", exc)
            return {"report": None, "error": type(exc).__name__}

    templates.env.globals["grader_calibration"] = grader_calibration

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if publisher:
            publisher.start()
        yield
        if publisher:
            publisher.stop()

    # No Swagger UI: it loads scripts from a CDN, which the CSP forbids; /openapi.json stays.
    app = FastAPI(title="stormborn review", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(security.BodyLimit, default=BODY_LIMIT, limits={"/login": LOGIN_BODY_LIMIT})
    app.add_middleware(security.SecurityHeaders)
    app.state.db = db
    secure = settings.review.cookies_secure()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def changed() -> None:
        if publisher:
            publisher.request()

    # -- authentication ----------------------------------------------------------------------
    def bearer_of(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    async def current(request: Request) -> review.Reviewer:
        token = bearer_of(request)
        if token is not None:
            # An API client: the token is sent on purpose, never by a browser on its own, so
            # there is no cross-site request to guard against.
            who = await run_in_threadpool(review.authenticate, db, token)
            if who is None:
                raise HTTPException(401, "unknown token")
            return who
        cookie = request.cookies.get(SESSION_COOKIE)
        session = await run_in_threadpool(review.session_of, db, cookie)
        if session is None:
            raise HTTPException(401, "your session has ended: log in again" if cookie else "log in first")
        request.state.csrf_token = session.csrf_token
        if request.method not in security.SAFE_METHODS:
            await security.check_csrf(request, session.csrf_token)
        return session.reviewer

    def admin(who: Annotated[review.Reviewer, Depends(current)]) -> review.Reviewer:
        if not who.is_admin:
            raise HTTPException(403, "admins only")
        return who

    Who = Annotated[review.Reviewer, Depends(current)]
    Admin = Annotated[review.Reviewer, Depends(admin)]

    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", "")

    def page(request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("csrf_token", getattr(request.state, "csrf_token", None))
        return templates.TemplateResponse(request, name, context, status_code=code)

    def set_cookie(response: Response, name: str, value: str, max_age: int, path: str = "/") -> None:
        response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="strict", secure=secure)

    def forget_cookie(response: Response, name: str, path: str = "/") -> None:
        response.delete_cookie(name, path=path, httponly=True, samesite="strict", secure=secure)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 401 and wants_html(request) and bearer_of(request) is None:
            response = RedirectResponse("/login", status_code=303)
            if request.cookies.get(SESSION_COOKIE):
                forget_cookie(response, SESSION_COOKIE)  # ended or expired: the browser drops it too
            return response
        if wants_html(request):
            return page(request, "error.html", exc.status_code, status=exc.status_code, message=exc.detail)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(review.NotAssigned)
    async def not_assigned(request: Request, exc: review.NotAssigned):
        return await http_error(request, HTTPException(403, f"candidate {exc} is not assigned to you"))

    @app.exception_handler(review.UnknownCandidate)
    async def unknown_candidate(request: Request, exc: review.UnknownCandidate):
        return await http_error(request, HTTPException(404, f"no candidate {exc}"))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()]
        message = "the form is not valid: " + "; ".join(problems)
        if wants_html(request):
            return page(request, "error.html", 422, status=422, message=message)
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": message, "errors": errors}, status_code=422)

    # -- pages -------------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def login_form(request: Request, code: int = 200, error: str | None = None) -> HTMLResponse:
        """The login page with a fresh CSRF token, in the page and in a short-lived cookie: a
        login form posted from another site carries neither (SameSite keeps the cookie home)."""
        csrf = secrets.token_urlsafe(32)
        plain_http = request.url.scheme == "http" and request.headers.get("x-forwarded-proto", "http") == "http"
        response = page(request, "login.html", code, error=error, csrf_token=csrf,
                        https_only=secure and plain_http)
        set_cookie(response, LOGIN_COOKIE, csrf, max_age=60 * 60, path="/login")
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request):
        return login_form(request)

    @app.post("/login")
    def login(request: Request, token: Annotated[str, Form(max_length=256)],
              csrf_token: Annotated[str, Form(max_length=256)] = ""):
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
            return login_form(request, 403, "This login form is out of date or came from another site: try again.")
        who = review.authenticate(db, token.strip())
        if who is None:
            return login_form(request, 401, "That token is not known.")
        cookie, _ = review.start_session(db, who, settings.review.session_days)
        if not who.is_admin:
            # Accounts made while the server runs get their share when they first log in; cheap
            # (SQLite only) and a no-op once every candidate has k reviewers.
            review.assign(db, settings.review.reviewers_per_candidate)
        response = RedirectResponse("/", status_code=303)
        set_cookie(response, SESSION_COOKIE, cookie, max_age=int(settings.review.session_days * 86400))
        forget_cookie(response, LOGIN_COOKIE, path="/login")
        return response

    @app.post("/logout")
    async def logout(request: Request):
        """Ends the session on the server (a copied cookie stops working too)."""
        cookie = request.cookies.get(SESSION_COOKIE)
        session = await run_in_threadpool(review.session_of, db, cookie)
        if session is not None:
            await security.check_csrf(request, session.csrf_token)
            await run_in_threadpool(review.end_session, db, cookie)
        response = RedirectResponse("/login", status_code=303)
        forget_cookie(response, SESSION_COOKIE)
        return response

    @app.get("/")
    def home(who: Who):
        if who.is_admin:
            return RedirectResponse("/admin", status_code=303)
        pending = review.next_pending(db, who.name)
        return RedirectResponse(f"/candidates/{pending}" if pending else "/queue", status_code=303)

    @app.get("/queue", response_class=HTMLResponse)
    def queue_page(request: Request, who: Who):
        items = review.queue(db, who.name)
        return page(request, "queue.html", who=who, items=items, done=sum(i["done"] for i in items))

    @app.get("/candidates/{candidate_id}", response_class=HTMLResponse)
    def candidate_page(request: Request, candidate_id: str, who: Who):
        data = review.item(db, who, candidate_id)
        items = review.queue(db, who.name, details=False)
        ids = [i["candidate_id"] for i in items]
        at = ids.index(candidate_id) if candidate_id in ids else None
        target = data.get("target_latex")
        context_text = "".join(filter(None, [data.get("context_before"), f"\\[{target}\\]" if target else None,
                                             data.get("context_after")]))
        return page(
            request, "candidate.html", who=who, item=data,
            mine=review.own_review(db, who.name, candidate_id),
            others=[r for r in review.all_reviews(db) if r.candidate_id == candidate_id] if who.is_admin else [],
            context_runs=highlight(context_text, data.get("question_evidence") or []),
            submission_id=uuid.uuid4().hex, position=at, total=len(ids),
            done=sum(i["done"] for i in items),
            previous=ids[at - 1] if at else None,
            next=ids[at + 1] if at is not None and at + 1 < len(ids) else None)

    @app.post("/candidates/{candidate_id}/review")
    def submit_form(candidate_id: str, form: Annotated[review.ReviewForm, Form()], who: Who):
        review.submit(db, who, candidate_id, form)
        changed()
        pending = review.next_pending(db, who.name)
        return RedirectResponse(f"/candidates/{pending}" if pending else "/queue", status_code=303)

    @app.get("/candidates/{candidate_id}/page.png")
    def pdf_page(candidate_id: str, who: Who, n: int | None = None):
        data = review.item(db, who, candidate_id)
        number = n or data.get("page")
        if not data.get("pdf_uri") or not number:
            raise HTTPException(404, "this candidate has no PDF page")
        try:
            png = _render(data["pdf_uri"], int(number),
                          tuple(data["bbox"]) if data.get("bbox") and number == data.get("page") else None)
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from exc
        except Exception as exc:  # a PDF that PyMuPDF cannot open: say so instead of a 500
            raise HTTPException(422, f"the PDF could not be rendered: {type(exc).__name__}") from exc
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @lru_cache(maxsize=64)
    def _render(uri: str, number: int, bbox: tuple[float, ...] | None) -> bytes:
        data = review.read_document(settings, uri)
        return page_png(data, number, list(bbox) if bbox else None)

    # -- admin -------------------------------------------------------------------------------
    @app.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request, who: Admin, loaded: int | None = None, assigned: int | None = None):
        agreement = agreement_of.agreement(review.all_reviews(db))
        return page(request, "admin.html", who=who, agreement=agreement, progress=review.progress(db),
                    queue_progress=review.queue_progress(db),
                    loaded=loaded, assigned=assigned,
                    queue=agreement_of.adjudication_queue(db, settings.review.disagreement),
                    decided=review.adjudications(db), threshold=settings.review.disagreement)

    @app.post("/admin/load")
    def load_candidates(request: Request, who: Admin):
        """New finished candidates from the catalog (read-only; safe while a flow runs), assigned."""
        try:
            new = review.load_items(settings, db)
        except Exception as exc:  # no catalog, or one being replaced: say so, keep serving
            raise HTTPException(503, f"could not read candidates from the catalog: "
                                     f"{str(exc).splitlines()[0]}") from exc
        result = review.assign(db, settings.review.reviewers_per_candidate)
        changed()
        return RedirectResponse(f"/admin?loaded={new}&assigned={result.assigned}", status_code=303)

    @app.post("/admin/candidates/{candidate_id}/adjudicate")
    def adjudicate_form(candidate_id: str, who: Admin, decision: Annotated[Decision, Form()],
                        comment: Annotated[str, Form(max_length=5000)] = ""):
        review.adjudicate(db, who, candidate_id, decision, comment)
        changed()
        return RedirectResponse("/admin", status_code=303)

    # -- item audits: released items an evaluation audit flagged; an admin keeps or retires each
    @app.get("/admin/audits", response_class=HTMLResponse)
    def audits_page(request: Request, who: Admin):
        audits = audit_queue.audit_queue(db, include_resolved=True)
        return page(request, "audits.html", who=who, reasons=audit_queue.RETIRE_REASONS,
                    open=[a for a in audits if a["status"] == "open"],
                    decided=[a for a in audits if a["status"] != "open"][:AUDITS_DECIDED_SHOWN])

    @app.post("/admin/audits/resolve")
    def resolve_audit_form(who: Admin, item_id: Annotated[str, Form(max_length=200)],
                           decision: Annotated[audit_queue.AuditDecision, Form()],
                           reason: Annotated[str, Form(max_length=40)] = "",
                           comment: Annotated[str, Form(max_length=5000)] = "",
                           audit_id: Annotated[str | None, Form(max_length=200)] = None):
        try:
            audit_queue.resolve_audit(settings, db, who, item_id, decision, reason or None, comment, audit_id)
        except audit_queue.AuditRefused as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        except audit_queue.NoAudit as exc:
            raise HTTPException(404, f"no audit of item {exc}") from exc
        except OSError as exc:  # the retirement could not be written to the lake: nothing was recorded
            raise HTTPException(503, f"could not write the retirement to the lake ({type(exc).__name__}); "
                                     "nothing was recorded: try again") from exc
        changed()  # the background copy republishes the catalog: its `retirements` view shows the row
        return RedirectResponse("/admin/audits", status_code=303)

    # -- JSON API ----------------------------------------------------------------------------
    @app.get("/api/me")
    def me(who: Who) -> dict[str, str]:
        return {"name": who.name, "role": who.role}

    @app.get("/api/queue")
    def api_queue(who: Who) -> list[dict[str, Any]]:
        return [{k: v for k, v in i.items() if k != "question"} for i in review.queue(db, who.name)]

    @app.get("/api/candidates/{candidate_id}")
    def api_candidate(candidate_id: str, who: Who) -> dict[str, Any]:
        return review.item(db, who, candidate_id)

    @app.get("/api/reviews")
    def api_reviews(who: Who) -> list[dict[str, Any]]:
        rows = review.all_reviews(db) if who.is_admin else review.own_reviews(db, who.name)
        return [r.model_dump(mode="json") for r in rows]

    @app.post("/api/candidates/{candidate_id}/review")
    def api_submit(candidate_id: str, form: review.ReviewForm, who: Who) -> dict[str, Any]:
        stored = review.submit(db, who, candidate_id, form)
        changed()
        return stored.model_dump(mode="json")

    @app.get("/api/audits")
    def api_audits(who: Admin, resolved: bool = False) -> list[dict[str, Any]]:
        return audit_queue.audit_queue(db, include_resolved=resolved)

    @app.get("/api/stats")
    def api_stats(who: Admin) -> dict[str, Any]:
        agreement = agreement_of.agreement(review.all_reviews(db))
        return {"alpha": agreement.alpha, "units": agreement.units, "reviews": agreement.reviews,
                "progress": review.progress(db), "queue": review.queue_progress(db),
                "adjudication_queue": [q["candidate_id"] for q in
                                       agreement_of.adjudication_queue(db, settings.review.disagreement)]}

    return app
