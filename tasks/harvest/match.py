"""Join arXiv papers with OpenReview submissions.

Input: ``Paper`` rows (from a listing) and ``Submission`` records (with reviews).
Output: the papers with ``openreview_id``, ``venue``, ``decision``, ``license``, ``match_method``
and ``match_score`` filled, and each review's ``paper_id`` set.

An arXiv id found in the note wins (score 100). Otherwise the normalised titles must agree
(rapidfuzz ``token_sort_ratio`` at or above the threshold) and, when the note shows its authors,
the author last names must overlap by at least the configured share. Anonymous submissions
hide their authors; they then need a near-exact title (``title_only``).
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz, process

from tasks.core.records import Paper, Submission

TITLE_ONLY_THRESHOLD = 97.0


def normalise_title(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _last_names(authors: list[str]) -> set[str]:
    names = set()
    for a in authors:
        parts = normalise_title(a).split()
        if parts:
            names.add(parts[-1])
    return names


def author_overlap(a: list[str], b: list[str]) -> float:
    x, y = _last_names(a), _last_names(b)
    return len(x & y) / min(len(x), len(y)) if x and y else 0.0


def match_papers(papers: list[Paper], submissions: list[Submission], title_threshold: float,
                 min_author_overlap: float) -> list[Paper]:
    by_arxiv = {s.arxiv_id: s for s in submissions if s.arxiv_id}
    titles = [normalise_title(s.title) for s in submissions]
    matched = []
    for paper in papers:
        sub, method, score = by_arxiv.get(paper.arxiv_id or ""), "arxiv_id", 100.0
        if sub is None and titles:
            best = process.extractOne(normalise_title(paper.title), titles,
                                      scorer=fuzz.token_sort_ratio, score_cutoff=title_threshold)
            if best is not None:
                candidate, score = submissions[best[2]], float(best[1])
                if candidate.authors:
                    if author_overlap(paper.authors, candidate.authors) >= min_author_overlap:
                        sub, method = candidate, "title_authors"
                elif score >= TITLE_ONLY_THRESHOLD:
                    sub, method = candidate, "title_only"
        if sub is None:
            matched.append(paper.model_copy(update={"match_method": "none", "match_score": None}))
            continue
        update = {"openreview_id": sub.forum_id, "venue": sub.venue, "decision": sub.decision,
                  "match_method": method, "match_score": round(score, 2)}
        if sub.license:
            update |= {"license": sub.license, "license_source": "openreview_note"}
        matched.append(paper.model_copy(update=update))
    return matched
