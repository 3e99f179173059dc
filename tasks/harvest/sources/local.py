"""A folder of the user's own papers: PDFs, LaTeX project folders, arXiv source tarballs.

Input: a directory. Output: one ``Paper`` per entry (a PDF and a tarball or folder with the
same stem are one paper with both documents). Local papers have no reviews: the rating rule is
recorded as ``skipped``. Documents are read from disk; a LaTeX folder is packed into a
reproducible tar.gz so every LaTeX document in the lake has the same shape as an arXiv e-print.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

from tasks.core.records import Paper
from tasks.core.settings import Settings, VenueRule
from tasks.harvest.sources.arxiv import Window
from tasks.harvest.sources.base import Fetched

_SOURCE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".gz")
_PROJECT_SUFFIXES = {".tex", ".bib", ".bbl", ".sty", ".cls", ".bst", ".def", ".cfg"}


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".pdf", *_SOURCE_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:120] or "paper"


def pack_folder(folder: Path) -> bytes:
    """A deterministic tar.gz of a LaTeX project (sorted names, zero mtimes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in _PROJECT_SUFFIXES:
                info = tarfile.TarInfo(path.relative_to(folder).as_posix())
                data = path.read_bytes()
                info.size, info.mtime = len(data), 0
                tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


class LocalSource:
    name = "local"

    def __init__(self, settings: Settings, folder: str | Path):
        self.settings = settings
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise FileNotFoundError(f"local source folder does not exist: {self.folder}")

    def windows(self, since: date, until: date) -> list[Window]:
        return [Window(since, until, ("local",))]

    def list_window(self, window: Window) -> list[Paper]:
        papers: dict[str, dict] = {}
        for path in sorted(self.folder.iterdir()):
            if path.name.startswith(".") or path.name.startswith("._"):
                continue
            entry = papers.setdefault(_stem(path), {})
            if path.is_file() and path.name.lower().endswith(".pdf"):
                entry["pdf"] = path
            elif path.is_dir() or path.name.lower().endswith(_SOURCE_SUFFIXES):
                entry["source"] = path
        out = []
        for stem, entry in sorted(papers.items()):
            if not entry:
                continue
            out.append(Paper(
                paper_id=f"local:{_slug(stem)}", source="local", title=stem,
                pdf_url=entry["pdf"].as_uri() if "pdf" in entry else None,
                source_url=entry["source"].as_uri() if "source" in entry else None,
                local_path=str(entry.get("pdf") or entry.get("source")),
                license="unknown", license_source="local_folder", match_method="not_applicable"))
        return out

    def venues(self) -> list[VenueRule]:
        return []

    def venue_notes(self, rule: VenueRule) -> list[dict]:
        return []

    def license(self, paper: Paper) -> str | None:
        return None  # a folder states no licence

    def fetch(self, url: str) -> Fetched:
        path = Path(unquote(urlparse(url).path))
        if not path.exists():
            return Fetched(None, "not_found", f"{path} does not exist")
        if path.is_dir():
            return Fetched(pack_folder(path))
        size = path.stat().st_size
        if size > self.settings.fetch.max_bytes:
            return Fetched(None, "too_large", f"{path}: {size} bytes")
        return Fetched(path.read_bytes())
