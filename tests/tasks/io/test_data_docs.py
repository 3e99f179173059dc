"""Data Docs built once per run from the lake's `validations` rows: every stage's suite, results
of validations run in any process, offline (vendored assets), local or s3:// lake."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from expectations import SUITES
from tasks.core.records import Paper, Validation
from tasks.core.settings import S3Settings, load_settings
from tasks.io.data_docs import build_data_docs, external_assets
from tasks.io.storage import Lake, publish_catalog
from tasks.io.validate import gate

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RUN = "harvest-0123abcd"


def land_validations(lake: Lake) -> None:
    """One run's validations of two stages: `papers` validated here, `candidate_answers` as rows
    two Dask workers would have landed (two batches, summed in the docs), and an older run."""
    gate(lake, "papers", [Paper(paper_id="arxiv:1", source="arxiv", title="Good"),
                          Paper(paper_id="not an id", source="arxiv", title="Bad")], RUN, "p1")
    for batch, unexpected in enumerate([3, 1]):
        lake.write_table(Validation, [
            Validation(run_id=RUN, stage="candidate_answers", suite="candidate_answers",
                       expectation="expect_column_values_to_be_between", column="grounded_score",
                       success=not unexpected, element_count=20, unexpected_count=unexpected),
            Validation(run_id=RUN, stage="candidate_answers", suite="candidate_answers",
                       expectation="expect_column_values_to_not_be_null", column="grounded_score",
                       success=True, element_count=20, unexpected_count=0)],
            f"{RUN}-candidate_answers-worker{batch}")
    lake.write_table(Validation, [Validation(run_id="extract-99999999", stage="expressions", suite="expressions",
                                             expectation="expect_column_values_to_not_be_null", column="paper_id",
                                             success=True, element_count=7, unexpected_count=0)],
                     "extract-99999999-expressions-a")


def pages(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.html")}


def text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def built(settings):
    lake = Lake.from_settings(settings)
    land_validations(lake)
    publish_catalog(settings)
    start = time.perf_counter()
    location = build_data_docs(settings, RUN)
    print(f"Data Docs built in {time.perf_counter() - start:.2f} s")
    return Path(location).parent


def test_a_page_per_stage_suite_and_per_stage_result_of_the_run(built):
    found = pages(built)
    assert {f"expectations/{s}.html" for s in SUITES} <= found  # every suite, validated or not
    results = {p.split("/")[1:3] and tuple(p.split("/")[1:3]) for p in found if p.startswith("validations/")}
    assert results == {("papers", RUN), ("candidate_answers", RUN), ("expressions", "extract-99999999")}
    (answers,) = [p for p in found if p.startswith(f"validations/candidate_answers/{RUN}/")]
    page = text((built / answers).read_text())
    assert "4 unexpected values found" in page and "of 40 total rows" in page  # two workers' batches, summed
    assert "10% unexpected" in page
    (papers,) = [p for p in found if p.startswith(f"validations/papers/{RUN}/")]
    assert "Failed" in text((built / papers).read_text())
    index = (built / "index.html").read_text()
    assert all(f"expectations/{s}.html" in index for s in SUITES) and RUN in index


def test_no_page_loads_anything_from_the_internet(built):
    assert external_assets(built) == []
    for page in built.rglob("*.html"):
        html = page.read_text()
        assert not re.findall(r"<(?:script|link|img)\b[^>]*(?:src|href)=\"https?://", html), page
    assert (built / "static" / "vendor" / "bootstrap@4.3.1" / "LICENSE").exists()
    assert not [p for p in (built / "static" / "styles").glob("*.css") if "https://" in p.read_text()]


@contextmanager
def serve(folder: Path):
    handler = functools.partial(type("Quiet", (http.server.SimpleHTTPRequestHandler,),
                                     {"log_message": lambda *a: None}), directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_pages_render_styled_offline_in_chromium(built):
    from playwright.sync_api import expect, sync_playwright

    assert shutil.which(CHROMIUM), "Chromium is missing: `scripts/bootstrap --dev` installs Debian's chromium"
    with serve(built) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        failed, elsewhere, errors = [], [], []
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))

        def only_here(route):
            if route.request.url.startswith((url, "data:")):
                return route.continue_()
            elsewhere.append(route.request.url)
            return route.abort()

        page.route("**/*", only_here)
        page.goto(url + "/index.html", wait_until="networkidle")
        style = page.evaluate("""() => ({
            font: getComputedStyle(document.body).fontFamily,
            collapse: getComputedStyle(document.querySelector('table.table')).borderCollapse,
            navbar: getComputedStyle(document.querySelector('.navbar')).display,
            table: !!document.querySelector('.bootstrap-table')})""")
        assert style["font"].startswith("-apple-system") and style["collapse"] == "collapse"  # Bootstrap's CSS
        assert style["navbar"] == "flex" and style["table"]  # bootstrap-table's script (on jQuery) ran
        expect(page.locator("body")).to_contain_text(RUN)
        page.get_by_role("tab", name="Expectation Suites").click()  # Bootstrap's tabs script
        suites = page.get_by_role("tabpanel", name="Expectation Suites")
        expect(suites.get_by_role("cell", name="candidate_answers", exact=True)).to_be_visible()
        search = suites.get_by_role("searchbox", name="Search")  # bootstrap-table's (10 suites a page)
        for suite in ("papers", "evaluations"):
            search.fill("")
            search.press_sequentially(suite)  # it filters on keyup
            expect(suites.get_by_role("cell", name=suite, exact=True)).to_be_visible()
        page.goto(url + "/" + next(p for p in pages(built) if p.startswith("validations/candidate_answers/")),
                  wait_until="networkidle")
        expect(page.locator("body")).to_contain_text("10% unexpected")
        browser.close()
    assert (failed, elsewhere, errors) == ([], [], [])


@pytest.fixture
def s3_settings(moto_server, tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    bucket = f"docs-{uuid.uuid4().hex[:8]}"
    s3 = S3Settings(endpoint_url=moto_server, access_key_id="testing", secret_access_key="s3cr3t-value")
    Lake(f"s3://{bucket}", s3).fs.mkdir(bucket)
    monkeypatch.chdir(tmp_path)
    return load_settings(home=str(tmp_path / "home"), lake=f"s3://{bucket}/stormborn",
                         s3={"endpoint_url": moto_server, "access_key_id": "testing",
                             "secret_access_key": "s3cr3t-value"})


def test_data_docs_in_an_s3_lake(s3_settings):
    lake = Lake.from_settings(s3_settings)
    land_validations(lake)
    publish_catalog(s3_settings)
    location = build_data_docs(s3_settings, RUN)
    assert location == f"{s3_settings.lake_url}/data_docs/index.html"
    base = lake.path("data_docs")
    found = {p[len(base) + 1:] for p in lake.fs.find(base)}
    assert "index.html" in found and {f"expectations/{s}.html" for s in SUITES} <= found
    assert any(p.startswith(f"validations/candidate_answers/{RUN}/") for p in found)
    assert "static/vendor/jquery@3.7.1/jquery.min.js" in found
    assert "https://code.jquery.com" not in lake.read_bytes(lake.path("data_docs", "index.html")).decode()
    before = lake.fs.info(lake.path("data_docs", "static/vendor/jquery@3.7.1/jquery.min.js"))["LastModified"]
    build_data_docs(s3_settings, RUN)  # a rebuild does not upload the unchanged vendored files again
    assert lake.fs.info(lake.path("data_docs", "static/vendor/jquery@3.7.1/jquery.min.js"))["LastModified"] == before
