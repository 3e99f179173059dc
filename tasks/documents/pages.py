"""Page rendering: one page of a PDF as a PNG image, with a region outlined (the review app's
"show me where this is in the paper")."""

from __future__ import annotations

import pymupdf


def page_png(data: bytes, page: int, highlight: list[float] | None = None, dpi: int = 110) -> bytes:
    """One 1-based page of a PDF as PNG, with ``highlight`` (a bbox in PDF points) outlined.

    Raises ``ValueError`` for a page the document does not have and PyMuPDF's own errors for
    a file it cannot open.
    """
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        if not 1 <= page <= doc.page_count:
            raise ValueError(f"page {page} is outside 1..{doc.page_count}")
        target = doc[page - 1]
        if highlight and len(highlight) == 4:
            target.draw_rect(pymupdf.Rect(*highlight) + (-3, -3, 3, 3), color=(0.95, 0.55, 0.0), width=1.6)
        return target.get_pixmap(dpi=dpi).tobytes("png")
