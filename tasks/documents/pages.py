"""Page rendering: one page of a PDF as a PNG image, with a region outlined (the review app's
"show me where this is in the paper").

A PDF's page can declare any size (up to 14,400 pt a side, ~2,000 m² at 110 dpi would be
~1.5 GB of pixels), so the resolution is lowered until the image fits ``MAX_PIXELS``, and at most
``CONCURRENT_RENDERS`` pages render at once in a process, whatever the number of requests.
"""

from __future__ import annotations

import math
import threading

import pymupdf

MAX_PIXELS = 4_000_000
"""About 2,000 × 2,000: a letter page at 110 dpi is 0.9 million; 16 MB of RGB at the most."""
CONCURRENT_RENDERS = 2
_RENDERS = threading.BoundedSemaphore(CONCURRENT_RENDERS)


def fitting_dpi(width_pt: float, height_pt: float, dpi: int, max_pixels: int = MAX_PIXELS) -> int:
    """``dpi``, lowered so that a page of this size renders to at most ``max_pixels`` pixels."""
    pixels = (width_pt * dpi / 72) * (height_pt * dpi / 72)
    return dpi if pixels <= max_pixels else max(1, math.floor(dpi * math.sqrt(max_pixels / pixels)))


def page_png(data: bytes, page: int, highlight: list[float] | None = None, dpi: int = 110) -> bytes:
    """One 1-based page of a PDF as PNG, with ``highlight`` (a bbox in PDF points) outlined.

    Raises ``ValueError`` for a page the document does not have and PyMuPDF's own errors for
    a file it cannot open.
    """
    with _RENDERS, pymupdf.open(stream=data, filetype="pdf") as doc:
        if not 1 <= page <= doc.page_count:
            raise ValueError(f"page {page} is outside 1..{doc.page_count}")
        target = doc[page - 1]
        if highlight and len(highlight) == 4:
            target.draw_rect(pymupdf.Rect(*highlight) + (-3, -3, 3, 3), color=(0.95, 0.55, 0.0), width=1.6)
        return target.get_pixmap(dpi=fitting_dpi(target.rect.width, target.rect.height, dpi)).tobytes("png")
