"""Platform-wide rate limits, held by the Prefect server so every worker shares them.

arXiv allows one API request every 3 s for the whole platform, however many Dask workers run.
A Prefect global concurrency limit with slot decay is a token bucket kept on the server:
``rate_limit(name)`` blocks until a slot is free, and a slot frees itself after
``1 / slot_decay_per_second`` seconds. ``ensure_rate_limits`` creates or updates the limits at the
start of each flow run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tasks.core.settings import Settings

ARXIV_API_LIMIT = "stormborn-arxiv-api"
DOWNLOAD_LIMIT = "stormborn-downloads"
LLM_REQUESTS_LIMIT = "stormborn-llm-requests"
LLM_TOKENS_LIMIT = "stormborn-llm-tokens"


def rate_limits(settings: Settings) -> dict[str, tuple[int, float]]:
    """Limit name → (slots, slots freed per second).

    One slot for the polite harvesters (strictly one request per interval). The LLM limits are
    per minute, as providers state them, so they allow a minute's burst and refill continuously.
    """
    limits = {
        ARXIV_API_LIMIT: (1, 1.0 / settings.arxiv.seconds_per_request),
        DOWNLOAD_LIMIT: (1, settings.fetch.downloads_per_second),
    }
    if settings.llm.requests_per_minute:
        rpm = settings.llm.requests_per_minute
        limits[LLM_REQUESTS_LIMIT] = (max(1, int(rpm)), rpm / 60)
    if settings.llm.tokens_per_minute:
        tpm = settings.llm.tokens_per_minute
        limits[LLM_TOKENS_LIMIT] = (max(1, int(tpm)), tpm / 60)
    return limits


def ensure_rate_limits(settings: Settings) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        for name, (slots, per_second) in rate_limits(settings).items():
            try:
                client.read_global_concurrency_limit_by_name(name)
                client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(
                    limit=slots, slot_decay_per_second=per_second, active=True))
            except ObjectNotFound:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                    name=name, limit=slots, slot_decay_per_second=per_second))


def prefect_throttle(name: str) -> Callable[[], None]:
    """A callable that waits for one slot of the named Prefect rate limit."""

    def throttle() -> None:
        from prefect.concurrency.sync import rate_limit

        rate_limit(name, strict=True)

    return throttle


def no_throttle() -> None:
    """For sources that make no network requests (snapshot, local folder)."""


def llm_throttle(settings: Settings) -> Callable[[int], Awaitable[None]] | None:
    """An async wait for one LLM request of about ``tokens`` tokens, or ``None`` without limits."""
    rpm, tpm = settings.llm.requests_per_minute, settings.llm.tokens_per_minute
    if not rpm and not tpm:
        return None

    async def throttle(tokens: int) -> None:
        from prefect.concurrency.asyncio import rate_limit

        if rpm:
            await rate_limit(LLM_REQUESTS_LIMIT, occupy=1, strict=True)
        if tpm:
            await rate_limit(LLM_TOKENS_LIMIT, occupy=max(1, min(tokens, int(tpm))), strict=True)

    return throttle
