"""Paper sources behind one interface (``base.Source``): live, snapshot, local."""

from __future__ import annotations

from tasks.ratelimit import ARXIV_API_LIMIT, DOWNLOAD_LIMIT, prefect_throttle
from tasks.settings import Settings
from tasks.sources.base import Fetched, Source

SOURCE_KINDS = ("live", "snapshot", "local")


def build_source(settings: Settings, kind: str, path: str | None = None) -> Source:
    """Build a source on the process that uses it (clients are never pickled)."""
    if kind == "live":
        from tasks.sources.live import LiveSource

        return LiveSource(settings, prefect_throttle(ARXIV_API_LIMIT), prefect_throttle(DOWNLOAD_LIMIT))
    if kind == "snapshot":
        from tasks.sources.snapshot import SnapshotSource

        return SnapshotSource(settings, path)
    if kind == "local":
        from tasks.sources.local import LocalSource

        if not path:
            raise ValueError("--source local needs --path DIR")
        return LocalSource(settings, path)
    raise ValueError(f"unknown source {kind!r}: choose one of {', '.join(SOURCE_KINDS)}")


__all__ = ["Fetched", "Source", "SOURCE_KINDS", "build_source"]
