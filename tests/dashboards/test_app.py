"""Every page of the analyst dashboard against a catalog with known numbers; filters, paging,
bad parameters, "not yet" sections, Data Docs from the lake, and pages answering while a flow
republishes the catalog."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dashboards.app import PAGES, create_app
from tasks.io import storage
from tests.dashboards.conftest import text_of
from tests.factories import dashboard_catalog


def test_every_page_answers_and_is_linked_from_the_nav(dashboard):
    _, client = dashboard
    for _, href, _label in PAGES:
        r = client.get(href)
        assert r.status_code == 200, (href, r.text)
        assert all(f'href="{h}"' in r.text for _, h, _ in PAGES)
        assert "content-security-policy" in r.headers and r.headers["cache-control"] == "no-store"
    assert client.get("/", follow_redirects=False).headers["location"] == "/funnel"


def test_funnel_per_month_and_run_with_drop_reasons(dashboard):
    _, client = dashboard
    text = text_of(client.get("/funnel").text)
    # month, runs, listed, matched, rating pass, keyword pass, extracted, candidates, kept, reviewed, selected
    assert "2024-06 1 200 150 90 70 60 13 12 4 2 5 0 $1.00" in text
    assert "2024-05 1 120 80 40 30 25 10 7 0 0 7 2 $0.0300" in text
    assert "run-2024-06 2024-06 monthly-harvest stopped 200 150" in text
    assert "harvest below_rating 9" in text and "harvest few_keywords 3" in text
    page = client.get("/funnel").text
    assert 'id="chart-funnel"' in page and 'id="chart-rejects"' in page
    assert "few_keywords" in page.split('id="chart-rejects"')[1].split("</canvas>")[0]


def test_validation_per_stage_and_run_and_data_docs_link(dashboard):
    settings, client = dashboard
    text = text_of(client.get("/validation").text)
    assert "run-2024-05 papers 2 1 1 2 2" in text  # expectations, passed, failed, unexpected rows, quarantined
    assert "run-2024-05 candidates 1 1 0 0 0" in text
    assert "expect_column_values_to_not_be_null title 120 2" in text
    assert "Data Docs are not built yet" in text and "/data-docs/index.html" not in client.get("/validation").text
    lake = storage.Lake.from_settings(settings)
    lake.write_bytes(lake.path("data_docs", "index.html"), b"<html><body>GX docs</body></html>")
    page = client.get("/validation").text
    assert 'href="/data-docs/index.html"' in page and "not built yet" not in page


def test_llm_spend_per_agent_model_and_month_with_budget_stops(dashboard):
    _, client = dashboard
    text = text_of(client.get("/spend").text)
    assert "2024-06 answer_filter gpt-4o 2 0 40,000 10,000 $1.00 0 1" in text
    assert "2024-05 query_draft gpt-4o-mini 3 1 3,000 600 $0.0300 0 0" in text
    assert "Budget stops" in text and "run-2024-06 2024-06 monthly-harvest" in text
    assert "run-2024-05 2024-05" not in text.split("Budget stops")[1]


def test_candidates_counts_filters_and_paging(dashboard):
    _, client = dashboard
    text = text_of(client.get("/candidates").text)
    assert "status candidates done 12 dropped 1" in text
    assert "dropped ungrounded_answer target 1 40" in text
    assert "13 candidates match · page 1 of 1" in text
    assert "12 candidates match" in text_of(client.get("/candidates?status=done").text)
    assert "1 candidate match" in text_of(client.get("/candidates?min_score=&status=dropped").text)
    assert "12 candidates match" in text_of(client.get("/candidates?min_score=90").text)
    filtered = text_of(client.get("/candidates?paper=2611.00001&status=done&min_score=50").text)
    assert "4 candidates match" in filtered and "c1x0" in filtered and "c0x0" not in filtered
    first = client.get("/candidates?per_page=10").text
    assert "page 1 of 2" in text_of(first) and first.count('<a href="/candidates/') == 10
    assert 'href="/candidates?per_page=10&amp;page_no=2"' in first and 'id="prev-page"' not in first
    second = client.get("/candidates?per_page=10&page_no=2").text
    assert "page 2 of 2" in text_of(second) and second.count('<a href="/candidates/') == 3
    assert 'id="prev-page"' in second and 'id="next-page"' not in second
    assert "c2x3" in second and "d0" in second and "c0x0" not in second  # ordered by paper, then id
    assert "No candidate matches" in text_of(client.get("/candidates?status=dropped&page_no=2").text)


@pytest.mark.parametrize("query", ["status=bogus", "min_score=abc", "min_score=101", "min_score=-1", "page_no=0",
                                   "page_no=x", "per_page=7", "paper=" + "x" * 300])
def test_a_bad_parameter_is_a_4xx_page_without_a_traceback(dashboard, query):
    _, client = dashboard
    r = client.get(f"/candidates?{query}")
    assert 400 <= r.status_code < 500, (query, r.status_code)
    assert "Traceback" not in r.text and "<h1>" in r.text


def test_candidate_page_question_answer_evidence_lineage(dashboard):
    _, client = dashboard
    page = client.get("/candidates/c1x0").text
    text = text_of(page)
    assert 'class="math-text"' in page and r"\nabla L_0" in text
    assert "Proof of Lemma 1" in text and "We assume each loss is convex" in text
    assert "run-2024-06 · monthly-harvest · 2024-06 · stopped" in text
    assert "e1x0 (equation 1) → e1x1 (equation 2) via proof" in text
    assert "answer_filter gpt-4o 2 0 40,000 10,000 $1.00" in text  # the agents' calls for it
    assert "3 reviews" not in text and "2 reviews: 2 keep, 0 reject" in text_of(client.get("/candidates/c0x0").text)
    assert client.get("/candidates/nope").status_code == 404


def test_review_queue_health_progress_and_agreement(dashboard):
    _, client = dashboard
    text = text_of(client.get("/review").text)
    assert "12 queued 8 assignments 7 reviews 4 candidates reviewed 0 adjudicated 3 keepers" in text
    assert "ana 4 4 4 0 3.60" in text and "ben 4 3 2 1 3.47" in text
    assert "66.7 % of 3 reviewer pairs agree" in text and "problem clarity 0.67" in text


def test_review_sections_say_not_yet_before_reviews_are_exported(settings):
    dashboard_catalog(settings, reviews=False)
    text = text_of(TestClient(create_app(settings)).get("/review").text)
    assert "Not yet: no review queue" in text and "Not yet: reviews have not been exported" in text
    assert "Not yet: no candidate has two reviews" in text


def test_a_catalog_without_the_dashboards_views_shows_not_yet(settings):
    """A catalog published by an older version (no dashboard views, no review tables)."""
    import duckdb  # the test builds such a catalog by hand; the product never imports duckdb here

    Path(settings.catalog_path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(settings.catalog_path)
    con.execute("CREATE TABLE runs (run_id VARCHAR, status VARCHAR)")
    con.close()
    client = TestClient(create_app(settings))
    for _, href, _ in PAGES:
        r = client.get(href)
        assert r.status_code == 200, (href, r.text)
        assert "Not yet" in r.text, href


def test_no_catalog_yet_every_page_says_so_and_nothing_is_written(settings):
    client = TestClient(create_app(settings))
    for _, href, _ in PAGES:
        r = client.get(href)
        assert r.status_code == 200 and "No catalog yet" in r.text
    assert client.get("/candidates/c0x0").status_code == 200
    assert client.get("/data-docs/index.html").status_code == 404
    assert not Path(settings.catalog_path).exists() and not Path(settings.lake_url).exists()


def test_data_docs_are_served_from_the_lake_and_traversal_is_refused(dashboard):
    settings, client = dashboard
    assert client.get("/data-docs/index.html").status_code == 404
    lake = storage.Lake.from_settings(settings)
    lake.write_bytes(lake.path("data_docs", "index.html"), b"<html>docs</html>")
    lake.write_bytes(lake.path("data_docs", "static", "styles", "site.css"), b"body{}")
    Path(settings.home, "secret.txt").write_text("secret")
    r = client.get("/data-docs/index.html")
    assert r.status_code == 200 and r.text == "<html>docs</html>" and r.headers["content-type"].startswith("text/html")
    assert "sandbox" in r.headers["content-security-policy"]
    assert client.get("/data-docs/static/styles/site.css").headers["content-type"].startswith("text/css")
    assert client.get("/data-docs/", follow_redirects=False).status_code in (200, 307)
    for bad in ["/data-docs/..%2F..%2Fsecret.txt", "/data-docs/%2e%2e/%2e%2e/secret.txt", "/data-docs/%2Fetc%2Fpasswd",
                "/data-docs/static/..%5C..%5Csecret.txt", "/data-docs/.hidden", "/data-docs/static%00.css"]:
        r = client.get(bad)
        assert r.status_code == 404 and "secret" not in r.text, bad


def test_server_errors_never_show_a_traceback(dashboard, monkeypatch):
    settings, _ = dashboard
    from dashboards import app as module

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(module, "lake_file", broken)
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    r = client.get("/validation")
    assert r.status_code == 500 and "secret internals" not in r.text and "Traceback" not in r.text


def test_pages_keep_answering_while_the_catalog_is_republished(dashboard):
    settings, client = dashboard
    stop, published, errors = threading.Event(), [], []

    def republish():
        try:
            while not stop.is_set():
                storage.publish_catalog(settings)
                published.append(1)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    worker = threading.Thread(target=republish)
    worker.start()
    try:
        codes = []
        for i in range(30):
            href = ["/funnel", "/candidates", "/candidates/c1x0", "/review", "/spend"][i % 5]
            r = client.get(href)
            codes.append(r.status_code)
            assert r.status_code == 200, (href, r.status_code, r.text[:500])
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not errors and len(published) >= 2, (errors, len(published))


def test_a_rerun_of_a_month_does_not_list_its_papers_twice_and_a_failed_run_counts_nothing(dashboard):
    from datetime import date

    from tasks.core.records import Run

    settings, client = dashboard
    lake = storage.Lake.from_settings(settings)
    window = {"flow": "monthly-harvest", "source": "snapshot", "since": date(2024, 5, 1), "until": date(2024, 5, 31),
              "lake": lake.url}
    lake.write_table(Run, [  # a rerun lists the month again and finds nothing new; a crash in between
        Run(run_id="run-2024-05-again", status="completed", listed=120, matched=80, rating_pass=40, keyword_pass=30,
            **window),
        Run(run_id="run-2024-05-broken", status="failed", listed=999, papers_extracted=5, **window)], "reruns")
    storage.publish_catalog(settings)
    text = text_of(client.get("/funnel").text)
    assert "2024-05 2 120 80 40 30 25 10 7 0 0 7 2 $0.0300" in text  # two runs counted, the listing once
