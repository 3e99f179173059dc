"""Every dashboard page in headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
the numbers appear, charts are drawn, KaTeX renders the candidate page, no console error and no
failed request. A screenshot of each page goes to the test's folder, and to docs/dashboard/
(the README's images) when STORMBORN_SCREENSHOTS is set."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dashboards.app import create_app
from tests.factories import dashboard_catalog
from tests.reviewapp import serving
from tests.reviewapp.test_browser import CHROMIUM, CHROMIUM_ARGS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "dashboard"
PAGES = [  # (name, path, texts that must show, charts that must be drawn)
    ("funnel", "/funnel", ["2024-06", "below_rating", "run-2024-05"], ["funnel", "rejects"]),
    ("validation", "/validation", ["expect_column_values_to_not_be_null", "Data Docs are not built yet"], ["stages"]),
    ("spend", "/spend", ["answer_filter", "gpt-4o-mini", "$1.00", "Budget stops"], ["dollars", "calls"]),
    ("candidates", "/candidates?per_page=10", ["13 candidates match", "ungrounded_answer"], ["status"]),
    ("candidate", "/candidates/c1x0", ["Proof of Lemma 1", "run-2024-06", "e1x1"], []),
    ("review", "/review", ["66.7 %", "ana", "keepers"], ["health", "progress"]),
]


@pytest.fixture
def served(settings):
    assert shutil.which(CHROMIUM), "Chromium is missing: `scripts/bootstrap --dev` installs Debian's chromium"
    dashboard_catalog(settings)
    with serving(create_app(settings)) as url:
        yield url


def test_every_page_renders_in_a_browser(served, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url = served
    keep = os.environ.get("STORMBORN_SCREENSHOTS")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        failed, errors = [], []
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for name, path, texts, charts in PAGES:
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            for text in texts:
                expect(page.locator("main")).to_contain_text(text)
            for chart in charts:
                expect(page.locator(f"#chart-{chart}")).to_have_attribute("data-drawn", "yes")
            expect(page.locator("header nav a.active")).to_have_count(1)
            if name == "candidate":
                expect(page.locator("section.question .katex").first).to_be_visible()
                expect(page.locator("section.answer .katex").first).to_be_visible()
                expect(page.locator("#lineage .katex").first).to_be_visible()
                expect(page.locator("section.question .render-warning")).to_be_hidden()
            shot = tmp_path / f"{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if keep:
                DOCS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(DOCS / f"{name}.png"), full_page=False)
        # the filter form round-trips through the URL
        page.goto(url + "/candidates")
        page.fill("input[name=paper]", "2611.00001")
        page.select_option("select[name=status]", "done")
        page.click("form.filters button[type=submit]")
        expect(page.locator("#match-count")).to_contain_text("4 candidates match")
        # broken LaTeX on a candidate page: the source is shown, the page still works
        page.goto(url + "/candidates/c0x0")
        expect(page.locator("section.question .render-warning")).to_be_visible()
        browser.close()
    assert not failed, failed
    assert not errors, errors
