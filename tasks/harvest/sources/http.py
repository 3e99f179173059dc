"""Polite HTTP downloads of document bodies: timeouts, a size limit, retries with backoff.

Input: a URL. Output: ``Fetched`` with the body, or a snake_case reason (``not_found``,
``http_<status>``, ``too_large``, ``fetch_failed``) and whether a later rerun should try again.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from tenacity import (
    RetryError,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from tasks.core.settings import FetchSettings
from tasks.harvest.sources.base import Fetched


class _Retryable(Exception):
    pass


class _TooLarge(Exception):
    pass


class HttpFetcher:
    def __init__(self, settings: FetchSettings, throttle: Callable[[], None],
                 http: httpx.Client | None = None):
        self.settings = settings
        self.throttle = throttle
        self.http = http or httpx.Client(
            timeout=settings.timeout_s, follow_redirects=True,
            headers={"User-Agent": settings.user_agent})

    def fetch(self, url: str) -> Fetched:
        @retry(retry=retry_if_exception_type((_Retryable, httpx.TransportError)),
               wait=wait_random_exponential(multiplier=1, max=30),
               stop=stop_after_attempt(self.settings.retries))
        def attempt() -> Fetched:
            self.throttle()
            with self.http.stream("GET", url) as resp:
                if resp.status_code == 429 or resp.status_code >= 500:
                    raise _Retryable(f"HTTP {resp.status_code}")
                if resp.status_code == 404:
                    return Fetched(None, "not_found", f"HTTP 404 for {url}")
                if resp.status_code >= 400:
                    return Fetched(None, f"http_{resp.status_code}", f"HTTP {resp.status_code} for {url}")
                declared = int(resp.headers.get("content-length") or 0)
                if declared > self.settings.max_bytes:
                    raise _TooLarge(f"declared {declared} bytes")
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > self.settings.max_bytes:
                        raise _TooLarge(f"more than {self.settings.max_bytes} bytes")
                    chunks.append(chunk)
                return Fetched(b"".join(chunks))

        try:
            return attempt()
        except _TooLarge as exc:
            return Fetched(None, "too_large", f"{url}: {exc}")
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            return Fetched(None, "fetch_failed", f"{url}: {type(cause).__name__}: {cause}",
                           transient=True)
