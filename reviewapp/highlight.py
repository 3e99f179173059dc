"""Evidence highlighting on the review page: where the question's evidence passages occur in
the paper text around the target (rapidfuzz alignment, so spacing and small OCR differences in
PDF text do not hide a passage)."""

from __future__ import annotations

from rapidfuzz import fuzz


def highlight(text: str, passages: list[str], threshold: float = 85.0) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is_evidence) runs, marking where each passage aligns with it."""
    marks: list[tuple[int, int]] = []
    for passage in passages:
        if not passage or not text:
            continue
        hit = fuzz.partial_ratio_alignment(passage, text, score_cutoff=threshold)
        if hit is not None and hit.dest_end > hit.dest_start:
            marks.append((hit.dest_start, hit.dest_end))
    runs: list[tuple[str, bool]] = []
    at = 0
    for start, end in sorted(marks):
        start = max(start, at)
        if start > at:
            runs.append((text[at:start], False))
        if end > start:
            runs.append((text[start:end], True))
        at = max(at, end)
    if at < len(text):
        runs.append((text[at:], False))
    return runs
