"""End to end in headless Chromium (Debian's /usr/bin/chromium driven by Playwright): log in,
score a candidate with the keyboard, and find the review stored; broken LaTeX still shows."""

from __future__ import annotations

import shutil

import pytest

from reviewapp.app import create_app
from tasks.curate import review
from tests.factories import candidate_catalog
from tests.reviewapp import serving

CHROMIUM = "/usr/bin/chromium"
# Without these Chromium tries to reach Google's hosts on this closed network at every start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def served(settings):
    assert shutil.which(CHROMIUM), "Chromium is missing: `scripts/bootstrap --dev` installs Debian's chromium"
    candidate_catalog(settings, papers=2, per_paper=2)
    db = review.open_db(settings)
    token = review.add_reviewer(db, "ana")
    review.load_items(settings, db)
    review.assign(db, 1)
    with serving(create_app(settings)) as url:
        yield url, token, db


def test_log_in_score_with_the_keyboard_and_find_it_stored(served, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, token, db = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        failed = []
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(url + "/")
        expect(page).to_have_url(url + "/login")
        page.fill("#token", token)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{url}/candidates/c0x0")  # resume: the first unreviewed candidate

        # broken LaTeX (c0x0's question): the raw source is shown and the rest still renders
        question = page.locator("section.question")
        expect(question.locator(".render-warning")).to_be_visible()
        expect(question.locator("details.source pre")).to_contain_text(r"\frac{a}{ b")
        expect(page.locator("section.answer .katex").first).to_be_visible()
        expect(page.locator("section.evidence mark").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "review.png"), full_page=True)

        # keyboard: 1-5 score each principle in turn, y keeps, c focuses the comment, Ctrl+Enter submits
        for key in "45324":
            page.keyboard.press(key)
        page.keyboard.press("y")
        page.keyboard.press("c")
        page.keyboard.type("Clear and hard.")
        page.keyboard.press("Control+Enter")
        expect(page).to_have_url(f"{url}/candidates/c0x1")
        expect(page.locator(".topline .progress")).to_contain_text("1 reviewed")

        # the PDF page is one click away and is a real image
        with page.expect_popup() as popup:
            page.click("#pdf-link")
        image = popup.value
        image.wait_for_load_state()
        assert image.evaluate("document.images.length && document.images[0].naturalWidth") > 100

        # a draft is kept in the browser: scores survive a reload before submitting
        page.keyboard.press("3")
        page.reload()
        expect(page.locator("input[name=reasoning_density][value='3']")).to_be_checked()
        browser.close()
    assert not [u for u in failed if u.startswith(url)], failed

    (stored,) = review.all_reviews(db)
    assert (stored.candidate_id, stored.reviewer, stored.decision, stored.comment) == \
        ("c0x0", "ana", "keep", "Clear and hard.")
    assert [stored.reasoning_density, stored.problem_clarity, stored.derivation_correctness,
            stored.problem_difficulty, stored.human_heuristics] == [4, 5, 3, 2, 4]
