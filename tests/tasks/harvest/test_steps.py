"""The harvest's plain functions: join + rating rule, documents, keyword rule, caching."""

from datetime import date

from tasks.core.records import Paper
from tasks.core.settings import VenueRule
from tasks.harvest.sources.base import Fetched
from tasks.harvest.sources.openreview import parse_submission
from tasks.harvest.steps import SourceSpec, join_reviews, process_papers, run_scope
from tasks.io.storage import Lake
from tests.factories import PLAIN_TEXT, image_only_pdf, paper_pdf, tarball, tex_project, v2_note


class CountingSource:
    """A source whose documents are scripted by URL and whose fetches are counted."""

    name = "counting"

    def __init__(self, bodies: dict[str, Fetched]):
        self.bodies, self.fetches = bodies, []

    def fetch(self, url):
        self.fetches.append(url)
        return self.bodies.get(url, Fetched(None, "not_found", url))


def _paper(n):
    return Paper(paper_id=f"arxiv:2405.0000{n}", source="arxiv", title=f"Paper {n}",
                 pdf_url=f"https://x/pdf/{n}", source_url=f"https://x/src/{n}",
                 openreview_id=f"f{n}", venue="V")


def _decisions(settings, papers):
    from tasks.core.records import Review
    from tasks.harvest.filters import rating_decision

    reviews = [Review(review_id="r", forum_id="f", venue="V", rating=8)]
    return {p.paper_id: rating_decision(p, reviews, {"V": VenueRule(venue_id="V")}, "run", 5) for p in papers}


def test_documents_keyword_rule_and_reasons(settings):
    papers = [_paper(i) for i in range(1, 6)]
    bodies = {
        "https://x/src/1": Fetched(tarball(tex_project())), "https://x/pdf/1": Fetched(paper_pdf()),
        "https://x/src/2": Fetched(paper_pdf()), "https://x/pdf/2": Fetched(paper_pdf()),
        "https://x/pdf/3": Fetched(paper_pdf(PLAIN_TEXT)),
        "https://x/pdf/4": Fetched(b"<html>Too many requests</html>"),
        "https://x/pdf/5": Fetched(image_only_pdf()),
        "https://x/src/5": Fetched(None, "fetch_failed", "timeout", transient=True),
    }
    source = CountingSource(bodies)
    batch = process_papers(settings, source, Lake.from_settings(settings), papers,
                           _decisions(settings, papers), "run")
    filters = {f.paper_id: f for f in batch.filters}
    assert filters["arxiv:2405.00001"].passed and filters["arxiv:2405.00001"].keyword_text_source == "latex"
    assert filters["arxiv:2405.00002"].passed and filters["arxiv:2405.00002"].keyword_text_source == "pdf"
    assert filters["arxiv:2405.00003"].reason == "too_few_derivation_keywords"
    assert filters["arxiv:2405.00004"].reason == "no_usable_document"
    docs = {(d.paper_id, d.kind): d for d in batch.documents}
    assert docs[("arxiv:2405.00002", "latex")].reason == "pdf_only_source"
    assert docs[("arxiv:2405.00003", "latex")].reason == "not_found"
    assert docs[("arxiv:2405.00004", "pdf")].reason == "not_a_pdf"
    assert docs[("arxiv:2405.00005", "pdf")].reason == "image_only_pdf"
    assert docs[("arxiv:2405.00005", "latex")].reason == "fetch_failed"
    ok = docs[("arxiv:2405.00001", "pdf")]
    assert ok.parse_status == "ok" and ok.pages == 2 and len(ok.sha256) == 64 and ok.chars > 100
    assert Lake.from_settings(settings).read_uri(ok.uri)[:4] == b"%PDF"
    reasons = sorted(r.reason for r in batch.rejects)
    assert reasons.count("not_found") == 2 and "too_few_derivation_keywords" in reasons

    # A rerun fetches nothing it already has, and nothing that failed for good; it retries
    # only the transient failure.
    source2 = CountingSource(bodies)
    again = process_papers(settings, source2, Lake.from_settings(settings), papers,
                           _decisions(settings, papers), "run2")
    assert source2.fetches == ["https://x/src/5"]
    assert [f.model_dump(exclude={"run_id", "decided_at"}) for f in again.filters] == \
        [f.model_dump(exclude={"run_id", "decided_at"}) for f in batch.filters]


def test_join_reviews_applies_the_rule_and_records_rejects(settings):
    venue = VenueRule(venue_id="V")
    papers = [Paper(paper_id="arxiv:1", source="arxiv", title="Good Paper", arxiv_id="1"),
              Paper(paper_id="arxiv:2", source="arxiv", title="Weak Paper", arxiv_id="2"),
              Paper(paper_id="arxiv:3", source="arxiv", title="Unreviewed", arxiv_id="3"),
              Paper(paper_id="arxiv:1", source="arxiv", title="Good Paper", arxiv_id="1")]
    subs = [parse_submission(v2_note("V", 1, "Good Paper", [8, 8], arxiv_id="1"), venue)[0],
            parse_submission(v2_note("V", 2, "Weak Paper", [6, 5], arxiv_id="2"), venue)[0]]
    joined = join_reviews(papers, subs, [venue], settings, "run")
    assert len(joined.papers) == 3
    assert {d.paper_id: d.rating_rule for d in joined.decisions.values()} == \
        {"arxiv:1": "pass", "arxiv:2": "fail", "arxiv:3": "fail"}
    assert {r.paper_id for r in joined.reviews} == {"arxiv:1", "arxiv:2"}
    assert sorted(r.reason for r in joined.rejects) == ["no_openreview_match", "rating_not_above_weak_accept"]


