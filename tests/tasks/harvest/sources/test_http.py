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
