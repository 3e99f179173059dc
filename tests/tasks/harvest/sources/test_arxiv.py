from datetime import date

import httpx
import pytest

from tasks.core.settings import ArxivSettings
from tasks.harvest.sources.arxiv import (
    ArxivApiError,
    ArxivClient,
    Window,
    WindowTooLarge,
    parse_feed,
    plan_windows,
)
from tests.conftest import FIXTURES
from tests.factories import atom_feed

ARXIV = FIXTURES / "arxiv"


def test_parses_current_format():
    feed = parse_feed((ARXIV / "new_format_search_testing_s0_m10.xml").read_bytes())
    assert feed.total == 214881 and len(feed.papers) == 10
    first = feed.papers[0]
    assert first.paper_id == "arxiv:2202.12139" and first.arxiv_version == "v1"
    assert first.title.startswith("Testing Deep Learning Models")
    assert first.authors[:2] == ["Mohit Kumar Ahuja", "Arnaud Gotlieb"]
    assert first.primary_category == "cs.SE" and "cs.LG" in first.categories
    assert first.pdf_url == "https://arxiv.org/pdf/2202.12139v1"
    assert first.license == "unknown"  # the export API does not state licences


def test_parses_legacy_format_and_old_style_ids():
    feed = parse_feed((ARXIV / "old_format_search.xml").read_bytes())
    assert feed.total == 31 and len(feed.papers) == 10
    assert all(p.paper_id.startswith("arxiv:") and p.title for p in feed.papers)
    legacy = parse_feed((ARXIV / "old_format_id_list.xml").read_bytes()).papers[0]
    assert legacy.paper_id == "arxiv:1111.2011" and legacy.arxiv_version == "v2"
    assert "\n" not in legacy.title  # legacy titles wrap lines
    old_id = parse_feed((ARXIV / "new_format_old_style_id.xml").read_bytes()).papers[0]
    assert old_id.paper_id == "arxiv:quant-ph/0201082"


def test_error_feed_and_empty_feed():
    with pytest.raises(ArxivApiError, match="incorrect id format"):
        parse_feed((ARXIV / "new_format_error_400_bad_id.xml").read_bytes())
    empty = parse_feed((ARXIV / "new_format_empty.xml").read_bytes())
    assert empty.total == 0 and empty.papers == []


def test_plan_windows_cover_the_range_without_overlap():
    windows = plan_windows(date(2024, 5, 1), date(2024, 5, 31), ["cs.LG"])
    assert windows[0].start == date(2024, 5, 1) and windows[-1].end == date(2024, 5, 31)
    for a, b in zip(windows, windows[1:]):
        assert (b.start - a.end).days == 1
    assert "cat:cs.LG" in windows[0].query() and "submittedDate:[202405010000" in windows[0].query()


def _entries(n, offset=0):
    return [{"id": f"2405.{10000 + offset + i}", "title": f"Paper {offset + i}",
             "published": "2024-05-02T00:00:00Z"} for i in range(n)]


class Recorder:
    """An arXiv stand-in answering by query parameters, with scripted faults."""

    def __init__(self, total, page_faults=(), cap_split_total=None):
        self.total, self.page_faults, self.calls = total, list(page_faults), []
        self.cap_split_total = cap_split_total

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        self.calls.append(dict(q))
        if self.page_faults:
            fault = self.page_faults.pop(0)
            if fault == 503:
                return httpx.Response(503, text="busy")
            if fault == "empty":
                return httpx.Response(200, text=atom_feed([], total=self.total, start=int(q["start"])))
        total = self.total
        if self.cap_split_total and "202405010000 TO 202405072359" in q["search_query"]:
            total = self.cap_split_total
        start, size = int(q["start"]), int(q["max_results"])
        n = max(0, min(size, total - start))
        return httpx.Response(200, text=atom_feed(_entries(n, start), total=total, start=start))


def _client(recorder, **kw):
    throttled = []
    settings = ArxivSettings(page_size=10, seconds_per_request=0.001, **kw)
    client = ArxivClient(settings, throttle=lambda: throttled.append(1),
                         http=httpx.Client(transport=httpx.MockTransport(recorder)))
    return client, throttled


def test_pages_through_a_window_and_throttles_every_request():
    rec = Recorder(total=25)
    client, throttled = _client(rec)
    papers = client.list_window(Window(date(2024, 5, 1), date(2024, 5, 7), ("cs.LG",)))
    assert len(papers) == 25 and len({p.paper_id for p in papers}) == 25
    assert [c["start"] for c in rec.calls] == ["0", "10", "20"]
    assert len(throttled) == len(rec.calls) == 3


def test_retries_5xx_and_empty_pages():
    rec = Recorder(total=15, page_faults=[503, None, "empty"])
    client, throttled = _client(rec)
    papers = client.list_window(Window(date(2024, 5, 1), date(2024, 5, 7), ("cs.LG",)))
    assert len(papers) == 15
    assert len(rec.calls) == 4 and len(throttled) == 4


def test_window_over_the_cap_is_halved():
    rec = Recorder(total=5, cap_split_total=50)
    client, _ = _client(rec, max_results_per_window=20)
    papers = client.list_window(Window(date(2024, 5, 1), date(2024, 5, 7), ("cs.LG",)))
    queries = [c["search_query"] for c in rec.calls]
    assert any("202405010000 TO 202405042359" in q for q in queries)
    assert any("202405050000 TO 202405072359" in q for q in queries)
    assert len(papers) == 5  # both halves answer the same 5 ids here: listed once


def test_single_day_over_the_cap_is_an_error():
    rec = Recorder(total=500)
    client, _ = _client(rec, max_results_per_window=20)
    with pytest.raises(WindowTooLarge):
        client.list_window(Window(date(2024, 5, 3), date(2024, 5, 3), ("cs.LG",)))


def test_http_400_error_feed_is_not_retried():
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(400, content=(ARXIV / "new_format_error_400_bad_id.xml").read_bytes())

    client = ArxivClient(ArxivSettings(seconds_per_request=0.001), throttle=lambda: None,
                         http=httpx.Client(transport=httpx.MockTransport(handler)))
    with pytest.raises(ArxivApiError):
        client.list_window(Window(date(2024, 5, 1), date(2024, 5, 1), ("cs.LG",)))
    assert len(calls) == 1


def test_oai_pmh_licence():
    from tasks.harvest.sources.arxiv import parse_oai_license
    from tests.factories import oai_error, oai_record

    cc_by = "http://creativecommons.org/licenses/by/4.0/"
    assert parse_oai_license(oai_record("2405.00001", cc_by)) == cc_by
    assert parse_oai_license(oai_record("2405.00001", None)) is None
    assert parse_oai_license(oai_error("idDoesNotExist")) is None
    with pytest.raises(ArxivApiError, match="badArgument"):
        parse_oai_license(oai_error("badArgument"))


def test_oai_licence_lookup_retries_flow_control():
    from tests.factories import oai_record

    answers = [httpx.Response(503, headers={"Retry-After": "1"}),
               httpx.Response(200, text=oai_record("2405.00001", "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"))]
    seen = []

    def handler(request):
        seen.append(dict(request.url.params))
        return answers.pop(0)

    client = ArxivClient(ArxivSettings(seconds_per_request=0.001), throttle=lambda: None,
                         http=httpx.Client(transport=httpx.MockTransport(handler)))
    assert client.license("2405.00001").endswith("nonexclusive-distrib/1.0/")
    assert seen[-1] == {"verb": "GetRecord", "identifier": "oai:arXiv.org:2405.00001", "metadataPrefix": "arXiv"}
