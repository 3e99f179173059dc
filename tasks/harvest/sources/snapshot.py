"""A recorded snapshot of arXiv + OpenReview answers, for offline demos and tests.

Input: a snapshot folder with ``manifest.json``::

    {"window": {"since": "2024-05-01", "until": "2024-05-31"},
     "categories": ["cs.LG", ...],                           # the recording's categories
     "arxiv_feeds": ["arxiv/listing.atom.xml", ...],        # export API answers (Atom)
     "venues": [{"venue_id": ..., "api_version": 2, "weak_accept": 6}, ...],
     "openreview_notes": {"<venue_id>": "openreview/<venue>.jsonl"},   # Note JSON + details
     "documents": {"<url>": {"path": "documents/x.pdf"} | {"status": 404}},
     "oai_licenses": {"<arxiv id>": "<licence URL>"},         # recorded OAI-PMH answers
     "fetch_latency_s": 0.0}                                # optional: replay download latency

Output: the same answers the live source would give, parsed by the same parsers: listings are
the recorded feeds' entries whose submission date and categories fall in the asked window.
"""

from __future__ import annotations

import json
import time
from datetime import date
from functools import lru_cache
from pathlib import Path

from tasks.core.records import Paper
from tasks.core.settings import Settings, VenueRule
from tasks.harvest.sources.arxiv import Window, parse_feed, plan_windows
from tasks.harvest.sources.base import Fetched

DEMO_SNAPSHOT = Path(__file__).resolve().parent / "demo_snapshot"


@lru_cache(maxsize=16)
def _recorded_feed(path: Path) -> list[Paper]:
    """A recorded feed, parsed once per process (every listing window reads the same feeds)."""
    return parse_feed(path.read_bytes()).papers


class PathOutsideSnapshot(ValueError):
    """The manifest names a file outside the snapshot folder."""


class SnapshotSource:
    name = "snapshot"

    def __init__(self, settings: Settings, folder: str | Path | None = None):
        self.settings = settings
        self.folder = Path(folder or DEMO_SNAPSHOT).resolve()
        manifest_path = self.folder / "manifest.json"
        if not manifest_path.exists():
            raise FileNotFoundError(f"not a snapshot (no manifest.json): {self.folder}")
        self.manifest = json.loads(manifest_path.read_text())

    @property
    def default_window(self) -> tuple[date, date]:
        w = self.manifest["window"]
        return date.fromisoformat(w["since"]), date.fromisoformat(w["until"])

    def windows(self, since: date, until: date) -> list[Window]:
        categories = self.manifest.get("categories") or self.settings.arxiv.categories
        return plan_windows(since, until, categories)

    def _inside(self, relative: str) -> Path:
        """A path the manifest names, confined to the snapshot folder: a manifest is data and may
        name ``../…`` or an absolute path (``PathOutsideSnapshot``)."""
        path = (self.folder / relative).resolve()
        if not path.is_relative_to(self.folder):
            raise PathOutsideSnapshot(f"{relative!r} is outside the snapshot folder {self.folder}")
        return path

    def list_window(self, window: Window) -> list[Paper]:
        papers = []
        for feed_path in self.manifest.get("arxiv_feeds", []):
            for paper in _recorded_feed(self._inside(feed_path)):
                day = paper.published.date() if paper.published else None
                in_window = day is not None and window.start <= day <= window.end
                if in_window and set(paper.categories) & set(window.categories):
                    papers.append(paper.model_copy(update={"source": "arxiv"}))
        return papers

    def venues(self) -> list[VenueRule]:
        return [VenueRule(**v) for v in self.manifest.get("venues", [])]

    def venue_notes(self, rule: VenueRule) -> list[dict]:
        rel = self.manifest.get("openreview_notes", {}).get(rule.venue_id)
        if rel is None:
            return []
        lines = self._inside(rel).read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def license(self, paper: Paper) -> str | None:
        return self.manifest.get("oai_licenses", {}).get(paper.arxiv_id or "")

    def fetch(self, url: str) -> Fetched:
        time.sleep(float(self.manifest.get("fetch_latency_s", 0.0)))
        entry = self.manifest.get("documents", {}).get(url)
        if entry is None:
            return Fetched(None, "not_found", f"{url} is not in the snapshot")
        if "path" in entry:
            try:
                return Fetched(self._inside(entry["path"]).read_bytes())
            except PathOutsideSnapshot as exc:
                return Fetched(None, "path_outside_snapshot", str(exc)[:500])
        status = int(entry.get("status", 404))
        reason = "not_found" if status == 404 else f"http_{status}"
        return Fetched(None, reason, f"recorded HTTP {status} for {url}", transient=status >= 500)
