import json
from datetime import date

import pytest

from tasks.harvest.sources.arxiv import Window
from tasks.harvest.sources.snapshot import PathOutsideSnapshot, SnapshotSource


def test_demo_snapshot_answers_like_the_live_sources(settings):
    source = SnapshotSource(settings)
    since, until = source.default_window
    papers = [p for w in source.windows(since, until) for p in source.list_window(w)]
    ids = {p.paper_id for p in papers}
    assert "arxiv:1707.08043" in ids and "arxiv:2404.90005" not in ids  # out of window
    assert len(ids) == 5
    venues = source.venues()
    assert {v.venue_id for v in venues} == {"Demo.cc/2024/Conference", "Demo.cc/2025/Conference"}
    notes = source.venue_notes(venues[0])
    assert notes and all("details" in n for n in notes)
    assert source.fetch("https://arxiv.org/e-print/1707.08043v1").data[:2] == b"\x1f\x8b"
    missing = source.fetch("https://arxiv.org/e-print/2405.90002v1")
    assert missing.data is None and missing.reason == "not_found"


def test_window_filters_by_category(settings):
    source = SnapshotSource(settings)
    only_math = source.list_window(Window(date(2024, 5, 1), date(2024, 5, 31), ("math.AC",)))
    assert [p.paper_id for p in only_math] == ["arxiv:1707.08043"]


def test_manifest_paths_cannot_leave_the_snapshot_folder(settings, tmp_path):
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(b"%PDF- not yours")
    folder = tmp_path / "snap"
    (folder / "documents").mkdir(parents=True)
    (folder / "documents" / "ok.pdf").write_bytes(b"%PDF- fine")
    (folder / "manifest.json").write_text(json.dumps({
        "window": {"since": "2024-05-01", "until": "2024-05-31"}, "arxiv_feeds": ["../listing.xml"],
        "documents": {"u1": {"path": "documents/ok.pdf"}, "u2": {"path": "../secret.pdf"},
                      "u3": {"path": str(secret)}}}))
    source = SnapshotSource(settings, folder)
    assert source.fetch("u1").data == b"%PDF- fine"
    for url in ("u2", "u3"):
        fetched = source.fetch(url)
        assert (fetched.data, fetched.reason) == (None, "path_outside_snapshot")
    with pytest.raises(PathOutsideSnapshot):
        source.list_window(source.windows(*source.default_window)[0])
