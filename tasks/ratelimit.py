"""Platform-wide rate limits, held by the Prefect server so every worker shares them.

arXiv allows one API request every 3 s for the whole platform, however many Dask workers run.
A Prefect global concurrency limit with slot decay is a token bucket kept on the server:
``rate_limit(name)`` blocks until a slot is free, and a slot frees itself after
``1 / slot_decay_per_second`` seconds. ``ensure_rate_limits`` creates or updates the limits at the
start of each flow run.
"""

from __future__ import annotations

from collections.abc import Callable

from tasks.settings import Settings

ARXIV_API_LIMIT = "stormborn-arxiv-api"
DOWNLOAD_LIMIT = "stormborn-downloads"


def rate_limits(settings: Settings) -> dict[str, float]:
    """Limit name → requests per second."""
    return {
        ARXIV_API_LIMIT: 1.0 / settings.arxiv.seconds_per_request,
        DOWNLOAD_LIMIT: settings.fetch.downloads_per_second,
    }


def ensure_rate_limits(settings: Settings) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        for name, per_second in rate_limits(settings).items():
            try:
                client.read_global_concurrency_limit_by_name(name)
                client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(
                    limit=1, slot_decay_per_second=per_second, active=True))
            except ObjectNotFound:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                    name=name, limit=1, slot_decay_per_second=per_second))


def prefect_throttle(name: str) -> Callable[[], None]:
    """A callable that waits for one slot of the named Prefect rate limit."""

    def throttle() -> None:
        from prefect.concurrency.sync import rate_limit

        rate_limit(name, strict=True)

    return throttle


def no_throttle() -> None:
    """For sources that make no network requests (snapshot, local folder)."""
