"""The analyst dashboard: server-rendered pages over the DuckDB catalog's views, read-only.

Why FastAPI + Jinja2 and not Streamlit: FastAPI is already in the stack (through Prefect) and
the review app is built the same way, so there is no new Python dependency, one way to write and
test web pages (TestClient, headless Chromium), and the same error and header handling. The SQL
does the work: every list is a named query of ``dashboards/queries.sql`` with bound parameters
and LIMIT/OFFSET paging, so a page stays fast with 100,000 candidates (Streamlit reruns a script
per interaction and tends to pull whole frames into the process). Charts are Chart.js, tables are
HTML; both are served from ``dashboards/static`` (Chart.js vendored, KaTeX mounted from the review
app's copy): nothing is fetched from the network at run time.

Read-only by construction: every request opens the catalog read-only through
``tasks.io.storage.read_catalog`` (one connection per page), which never publishes; the catalog
file is swapped atomically by ``publish_catalog``, so pages keep answering while a flow
republishes. No catalog yet → each page says so; a view the catalog does not have (published by
an older version) or a table with no rows yet → the section says "not yet".

Pages: ``/funnel`` (monthly and per-run funnel, rejects by reason over time), ``/validation``
(expectations per stage and run, quarantined rows, a link to Data Docs served from the lake's
``data_docs/`` at ``/data-docs/…``), ``/spend`` (LLM calls, tokens, dollars and cache hits per
agent, model and month; budget stops), ``/candidates`` (counts by status and reason, a filtered,
paginated browser) and ``/candidates/{id}`` (question and answer in KaTeX, evidence, lineage),
``/review`` (queue health, experts' progress and agreement).

The dashboard imports only what it shows: ``tasks.core`` (settings, allowed values) and
``tasks.io.storage`` (the read-only catalog and lake files).
"""

# No ``from __future__ import annotations``: FastAPI resolves the route signatures.
import json
import logging
import math
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasks.core.records import PRINCIPLES, CandidateStatus, allowed
from tasks.core.settings import Settings
from tasks.io.storage import CatalogUnavailable, MissingRelation, NoCatalog, ReadOnlyCatalog, lake_file, read_catalog

HERE = Path(__file__).parent
KATEX = HERE.parent / "reviewapp" / "static" / "katex"
"""The review app's vendored KaTeX, mounted (not copied) at ``/static/katex``."""
PAGES = [("funnel", "/funnel", "Funnel"), ("validation", "/validation", "Validation"),
         ("spend", "/spend", "LLM spend"), ("candidates", "/candidates", "Candidates"),
         ("review", "/review", "Review")]
MONTHS_SHOWN = 12
RUNS_SHOWN = 50
ROWS_SHOWN = 200
PAGE_SIZES = (10, 25, 50, 100, 200)
STATUSES = allowed(CandidateStatus)
FUNNEL_STAGES = [("listed", "listed"), ("matched", "matched"), ("rating_pass", "rating pass"),
                 ("keyword_pass", "keyword pass"), ("extracted", "extracted"), ("candidates", "candidates"),
                 ("kept", "kept"), ("reviewed", "reviewed"), ("selected", "selected")]
PALETTE = ["#2b6cb0", "#dd6b20", "#38a169", "#c53030", "#805ad5", "#d69e2e", "#319795", "#b83280",
           "#4a5568", "#2c7a7b", "#9c4221", "#276749"]
log = logging.getLogger("stormborn.dashboard")

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "style-src 'self' 'unsafe-inline'",  # KaTeX and Chart.js set style attributes
    "img-src 'self' data:", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
    "frame-ancestors 'none'"])
DATA_DOCS_POLICY = "; ".join([
    # Great Expectations' pages carry inline scripts and styles; sandboxed, they run in an origin
    # of their own and cannot reach the dashboard's.
    "sandbox allow-scripts allow-popups allow-forms", "default-src 'self' 'unsafe-inline' data:",
    "frame-ancestors 'self'"])


