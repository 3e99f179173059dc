import ipaddress
import time

import httpx

from tasks.core.settings import FetchSettings
from tasks.harvest.sources.http import HttpFetcher


def _fetcher(handler, **kw):
    calls = []
    fetcher = HttpFetcher(FetchSettings(retries=3, **kw), throttle=lambda: calls.append(1),
                          http=httpx.Client(transport=httpx.MockTransport(handler)))
    return fetcher, calls


def test_retries_429_and_5xx_then_succeeds():
    answers = [httpx.Response(429), httpx.Response(502), httpx.Response(200, content=b"%PDF-1.7 body")]
    fetcher, calls = _fetcher(lambda req: answers.pop(0))
    got = fetcher.fetch("https://example.org/a.pdf")
    assert got.data == b"%PDF-1.7 body" and got.reason is None and len(calls) == 3


def test_permanent_and_transient_failures_have_reasons():
    fetcher, _ = _fetcher(lambda req: httpx.Response(404))
    assert fetcher.fetch("https://example.org/x").reason == "not_found"
    fetcher, _ = _fetcher(lambda req: httpx.Response(403))
    assert fetcher.fetch("https://example.org/x").reason == "http_403"
    fetcher, calls = _fetcher(lambda req: httpx.Response(503))
    got = fetcher.fetch("https://example.org/x")
    assert got.reason == "fetch_failed" and got.transient and len(calls) == 3


def test_connection_errors_are_retried_then_recorded():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    fetcher, calls = _fetcher(handler)
    got = fetcher.fetch("https://example.org/x")
    assert got.reason == "fetch_failed" and "ConnectError" in got.detail and len(calls) == 3


def test_size_limit():
    fetcher, _ = _fetcher(lambda req: httpx.Response(200, content=b"x" * 5000), max_bytes=1000)
    assert fetcher.fetch("https://example.org/big").reason == "too_large"


def _redirecting(location):
    def handler(request):
        if request.url.path == "/start":
            return httpx.Response(302, headers={"location": location})
        return httpx.Response(200, content=b"%PDF-1.7 moved body")
    return handler


def test_redirects_go_only_to_https_hosts_of_the_sources_with_public_addresses():
    settings = FetchSettings(retries=1)
    cases = {
        "https://export.arxiv.org/pdf/1": ("public", None),
        "http://arxiv.org/pdf/1": ("public", "redirect_refused"),  # not https
        "https://evil.example/pdf/1": ("public", "redirect_refused"),  # not a source host
        "https://arxiv.org.evil.example/pdf/1": ("public", "redirect_refused"),
        "https://arxiv.org/pdf/loopback": ("loopback", "redirect_refused"),
        "https://arxiv.org/pdf/private": ("private", "redirect_refused"),
    }
    addresses = {"public": "151.101.1.1", "loopback": "127.0.0.1", "private": "10.1.2.3"}
    for location, (where, reason) in cases.items():
        fetcher = HttpFetcher(settings, throttle=lambda: None,
                              http=httpx.Client(transport=httpx.MockTransport(_redirecting(location))),
                              resolver=lambda host, where=where: [ipaddress.ip_address(addresses[where])])
        got = fetcher.fetch("https://arxiv.org/start")
        assert got.reason == reason, (location, got.detail)
        if reason is None:
            assert got.data == b"%PDF-1.7 moved body"


def test_a_download_that_drips_past_its_deadline_is_cut():
    def handler(request):
        def drip():
            for _ in range(100):
                time.sleep(0.05)
                yield b"x"
        return httpx.Response(200, content=drip())

    fetcher, _ = _fetcher(handler, deadline_s=0.5)
    started = time.perf_counter()
    got = fetcher.fetch("https://example.org/slow")
    assert got.reason == "download_timeout" and got.transient and time.perf_counter() - started < 3
