"""The audit page in headless Chromium: models' hostile answers stay text (no script runs, no
link or image appears), their math renders with the app's KaTeX, and an admin retires an item
with the form."""

from __future__ import annotations

import pytest

from reviewapp.app import create_app
from tasks.core.records import Retirement
from tasks.curate import audit_queue, review
from tasks.io import storage
from tests.factories import candidate_catalog
from tests.reviewapp import serving
from tests.reviewapp.test_audits import HOSTILE, send
from tests.reviewapp.test_browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def served(settings):
    candidate_catalog(settings, papers=1, per_paper=2, broken=False)
    db = review.open_db(settings)
    token = review.add_reviewer(db, "boss", "admin")
    review.load_items(settings, db)
    send(db, "c0x1", "split", raw=HOSTILE, parsed=r"$x = \frac{4}{2}$ \href{javascript:alert(3)}{click} " + HOSTILE)
    with serving(create_app(settings, publish=False)) as url:
        yield url, token, settings


def test_hostile_answers_stay_text_and_the_admin_retires_the_item(served, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, token, settings = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        dialogs, failed = [], []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(url + "/login")
        page.fill("#token", token)
        page.click("button[type=submit]")
        expect(page).to_have_url(url + "/admin")
        page.click("#audits-link")
        expect(page).to_have_url(url + "/admin/audits")

        answer = page.locator("section.model-answer").first
        expect(answer.locator(".katex").first).to_be_visible()  # the model's math, rendered
        expect(answer.locator(".math-text")).to_contain_text('<script>alert("raw")</script>')
        expect(page.locator("section.question .katex").first).to_be_visible()  # the paper's question too
        assert page.locator("main script, main img, a[href^='javascript']").count() == 0
        page.screenshot(path=str(tmp_path / "audits.png"), full_page=True)

        form = page.locator("form.resolve").first
        form.locator("input[value=retire]").check()
        form.locator("select[name=reason]").select_option("wrong_key")
        form.locator("input[name=comment]").fill("the key is wrong")
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(url + "/admin/audits")
        expect(page.locator("h1")).to_contain_text("(0 open)")
        expect(page.locator("section.decided")).to_contain_text("the key is wrong")
        browser.close()
    assert dialogs == [] and not [u for u in failed if u.startswith(url)], (dialogs, failed)
    (row,) = storage.Lake.from_settings(settings).read_part(Retirement, audit_queue.retirement_part("c0x1"))
    assert (row["reason"], row["retired_by"]) == ("wrong_key", "boss")
