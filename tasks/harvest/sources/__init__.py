"""Paper sources behind one interface (``base.Source``): live, snapshot, local."""

from __future__ import annotations

from tasks.core.settings import Settings
from tasks.harvest.sources.base import Fetched, Source
from tasks.io.ratelimit import ARXIV_API_LIMIT, DOWNLOAD_LIMIT, prefect_throttle

SOURCE_KINDS = ("live", "snapshot", "local")


def build_source(settings: Settings, kind: str, path: str | None = None) -> Source:
    """Build a source on the process that uses it (clients are never pickled)."""
    if kind == "live":
        from tasks.harvest.sources.live import LiveSource

        return LiveSource(settings, prefect_throttle(ARXIV_API_LIMIT), prefect_throttle(DOWNLOAD_LIMIT))
    if kind == "snapshot":
        from tasks.harvest.sources.snapshot import SnapshotSource

        return SnapshotSource(settings, path)
    if kind == "local":
        from tasks.harvest.sources.local import LocalSource

        if not path:
            raise ValueError("--source local needs --path DIR")
        return LocalSource(settings, path)
    raise ValueError(f"unknown source {kind!r}: choose one of {', '.join(SOURCE_KINDS)}")


__all__ = ["Fetched", "Source", "SOURCE_KINDS", "build_source"]
