"""The two paper rules of STORM-BORN: reviews above weak accept, and derivation language.

Input: a ``Paper`` (matched), its ``Review`` rows, and later its full text.
Output: a ``PaperFilter`` row with the evidence of each decision (ratings, mean, threshold,
per-keyword hit counts) and a snake_case ``reason`` when the paper is dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from statistics import fmean

from tasks.core.records import Paper, PaperFilter, Review
from tasks.core.settings import VenueRule


def rating_decision(paper: Paper, reviews: list[Review], rules: dict[str, VenueRule],
                    run_id: str, keyword_threshold: int) -> PaperFilter:
    """Mean rating strictly above the venue's weak-accept level; skipped for local papers."""
    base = dict(paper_id=paper.paper_id, run_id=run_id, venue=paper.venue,
                keyword_threshold=keyword_threshold)
    if paper.source == "local":
        return PaperFilter(**base, rating_rule="skipped", reason=None)
    if paper.openreview_id is None:
        return PaperFilter(**base, rating_rule="fail", reason="no_openreview_match")
    ratings = [r.rating for r in reviews if r.rating is not None]
    rule = rules.get(paper.venue or "")
    threshold = rule.weak_accept if rule else None
    if not ratings:
        return PaperFilter(**base, rating_rule="fail", rating_threshold=threshold, reason="no_ratings")
    mean = round(fmean(ratings), 4)
    passed = threshold is not None and mean > threshold
    return PaperFilter(**base, rating_rule="pass" if passed else "fail", ratings=ratings,
                       rating_mean=mean, rating_threshold=threshold,
                       reason=None if passed else "rating_not_above_weak_accept")


@lru_cache(maxsize=8)
def _keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first so "derivation" is not counted as "derive"+"ation"; whole words only.
    alternatives = sorted({k.lower() for k in keywords}, key=len, reverse=True)
    body = "|".join(r"\s+".join(map(re.escape, k.split())) for k in alternatives)
    return re.compile(rf"(?<![a-z])(?:{body})(?![a-z])", re.IGNORECASE)


def keyword_hits(text: str, keywords: list[str]) -> dict[str, int]:
    """Per-keyword counts of whole-word, case-insensitive matches (whitespace-tolerant phrases)."""
    counts = Counter(" ".join(m.group(0).lower().split())
                     for m in _keyword_pattern(tuple(keywords)).finditer(text))
    return dict(sorted(counts.items()))


def keyword_decision(decision: PaperFilter, text: str | None, text_source: str,
                     keywords: list[str], threshold: int) -> PaperFilter:
    """Apply the derivation-language rule to a paper whose rating rule did not fail."""
    if text is None:
        return decision.model_copy(update={"keyword_rule": "not_evaluated", "passed": False,
                                           "keyword_text_source": "none",
                                           "reason": decision.reason or "no_usable_document"})
    hits = keyword_hits(text, keywords)
    total = sum(hits.values())
    passed = total >= threshold
    return decision.model_copy(update={
        "keyword_rule": "pass" if passed else "fail", "keyword_hits": hits, "keyword_total": total,
        "keyword_threshold": threshold, "keyword_text_source": text_source, "passed": passed,
        "reason": None if passed else "too_few_derivation_keywords"})
