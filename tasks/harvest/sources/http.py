"""Polite HTTP downloads of document bodies: timeouts, a size limit, retries with backoff.

Input: a URL. Output: ``Fetched`` with the body, or a snake_case reason (``not_found``,
``http_<status>``, ``too_large``, ``fetch_failed``, ``redirect_refused``, ``download_timeout``)
and whether a later rerun should try again.

A URL comes from a listing, i.e. from strangers, and so do its redirects: a redirect is followed
only to ``https`` on a host of the configured sources (``fetch.redirect_hosts``) whose every
address is public (no loopback, private or link-local address: the fetcher runs inside the
platform's network). Each download has a total deadline (``fetch.deadline_s``) besides the
per-read timeout, so a server that drips one byte at a time cannot hold a worker.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable

import httpx
from tenacity import (
    RetryError,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from tasks.core.settings import FetchSettings
from tasks.harvest.sources.base import Fetched


class _Retryable(Exception):
    pass


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class _RedirectRefused(Exception):
    pass


MAX_REDIRECTS = 5


def resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address ``host`` resolves to."""
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in socket.getaddrinfo(host, 443)]


class HttpFetcher:
    def __init__(self, settings: FetchSettings, throttle: Callable[[], None],
                 http: httpx.Client | None = None,
                 resolver: Callable[[str], list] = resolve):
        self.settings = settings
        self.throttle = throttle
        self.resolver = resolver
        self.http = http or httpx.Client(
            timeout=settings.timeout_s, follow_redirects=False,  # each hop is checked: _follow
            headers={"User-Agent": settings.user_agent})

    def _check_redirect(self, url: httpx.URL) -> None:
        """Refuse a redirect target that is not https on a configured host with public addresses."""
        host = url.host or ""
        if url.scheme != "https":
            raise _RedirectRefused(f"to {url.scheme}:// ({url})")
        if not any(host == allowed or host.endswith("." + allowed) for allowed in self.settings.redirect_hosts):
            raise _RedirectRefused(f"to {host}, not a host of the configured sources")
        try:
            addresses = self.resolver(host)
        except OSError as exc:
            raise _RedirectRefused(f"to {host}, which does not resolve: {exc}") from exc
        if not addresses or any(not a.is_global for a in addresses):
            raise _RedirectRefused(f"to {host}, which resolves to a non-public address {addresses}")

    def fetch(self, url: str) -> Fetched:
        deadline = time.monotonic() + self.settings.deadline_s

        @retry(retry=retry_if_exception_type((_Retryable, httpx.TransportError)),
               wait=wait_random_exponential(multiplier=1, max=30),
               stop=stop_after_attempt(self.settings.retries) | stop_after_delay(self.settings.deadline_s))
        def attempt() -> Fetched:
            self.throttle()
            target = httpx.URL(url)
            for _ in range(MAX_REDIRECTS + 1):
                with self.http.stream("GET", target) as resp:
                    if resp.is_redirect and resp.next_request is not None:
                        target = resp.next_request.url
                        self._check_redirect(target)
                        continue
                    return _body(resp, url, self.settings.max_bytes, deadline)
            raise _RedirectRefused(f"more than {MAX_REDIRECTS} redirects")

        try:
            return attempt()
        except _TooLarge as exc:
            return Fetched(None, "too_large", f"{url}: {exc}")
        except _RedirectRefused as exc:
            return Fetched(None, "redirect_refused", f"{url}: redirect {exc}"[:500])
        except _TooSlow as exc:
            return Fetched(None, "download_timeout", f"{url}: {exc}", transient=True)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            return Fetched(None, "fetch_failed", f"{url}: {type(cause).__name__}: {cause}",
                           transient=True)


def _body(resp: httpx.Response, url: str, max_bytes: int, deadline: float) -> Fetched:
    """The answer to a download: its body within the size limit and the deadline, or why not."""
    if resp.status_code == 429 or resp.status_code >= 500:
        raise _Retryable(f"HTTP {resp.status_code}")
    if resp.status_code == 404:
        return Fetched(None, "not_found", f"HTTP 404 for {url}")
    if resp.status_code >= 400:
        return Fetched(None, f"http_{resp.status_code}", f"HTTP {resp.status_code} for {url}")
    declared = int(resp.headers.get("content-length") or 0)
    if declared > max_bytes:
        raise _TooLarge(f"declared {declared} bytes")
    chunks, size = [], 0
    for chunk in resp.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise _TooLarge(f"more than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise _TooSlow(f"not finished within the download deadline ({size} bytes so far)")
        chunks.append(chunk)
    return Fetched(b"".join(chunks))
