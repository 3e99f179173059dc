"""A folder of the user's own papers: PDFs, LaTeX project folders, arXiv source tarballs.

Input: a directory. Output: one ``Paper`` per entry (a PDF and a tarball or folder with the
same stem are one paper with both documents). Local papers have no reviews: the rating rule is
recorded as ``skipped``. Documents are read from disk; a LaTeX folder is packed into a
reproducible tar.gz so every LaTeX document in the lake has the same shape as an arXiv e-print.
Nothing outside the folder is read: symbolic links out of it are refused
(``symlink_outside_source``), and so are FIFOs, devices and sockets (``not_a_regular_file``).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import tarfile
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

from tasks.core.records import Paper
from tasks.core.settings import Settings, VenueRule
from tasks.harvest.sources.arxiv import Window
from tasks.harvest.sources.base import Fetched

_SOURCE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".gz")
_PACKED_SUFFIXES = {".tex", ".sty"}
"""What parsing reads of a project (``tasks.documents.eprint``); figures and bibliographies stay out."""


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".pdf", *_SOURCE_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:120] or "paper"


class FolderTooLarge(ValueError):
    """A LaTeX project folder holds more source than a document may have."""


def pack_folder(folder: Path, max_bytes: int) -> bytes:
    """A deterministic tar.gz of a LaTeX project's source files (sorted names, zero mtimes).

    Only regular files that parsing reads (``.tex``, ``.sty``) are packed; symbolic links are
    never followed (a link can lead anywhere on the machine), and the packed sources may not
    exceed ``max_bytes`` (``FolderTooLarge``): each file is read with that bound.
    """
    buf = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for root, dirs, files in os.walk(folder, followlinks=False):
            dirs.sort()
            for name in sorted(files):
                path = Path(root) / name
                if path.suffix.lower() not in _PACKED_SUFFIXES or not stat.S_ISREG(path.lstat().st_mode):
                    continue  # links, FIFOs, devices and files parsing does not read
                data = _read_bounded(path, max_bytes - total)
                if data is None:
                    raise FolderTooLarge(f"{folder}: its sources pass {max_bytes} bytes")
                total += len(data)
                info = tarfile.TarInfo(path.relative_to(folder).as_posix())
                info.size, info.mtime = len(data), 0
                tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


def _read_bounded(path: Path, max_bytes: int) -> bytes | None:
    """The file's bytes, or None when it holds more than ``max_bytes`` (never reads past that)."""
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    return data if len(data) <= max_bytes else None


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
        """A document of the folder: refused when it leads out of the folder (a symbolic link)
        or is not a regular file or folder (a FIFO would block, a device never ends); read with
        the size limit, never past it."""
        path = Path(unquote(urlparse(url).path))
        if not path.exists():
            return Fetched(None, "not_found", f"{path} does not exist")
        real = path.resolve()
        if not real.is_relative_to(self.folder):
            return Fetched(None, "symlink_outside_source", f"{path} leads to {real}, outside {self.folder}")
        max_bytes = self.settings.fetch.max_bytes
        if real.is_dir():
            try:
                return Fetched(pack_folder(real, max_bytes))
            except FolderTooLarge as exc:
                return Fetched(None, "too_large", str(exc))
        if not stat.S_ISREG(real.stat().st_mode):
            return Fetched(None, "not_a_regular_file", f"{path} is not a regular file")
        data = _read_bounded(real, max_bytes)
        if data is None:
            return Fetched(None, "too_large", f"{path}: more than {max_bytes} bytes")
        return Fetched(data)
