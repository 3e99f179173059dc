"""arXiv export API: windowed listing by submission date and category.

Input: a listing window (start day, end day, categories). Output: ``Paper`` rows.

The parser (``parse_feed``) reads both the current (2026) and the legacy (2016) Atom format via
feedparser, and turns arXiv's error entries (HTTP 400 feeds whose single entry is titled
"Error") into ``ArxivApiError``. ``ArxivClient`` pages through a query, retries 5xx answers,
transport errors and the API's spurious empty pages with jittered exponential backoff, and
calls an injected ``throttle`` before every request; in flows that throttle is a Prefect global
rate limit, so the whole platform stays at one request per 3 s however many workers run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from xml.etree import ElementTree

import feedparser
import httpx
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from tasks.core.records import Paper
from tasks.core.settings import ArxivSettings

_ARXIV_ID = re.compile(r"arxiv\.org/abs/(?P<id>.+?)(?P<version>v\d+)?$")


class ArxivApiError(RuntimeError):
    """arXiv answered with an error feed (e.g. a malformed query): not worth retrying."""


class TransientArxivError(RuntimeError):
    """A 5xx answer, a transport error or an empty page inside a result set: worth retrying."""


@dataclass(frozen=True)
class Window:
    """A listing window: submissions from ``start`` to ``end`` (both inclusive, UTC days)."""

    start: date
    end: date
    categories: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.start:%Y%m%d}-{self.end:%Y%m%d}-{'+'.join(self.categories)}"

    def query(self) -> str:
        cats = " OR ".join(f"cat:{c}" for c in self.categories)
        span = f"submittedDate:[{self.start:%Y%m%d}0000 TO {self.end:%Y%m%d}2359]"
        return f"({cats}) AND {span}" if cats else span

    def halves(self) -> list["Window"]:
        mid = self.start + (self.end - self.start) // 2
        return [Window(self.start, mid, self.categories),
                Window(mid + timedelta(days=1), self.end, self.categories)]


def plan_windows(since: date, until: date, categories: list[str], days: int = 7) -> list[Window]:
    """Split a date range into week-long windows; a window still too big is halved at listing."""
    windows, start = [], since
    while start <= until:
        end = min(start + timedelta(days=days - 1), until)
        windows.append(Window(start, end, tuple(categories)))
        start = end + timedelta(days=1)
    return windows


@dataclass
class Feed:
    total: int
    start: int
    papers: list[Paper] = field(default_factory=list)


def _dt(struct) -> datetime | None:
    return datetime(*struct[:6], tzinfo=UTC) if struct else None


def parse_feed(body: str | bytes, eprint_url: str = "https://arxiv.org/e-print/") -> Feed:
    """Parse one Atom answer of the export API (current or legacy format)."""
    parsed = feedparser.parse(body)
    if parsed.bozo and not parsed.entries and not parsed.feed:
        raise TransientArxivError(f"unparseable feed: {parsed.bozo_exception}")
    entries = parsed.entries
    if len(entries) == 1 and entries[0].get("title") == "Error" and "errors" in entries[0].get("id", ""):
        raise ArxivApiError(entries[0].get("summary", "arXiv API error"))
    papers = []
    for e in entries:
        m = _ARXIV_ID.search(e.get("id", ""))
        if not m:
            continue
        arxiv_id, version = m.group("id"), m.group("version")
        pdf_url = next((link.href for link in e.get("links", [])
                        if link.get("title") == "pdf" or link.get("type") == "application/pdf"), None)
        primary = e.get("arxiv_primary_category", {}).get("term")
        papers.append(Paper(
            paper_id=f"arxiv:{arxiv_id}",
            source="arxiv",
            title=" ".join(e.get("title", "").split()),
            authors=[a.get("name", "") for a in e.get("authors", [])],
            abstract=" ".join(e.get("summary", "").split()),
            arxiv_id=arxiv_id,
            arxiv_version=version,
            categories=[t.term for t in e.get("tags", [])],
            primary_category=primary,
            published=_dt(e.get("published_parsed")),
            updated=_dt(e.get("updated_parsed")),
            pdf_url=pdf_url or f"https://arxiv.org/pdf/{arxiv_id}{version or ''}",
            source_url=f"{eprint_url}{arxiv_id}{version or ''}",
            # The export API does not state licences (OAI-PMH does): recorded as unknown.
            license="unknown",
            license_source="arxiv_export_api_has_none",
        ))
    total = int(parsed.feed.get("opensearch_totalresults", len(papers)) or 0)
    start = int(parsed.feed.get("opensearch_startindex", 0) or 0)
    return Feed(total=total, start=start, papers=papers)


_OAI = "{http://www.openarchives.org/OAI/2.0/}"
_OAI_ARXIV = "{http://arxiv.org/OAI/arXiv/}"


def parse_oai_license(body: str | bytes) -> str | None:
    """The ``<license>`` of an OAI-PMH ``GetRecord`` answer (metadataPrefix=arXiv), if stated.

    ``idDoesNotExist`` and records without a licence element give None; other OAI errors raise
    ``ArxivApiError``.
    """
    root = ElementTree.fromstring(body)
    error = root.find(f"{_OAI}error")
    if error is not None:
        if error.get("code") == "idDoesNotExist":
            return None
        raise ArxivApiError(f"OAI-PMH {error.get('code')}: {(error.text or '').strip()}")
    licence = root.find(f".//{_OAI_ARXIV}license")
    return licence.text.strip() if licence is not None and licence.text else None


class WindowTooLarge(Exception):
    def __init__(self, total: int):
        super().__init__(f"{total} results")
        self.total = total


class ArxivClient:
    """A polite client of the export API. ``get`` is injectable so tests replay recordings."""

    def __init__(self, settings: ArxivSettings, throttle: Callable[[], None],
                 http: httpx.Client | None = None):
        self.settings = settings
        self.throttle = throttle
        self.http = http or httpx.Client(timeout=settings.timeout_s, follow_redirects=True)
        self.requests_made = 0

    def _fetch_page(self, query: str, start: int, size: int) -> Feed:
        @retry(retry=retry_if_exception_type((TransientArxivError, httpx.TransportError)),
               wait=wait_random_exponential(multiplier=self.settings.seconds_per_request, max=60),
               stop=stop_after_attempt(self.settings.retries), reraise=True)
        def attempt() -> Feed:
            self.throttle()
            self.requests_made += 1
            resp = self.http.get(self.settings.api_url, params={
                "search_query": query, "start": start, "max_results": size,
                "sortBy": "submittedDate", "sortOrder": "ascending",
            })
            if resp.status_code >= 500:
                raise TransientArxivError(f"HTTP {resp.status_code}")
            feed = parse_feed(resp.content, self.settings.eprint_url)  # a 400's error feed raises
            if resp.status_code >= 400:
                raise ArxivApiError(f"HTTP {resp.status_code}")
            if not feed.papers and start < feed.total:
                raise TransientArxivError(f"empty page at {start} of {feed.total}")
            return feed

        return attempt()

    def license(self, arxiv_id: str) -> str | None:
        """The paper's licence from OAI-PMH (one throttled request, retried like the listing)."""

        @retry(retry=retry_if_exception_type((TransientArxivError, httpx.TransportError)),
               wait=wait_random_exponential(multiplier=self.settings.seconds_per_request, max=60),
               stop=stop_after_attempt(self.settings.retries), reraise=True)
        def attempt() -> str | None:
            self.throttle()
            self.requests_made += 1
            resp = self.http.get(self.settings.oai_url, params={
                "verb": "GetRecord", "identifier": f"oai:arXiv.org:{arxiv_id}", "metadataPrefix": "arXiv"})
            if resp.status_code == 503 or resp.status_code >= 500:  # OAI flow control is a 503
                raise TransientArxivError(f"HTTP {resp.status_code}")
            if resp.status_code >= 400:
                raise ArxivApiError(f"OAI-PMH HTTP {resp.status_code}")
            return parse_oai_license(resp.content)

        return attempt()

    def list_window(self, window: Window) -> list[Paper]:
        """All papers of a window, halving it while it exceeds the API's paging cap."""
        first = self._fetch_page(window.query(), 0, self.settings.page_size)
        if first.total > self.settings.max_results_per_window:
            if window.start == window.end:
                raise WindowTooLarge(first.total)
            halves = [p for half in window.halves() for p in self.list_window(half)]
            return list({p.paper_id: p for p in halves}.values())
        papers = list(first.papers)
        start = len(first.papers)
        while start < first.total:
            page = self._fetch_page(window.query(), start, self.settings.page_size)
            papers.extend(page.papers)
            start += len(page.papers)
        return papers