class SecurityHeaders:
    """CSP (only our own scripts), no framing, no sniffing, no referrer, pages never cached."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        docs = scope["path"].startswith("/data-docs")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {h[0].lower() for h in headers}
                policy = DATA_DOCS_POLICY if docs else CONTENT_SECURITY_POLICY
                headers += [(b"content-security-policy", policy.encode()),
                            (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
                if not docs:
                    headers.append((b"x-frame-options", b"DENY"))
                if b"cache-control" not in names and not scope["path"].startswith("/static"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- values as the pages show them ------------------------------------------------------------------
def num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def usd(value: Any) -> str:
    return "—" if value is None else f"${value:,.4f}" if 0 < abs(value) < 1 else f"${value:,.2f}"


def pct(value: Any) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def when(value: Any) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value)


def chart(kind: str, labels: list[Any], datasets: list[dict[str, Any]], stacked: bool = False,
          y_label: str = "", horizontal: bool = False) -> dict[str, Any]:
    """A Chart.js configuration (rendered by static/dashboard.js from a data attribute)."""
    for i, d in enumerate(datasets):
        colour = d.pop("colour", PALETTE[i % len(PALETTE)])
        d.setdefault("backgroundColor", colour)
        d.setdefault("borderColor", colour)
    axis = {"stacked": stacked, "beginAtZero": True}
    return {"type": kind, "data": {"labels": [str(x) for x in labels], "datasets": datasets},
            "options": {"indexAxis": "y" if horizontal else "x", "animation": False, "maintainAspectRatio": False,
                        "scales": {"x": {**axis}, "y": {**axis, "title": {"display": bool(y_label), "text": y_label}}},
                        "plugins": {"legend": {"position": "bottom"}}}}


def by_series(rows: list[dict[str, Any]], x: str, series: str, value: str,
              top: int = 8) -> tuple[list[Any], list[dict[str, Any]]]:
    """Long rows (x, series, value) as chart labels and one dataset per series (the ``top``
    largest; the rest summed as ``other``)."""
    xs = sorted({r[x] for r in rows})
    totals: dict[str, float] = {}
    for r in rows:
        totals[r[series]] = totals.get(r[series], 0) + (r[value] or 0)
    keep = sorted(totals, key=lambda s: -totals[s])[:top]
    grid: dict[str, dict[Any, float]] = {s: {} for s in [*keep, "other"]}
    for r in rows:
        s = r[series] if r[series] in keep else "other"
        grid[s][r[x]] = grid[s].get(r[x], 0) + (r[value] or 0)
    return xs, [{"label": s, "data": [grid[s].get(v, 0) for v in xs]} for s in grid if grid[s]]


def create_app(settings: Settings) -> FastAPI:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(num=num, usd=usd, pct=pct, when=when)
    templates.env.globals.update(PAGES=PAGES, PRINCIPLES=PRINCIPLES, FUNNEL_STAGES=FUNNEL_STAGES)

    # No Swagger UI (it loads scripts from a CDN); the dashboard has no JSON API of its own.
    app = FastAPI(title="stormborn dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityHeaders)
    app.mount("/static/katex", StaticFiles(directory=KATEX), name="katex")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def render(request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("active", None)
        return templates.TemplateResponse(request, name, context, status_code=code)

    def error_page(request: Request, code: int, message: str) -> HTMLResponse:
        return render(request, "error.html", code, status=code, message=message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors()]
        return error_page(request, 422, "bad parameter: " + "; ".join(problems))

    @app.exception_handler(CatalogUnavailable)
    async def unavailable(request: Request, exc: CatalogUnavailable):
        log.warning("catalog unavailable: %s", exc)
        return error_page(request, 503, "the catalog could not answer just now; reload in a moment")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):  # never a traceback in a page
        log.exception("dashboard page failed: %s", request.url.path)
        return error_page(request, 500, "something went wrong on this page (the server log has the details)")

    def page(request: Request, name: str, active: str, build: Callable[[ReadOnlyCatalog], dict[str, Any]]):
        """A page built from one read-only catalog connection; no catalog yet → the page says so."""
        try:
            with read_catalog(settings) as cat:
                context = build(cat)
        except NoCatalog:
            return render(request, "no_catalog.html", active=active, catalog=settings.catalog_path)
        return render(request, name, active=active, **context)

    def rows(cat: ReadOnlyCatalog, query: str, **params: Any) -> list[dict[str, Any]] | None:
        """A named query's rows; ``None`` when the catalog lacks a view or table it reads."""
        try:
            return cat.named_rows(query, **params)
        except MissingRelation as exc:
            log.info("%s: the catalog has no %s yet", query, exc)
            return None

    # -- pages -------------------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/")
    def home():
        return RedirectResponse("/funnel", status_code=307)

    @app.get("/funnel", response_class=HTMLResponse)
    def funnel(request: Request):
        def build(cat: ReadOnlyCatalog) -> dict[str, Any]:
            months = rows(cat, "dashboard_funnel_by_month", limit=MONTHS_SHOWN)
            runs = rows(cat, "dashboard_funnel_by_run", limit=RUNS_SHOWN)
            rejects = rows(cat, "dashboard_rejects_by_month", limit=MONTHS_SHOWN)
            charts = {}
            if months:
                shown = sorted(months, key=lambda m: m["month"])[-6:]
                charts["funnel"] = chart("bar", [label for _, label in FUNNEL_STAGES],
                                         [{"label": m["month"], "data": [m[k] for k, _ in FUNNEL_STAGES]}
                                          for m in shown], y_label="count")
            if rejects:
                labels, sets = by_series(rejects, "month", "reason", "n")
                charts["rejects"] = chart("bar", labels, sets, stacked=True, y_label="rejects")
            return {"months": months, "runs": runs, "rejects": rejects, "charts": charts,
                    "stages": rows(cat, "dashboard_rejects_by_stage", limit=ROWS_SHOWN)}

        return page(request, "funnel.html", "funnel", build)

    @app.get("/validation", response_class=HTMLResponse)
    def validation(request: Request):
        def build(cat: ReadOnlyCatalog) -> dict[str, Any]:
            summary = rows(cat, "dashboard_validation_by_run", limit=ROWS_SHOWN)
            charts = {}
            if summary:
                stages = sorted({r["stage"] for r in summary})
                charts["stages"] = chart("bar", stages, [
                    {"label": "expectations passed", "data": [sum(r["passed"] for r in summary if r["stage"] == s)
                                                              for s in stages], "colour": "#38a169"},
                    {"label": "expectations failed", "data": [sum(r["failed"] for r in summary if r["stage"] == s)
                                                              for s in stages], "colour": "#c53030"}],
                    stacked=True, y_label="expectations (all runs shown)")
            return {"summary": summary, "failed": rows(cat, "dashboard_failed_expectations", limit=ROWS_SHOWN),
                    "quarantine": rows(cat, "dashboard_quarantine_by_stage", limit=ROWS_SHOWN), "charts": charts,
                    "data_docs": lake_file(settings, "data_docs", "index.html") is not None}

        return page(request, "validation.html", "validation", build)

    @app.get("/spend", response_class=HTMLResponse)
    def spend(request: Request):
        def build(cat: ReadOnlyCatalog) -> dict[str, Any]:
            months = rows(cat, "dashboard_spend_by_month", limit=MONTHS_SHOWN)
            agents = rows(cat, "dashboard_spend_by_agent", limit=ROWS_SHOWN)
            charts = {}
            if agents:
                labels, sets = by_series(agents, "month", "agent", "cost_usd")
                charts["dollars"] = chart("bar", labels, sets, stacked=True, y_label="USD")
            if months:
                shown = sorted(months, key=lambda m: m["month"])
                charts["calls"] = chart("bar", [m["month"] for m in shown], [
                    {"label": "calls sent", "data": [m["calls"] for m in shown]},
                    {"label": "cache hits", "data": [m["cache_hits"] for m in shown]}], y_label="calls")
            return {"months": months, "agents": agents, "charts": charts,
                    "stops": rows(cat, "dashboard_budget_stops", limit=ROWS_SHOWN)}

        return page(request, "spend.html", "spend", build)

    def text_param(value: str | None, name: str, limit: int = 200) -> str | None:
        value = (value or "").strip()
        if len(value) > limit:
            raise HTTPException(400, f"{name} is longer than {limit} characters")
        return value or None

    @app.get("/candidates", response_class=HTMLResponse)
    def candidates(request: Request, paper: str | None = None, status: str | None = None,
                   min_score: str | None = None, page_no: int = 1, per_page: int = 50):
        paper = text_param(paper, "paper")
        status = text_param(status, "status", 20)
        if status is not None and status not in STATUSES:
            raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}")
        score = None
        if text_param(min_score, "min_score", 20) is not None:
            try:
                score = float(min_score)
            except ValueError:
                raise HTTPException(400, "min_score must be a number from 0 to 100") from None
            if not 0 <= score <= 100:
                raise HTTPException(400, "min_score must be a number from 0 to 100")
        if page_no < 1 or page_no > 10**6:
            raise HTTPException(400, "page_no must be a page number from 1")
        if per_page not in PAGE_SIZES:
            raise HTTPException(400, f"per_page must be one of {', '.join(map(str, PAGE_SIZES))}")
        filters = {"paper": paper, "status": status, "min_score": score}

        def build(cat: ReadOnlyCatalog) -> dict[str, Any]:
            counts = rows(cat, "dashboard_candidate_status")
            counted = rows(cat, "dashboard_candidate_count", **filters)
            total = counted[0]["n"] if counted else 0
            listed = rows(cat, "dashboard_candidate_list", **filters, limit=per_page,
                          offset=(page_no - 1) * per_page)
            charts = {}
            if counts:
                charts["status"] = chart("bar", [c["status"] for c in counts],
                                         [{"label": "candidates", "data": [c["n"] for c in counts]}], y_label="candidates")
            pages = max(1, math.ceil(total / per_page))
            query = {k: v for k, v in {"paper": paper, "status": status, "min_score": min_score,
                                       "per_page": per_page}.items() if v}
            return {"counts": counts, "reasons": rows(cat, "dashboard_candidates_by_reason", limit=ROWS_SHOWN),
                    "listed": listed, "total": total, "page_no": page_no, "pages": pages, "per_page": per_page,
                    "filters": {"paper": paper or "", "status": status or "", "min_score": min_score or ""},
                    "query": query, "statuses": STATUSES, "page_sizes": PAGE_SIZES, "charts": charts}

        return page(request, "candidates.html", "candidates", build)

    @app.get("/candidates/{candidate_id}", response_class=HTMLResponse)
    def candidate(request: Request, candidate_id: str):
        if len(candidate_id) > 200:
            raise HTTPException(400, "candidate id is too long")

        def build(cat: ReadOnlyCatalog) -> dict[str, Any]:
            found = rows(cat, "dashboard_candidate", candidate_id=candidate_id)
            if not found:
                raise HTTPException(404, f"no candidate {candidate_id}")
            item = found[0]
            for key in ("models", "prompt_versions"):  # dict columns are stored as JSON text
                item[key] = json.loads(item[key]) if isinstance(item[key], str) else (item[key] or {})
            expr_ids = [item["target_expr"], *(item["precondition_exprs"] or [])]
            reviews = rows(cat, "dashboard_candidate_reviews", candidate_id=candidate_id)
            return {"item": item,
                    "expressions": rows(cat, "dashboard_candidate_expressions", expr_ids=expr_ids),
                    "edges": rows(cat, "dashboard_candidate_edges", paper_id=item["paper_id"], expr_ids=expr_ids,
                                  limit=ROWS_SHOWN),
                    "run": (rows(cat, "dashboard_candidate_run", run_id=item["run_id"]) or [None])[0],
                    "calls": rows(cat, "dashboard_candidate_calls", candidate_id=candidate_id,
                                  paper_id=item["paper_id"], limit=ROWS_SHOWN),
                    "reviews": reviews[0] if reviews and reviews[0]["reviews"] else None}

        return page(request, "candidate.html", "candidates", build)

    @app.get("/review", response_class=HTMLResponse)
    def review(request: Request):
        def build(cat: ReadOnlyCatalog) -> dict[str, Any]:
            counts = (rows(cat, "dashboard_review_counts") or [None])[0]
            health = rows(cat, "dashboard_queue_health") if counts and counts["queued"] else None
            progress = rows(cat, "dashboard_reviewer_progress") if counts and counts["assignments"] else None
            agreement = (rows(cat, "dashboard_review_agreement") or [None])[0] \
                if counts and counts["reviews"] else None
            charts = {}
            if health:
                charts["health"] = chart("bar", [f"{h['first_rank']}–{h['last_rank']}" for h in health], [
                    {"label": "queued", "data": [h["candidates"] for h in health], "colour": "#a0aec0"},
                    {"label": "reviewed", "data": [h["reviewed"] for h in health]},
                    {"label": "keepers", "data": [h["keepers"] for h in health], "colour": "#38a169"}],
                    y_label="candidates per rank decile")
            if progress:
                charts["progress"] = chart("bar", [p["reviewer"] for p in progress], [
                    {"label": "reviewed", "data": [p["reviewed"] for p in progress]},
                    {"label": "still to review", "data": [p["assigned"] - p["reviewed"] for p in progress],
                     "colour": "#a0aec0"}], stacked=True, horizontal=True)
            return {"counts": counts, "health": health, "progress": progress,
                    "agreement": agreement if agreement and agreement["pairs"] else None, "charts": charts}

        return page(request, "review.html", "review", build)

    # -- Data Docs, from the lake -----------------------------------------------------------------
    @app.get("/data-docs")
    def data_docs_root():
        return RedirectResponse("/data-docs/index.html", status_code=307)

    @app.get("/data-docs/{path:path}")
    def data_docs(path: str):
        data = lake_file(settings, "data_docs", path or "index.html")
        if data is None:
            raise HTTPException(404, "no such Data Docs file (Data Docs are built by the flows' publish step)")
        media = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return Response(data, media_type=media)

    return app


__all__ = ["create_app"]
