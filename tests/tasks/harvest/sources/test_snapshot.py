from datetime import date

from tasks.harvest.sources.arxiv import Window
from tasks.harvest.sources.snapshot import SnapshotSource


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
