"""The review app's web defences: security headers, bounded request bodies, CSRF tokens.

The app serves unreleased problems and takes the platform's most expensive data (expert
reviews), so a page of it must not be framable, sniffable or scriptable from elsewhere, a form
must come from the app's own pages, and no request may make the server read without end.

- ``SecurityHeaders`` sets a Content-Security-Policy (only the app's own scripts, styles, fonts
  and images; KaTeX needs inline ``style`` attributes, nothing needs inline scripts), forbids
  framing, sniffing and referrers, and keeps pages and JSON out of caches.
- ``BodyLimit`` counts request bytes as they arrive and stops at a per-path limit (413): a
  declared ``Content-Length`` over it is refused before reading, a body without one is cut off
  at the limit.
- ``check_csrf``: a browser sends cookies on its own, so every state-changing request that a
  cookie authenticates must also carry the session's CSRF token (form field ``csrf_token`` or
  header ``X-CSRF-Token``) — a value another site cannot read. API clients that send
  ``Authorization: Bearer`` need none: a browser never adds that header by itself.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "style-src 'self' 'unsafe-inline'",  # KaTeX sizes glyphs with style="…" attributes
    "img-src 'self' data:",              # the PDF page, and the empty data: favicon
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
OURS = {name for name, _ in HEADERS}
UNCACHED_TYPES = (b"text/html", b"application/json")


class SecurityHeaders:
    """Adds the headers above to every response (pages, JSON, static files, errors)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in OURS]
                headers += HEADERS
                have = {h[0].lower(): h[1] for h in headers}
                if b"cache-control" not in have and have.get(b"content-type", b"").startswith(UNCACHED_TYPES):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuses request bodies over ``limits[path]`` (else ``default``) bytes while reading them."""

    def __init__(self, app: ASGIApp, default: int, limits: Mapping[str, int] | None = None):
        self.app, self.default, self.limits = app, default, dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limits.get(scope["path"], self.default)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _too_large(send, limit)
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes FastAPI's body parsing unchanged and reaches the
                    # app's error handler (an error page or JSON, like any other refusal).
                    raise HTTPException(413, f"the request body is over {limit} bytes")
            return message

        await self.app(scope, counted, send)


async def _too_large(send: Send, limit: int) -> None:
    body = f'{{"detail": "the request body is over {limit} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


async def check_csrf(request: Request, expected: str) -> None:
    """403 unless the request carries ``expected`` (header, or form field of a form body)."""
    sent = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if sent is None and content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)  # parsed once: FastAPI reuses it for the route
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "this form is out of date or did not come from the review app "
                                 "(missing or wrong CSRF token): reload the page and submit again")
