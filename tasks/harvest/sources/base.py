"""What every source offers, live or recorded, so flows never know which one they talk to.

A source lists papers per window, returns an OpenReview venue's submission notes (as JSON
dicts), and fetches a document body by URL. ``LiveSource`` talks to arXiv, OpenReview and the
web; ``SnapshotSource`` answers from a recorded snapshot; ``LocalSource`` reads a folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from tasks.core.records import Paper
from tasks.core.settings import VenueRule
from tasks.harvest.sources.arxiv import Window


@dataclass
class Fetched:
    """A fetched body, or why there is none. ``transient`` failures are retried on a rerun."""

    data: bytes | None
    reason: str | None = None
    detail: str | None = None
    transient: bool = False
    sha256: str | None = None
    """Set when the body is already in the lake: it is then read only if it must be parsed."""
    size: int = 0

    @property
    def ok(self) -> bool:
        return self.data is not None or self.sha256 is not None


class Source(Protocol):
    name: str

    def windows(self, since: date, until: date) -> list[Window]: ...

    def list_window(self, window: Window) -> list[Paper]: ...

    def venues(self) -> list[VenueRule]: ...

    def venue_notes(self, rule: VenueRule) -> list[dict]: ...

    def fetch(self, url: str) -> Fetched: ...

    def license(self, paper: Paper) -> str | None:
        """The licence the source states for a paper (a URL or SPDX-like name), else None."""
        ...