def test_run_scope_is_deterministic():
    a = run_scope(SourceSpec("local", "/data/x"), date(2024, 5, 1), date(2024, 5, 31))
    assert a == run_scope(SourceSpec("local", "/data/x"), date(2024, 5, 1), date(2024, 5, 31))
    assert a != run_scope(SourceSpec("local", "/data/y"), date(2024, 5, 1), date(2024, 5, 31))


def test_failed_listing_windows_and_venues_are_rejects_not_crashes(settings, tmp_path):
    import json
    import shutil

    from tasks.harvest.sources.arxiv import Window
    from tasks.harvest.steps import fetch_venue, list_window
    from tests.conftest import FIXTURES

    snap = tmp_path / "snap"
    (snap / "arxiv").mkdir(parents=True)
    shutil.copy(FIXTURES / "arxiv" / "new_format_error_400_bad_id.xml", snap / "arxiv" / "error.xml")
    (snap / "arxiv" / "garbage.xml").write_bytes(b"\x00\x01 not a feed")
    (snap / "notes.jsonl").write_text('{"id": "n1"}\nnot json\n')
    manifest = {"window": {"since": "2024-05-01", "until": "2024-05-31"}, "arxiv_feeds": ["arxiv/error.xml"],
                "venues": [{"venue_id": "V"}], "openreview_notes": {"V": "notes.jsonl"}, "documents": {}}
    (snap / "manifest.json").write_text(json.dumps(manifest))
    window = Window(date(2024, 5, 1), date(2024, 5, 7), ("cs.LG",))
    spec = SourceSpec("snapshot", str(snap))
    (reject,) = list_window.fn(settings, spec, window, "run").rejects
    assert (reject.stage, reject.reason, reject.entity_id) == ("listing", "arxiv_api_error", window.key)
    manifest["arxiv_feeds"] = ["arxiv/garbage.xml"]
    (snap / "manifest.json").write_text(json.dumps(manifest))
    from tasks.harvest.sources import snapshot

    snapshot._recorded_feed.cache_clear()
    assert list_window.fn(settings, spec, window, "run").rejects[0].reason == "listing_failed"
    answer = fetch_venue.fn(settings, spec, VenueRule(venue_id="V"), "run")
    assert [r.reason for r in answer.rejects] == ["openreview_unavailable"]  # a line is not JSON
    (snap / "notes.jsonl").write_text('{"content": {"title": {"value": "no id"}}}\n' +
                                      json.dumps(v2_note("V", 1, "Fine", [8])) + "\n")
    answer = fetch_venue.fn(settings, spec, VenueRule(venue_id="V"), "run")
    assert [r.reason for r in answer.rejects] == ["malformed_note"]
    assert [s.forum_id for s in answer.submissions] == ["f1"]


def test_a_source_that_raises_is_a_recorded_transient_failure(settings):
    class Broken(CountingSource):
        def fetch(self, url):
            raise PermissionError(f"cannot read {url}")

    papers = [_paper(7)]
    batch = process_papers(settings, Broken({}), Lake.from_settings(settings), papers,
                           _decisions(settings, papers), "run")
    assert {d.reason for d in batch.documents} == {"fetch_failed"}
    assert all("PermissionError" in d.detail for d in batch.documents)
    assert batch.filters[0].reason == "no_usable_document"


def test_stored_error_text_never_holds_a_secret(settings):
    """A service that quotes a credential back (a password, a key, a signed URL) in its error:
    the stored reason says what failed, without the secret."""
    from pydantic import SecretStr

    password = "correct-horse-battery-staple"
    settings.openreview.password = SecretStr(password)

    class Leaky(CountingSource):
        def fetch(self, url):
            raise ConnectionError(f"login as ana:{password} failed; Authorization: Bearer tok_1234567890abcdef "
                                  f"for https://ana:{password}@api.example.org, key sk-abcdefghijklmnop")

    papers = [_paper(8)]
    batch = process_papers(settings, Leaky({}), Lake.from_settings(settings), papers,
                           _decisions(settings, papers), "run")
    details = " ".join(d.detail for d in batch.documents)
    assert "ConnectionError" in details and "failed" in details
    for secret in (password, "tok_1234567890abcdef", "sk-abcdefghijklmnop"):
        assert secret not in details


def _spin(*args):
    while True:
        pass


def _hog(*args):
    hoard = []
    while True:
        hoard.append(bytearray(64 * 2**20))


def test_reading_a_body_has_a_deadline_and_a_memory_ceiling(monkeypatch):
    from tasks.core.settings import FetchSettings
    from tasks.harvest import steps

    limits = FetchSettings(parse_deadline_s=0.5, parse_memory_mb=256)
    monkeypatch.setattr(steps, "parse_document", _spin)
    assert steps.read_bounded("pdf", b"%PDF-", limits).reason == "parse_timeout"
    monkeypatch.setattr(steps, "parse_document", _hog)
    assert steps.read_bounded("pdf", b"%PDF-", limits).reason == "memory_limit"
