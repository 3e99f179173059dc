"""The live source end to end: real httpx and openreview-py clients against loopback stubs,
platform-wide rate limits held by the Prefect API."""

from __future__ import annotations

import time
from datetime import date

import pytest

from tasks.core.settings import ArxivSettings, FetchSettings, OpenReviewSettings, VenueRule, load_settings
from tasks.io.ratelimit import ARXIV_API_LIMIT, ensure_rate_limits, prefect_throttle
from tasks.io.storage import query
from tests.factories import paper_pdf, tarball, tex_project, v2_note
from tests.flows.test_harvest import run_flow
from tests.stubs import StubWeb

pytestmark = pytest.mark.usefixtures("prefect_api")
VENUE = "ICLR.cc/2025/Conference"


@pytest.fixture
def web():
    entries = [{"id": f"2405.0000{i}", "title": f"Live Paper {i}", "published": f"2024-05-0{i + 1}T10:00:00Z",
                "authors": [f"Author {i}"], "categories": ["cs.LG"]} for i in range(4)]
    entries.append({"id": "2405.00009", "title": "Other field", "published": "2024-05-02T10:00:00Z",
                    "categories": ["q-bio.QM"]})
    notes = [v2_note(VENUE, i, f"Live Paper {i}", [8, 7], authors=[f"Author {i}"])
             for i in range(3)]
    notes[2]["details"]["replies"][0]["content"]["rating"]["value"] = 2  # mean 4.5: rejected
    del notes[0]["license"]  # this note states no licence: arXiv's OAI-PMH is asked
    bodies = {"/pdf/2405.00000v1": paper_pdf(), "/pdf/2405.00001v1": paper_pdf(),
              "/e-print/2405.00001v1": tarball(tex_project())}
    stub = StubWeb(entries, notes, bodies, faults={"/pdf/2405.00000v1": [503, 429]}, page_size_cap=2,
                   licenses={"2405.00000": "http://creativecommons.org/licenses/by-sa/4.0/"})
    yield stub
    stub.close()


def test_live_harvest_against_loopback_services(web, tmp_path):
    settings = load_settings(
        home=str(tmp_path / "home"), dask_workers=2, batch_size=1,
        arxiv=ArxivSettings(api_url=f"{web.url}/api/query", eprint_url=f"{web.url}/e-print/",
                            oai_url=f"{web.url}/oai",
                            categories=["cs.LG"], page_size=2, seconds_per_request=0.2),
        openreview=OpenReviewSettings(baseurl_v2=web.url, venues=[VenueRule(venue_id=VENUE)]),
        fetch=FetchSettings(downloads_per_second=20, retries=3))
    run = run_flow(settings, since=date(2024, 5, 1), until=date(2024, 5, 31), source="live")
    assert (run.listed, run.matched, run.rating_pass, run.keyword_pass) == (4, 3, 2, 2)
    listing_calls = [r for r in web.requests if r.startswith("/api/query")]
    assert len(listing_calls) >= 2  # paged at the server's cap of 2 per page
    assert sum(r == "/pdf/2405.00000v1" for r in web.requests) == 3  # 503, 429, then the body
    docs = query(settings, "SELECT paper_id, kind, parse_status, coalesce(reason, '-') AS reason "
                        "FROM documents ORDER BY paper_id, kind")
    assert [tuple(r) for r in docs.itertuples(index=False)] == [
        ("arxiv:2405.00000", "latex", "rejected", "not_found"), ("arxiv:2405.00000", "pdf", "ok", "-"),
        ("arxiv:2405.00001", "latex", "ok", "-"), ("arxiv:2405.00001", "pdf", "ok", "-")]
    licences = query(settings, "SELECT paper_id, license, license_source FROM papers ORDER BY paper_id")
    by_id = {r.paper_id: (r.license, r.license_source) for r in licences.itertuples()}
    assert by_id["arxiv:2405.00000"] == ("http://creativecommons.org/licenses/by-sa/4.0/", "arxiv_oai_pmh")
    assert by_id["arxiv:2405.00001"] == ("CC BY 4.0", "openreview_note")
    assert by_id["arxiv:2405.00003"][0] == "unknown"  # never matched: not looked up
    assert sum(r.startswith("/oai") for r in web.requests) == 1
    reasons = set(query(settings, "SELECT reason FROM rejects").reason)
    assert {"rating_not_above_weak_accept", "no_openreview_match", "not_found"} <= reasons


def test_arxiv_rate_limit_is_shared_through_the_prefect_api(tmp_path):
    settings = load_settings(home=str(tmp_path), arxiv=ArxivSettings(seconds_per_request=0.5))
    ensure_rate_limits(settings)
    throttle = prefect_throttle(ARXIV_API_LIMIT)
    start = time.perf_counter()
    for _ in range(4):
        throttle()
    assert time.perf_counter() - start >= 1.2  # 4 requests at 2/s: at least ~1.5 s
    from prefect import get_client

    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(ARXIV_API_LIMIT)
    assert limit.limit == 1 and limit.slot_decay_per_second == pytest.approx(2.0)
