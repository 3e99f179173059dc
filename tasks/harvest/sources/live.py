"""The live source: arXiv export API + OpenReview + HTTP downloads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from tasks.core.records import Paper
from tasks.core.settings import Settings, VenueRule
from tasks.harvest.sources.arxiv import ArxivClient, Window, plan_windows
from tasks.harvest.sources.base import Fetched
from tasks.harvest.sources.http import HttpFetcher
from tasks.harvest.sources.openreview import OpenReviewClient


class LiveSource:
    name = "live"

    def __init__(self, settings: Settings, api_throttle: Callable[[], None],
                 download_throttle: Callable[[], None]):
        self.settings = settings
        self.arxiv = ArxivClient(settings.arxiv, api_throttle)
        self.openreview = OpenReviewClient(settings.openreview)
        self.http = HttpFetcher(settings.fetch, download_throttle)

    def windows(self, since: date, until: date) -> list[Window]:
        return plan_windows(since, until, self.settings.arxiv.categories)

    def list_window(self, window: Window) -> list[Paper]:
        return self.arxiv.list_window(window)

    def venues(self) -> list[VenueRule]:
        return self.settings.openreview.venues

    def venue_notes(self, rule: VenueRule) -> list[dict]:
        return self.openreview.submission_notes(rule)

    def fetch(self, url: str) -> Fetched:
        return self.http.fetch(url)

    def license(self, paper: Paper) -> str | None:
        return self.arxiv.license(paper.arxiv_id) if paper.arxiv_id else None
