"""Near duplicates: the same problem issued twice, in this run or against an earlier run or release.

Input: ``new`` items of this run, best first (the caller sorts by quality), and ``earlier``
items (every earlier run and release), each an ``Item`` (``item_id``, ``text`` = question +
answer); optionally L2-normalised float32 embeddings of both, one row per item.
Output: ``Duplicate`` rows (``candidate_id``, ``twin_id``, ``method``, ``similarity``,
``twin_earlier``), one per new item to drop as ``dropped/near_duplicate``; every item not named
is kept.

Two items are near duplicates when the estimated Jaccard similarity of their word 5-gram
shingles (MinHash, ``settings.minhash_permutations``, banded by datasketch's ``MinHashLSH`` and
confirmed on the signatures) reaches ``settings.minhash_threshold``, or, for what MinHash did not
catch (paraphrases), when the cosine of their embeddings reaches ``settings.embedding_threshold``.

The pass is greedy in the given order: an item is compared with the items kept so far (all
earlier items, and the new items before it that were kept), so a dropped item never serves as a
twin and every ``twin_id`` names an item that stays, and every reported similarity is that of the
pair itself. An earlier item always wins: a paper's v2 in a later month does not re-issue the
problem, whatever its quality.

The text normaliser and the n-gram hashes are shared with ``tasks.refine.contamination``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from tasks.core.records import Duplicate, SimilarityMethod
from tasks.core.settings import RefineSettings

SHINGLE = 5
"""Words per MinHash shingle."""
MINHASH_SEED = 1
"""datasketch's default seed."""
EMBEDDING_BLOCK = 2048
"""Rows per block of the cosine matrix products (a block against 2,048 others is 16 MB)."""
LSH_MARGIN = 0.1
"""The LSH bands are tuned to ``minhash_threshold - LSH_MARGIN`` and every candidate pair is
confirmed on its signatures at ``minhash_threshold``: banded at the threshold itself, a pair just
above it is missed about half the time (bench_dedup: 0.88 → 0.96 of the planted pairs whose
exact Jaccard is ≥ 0.7, for ~2x the LSH time)."""
TEXT_CHUNK = 10_000
"""Texts normalised and signed at a time."""
SIGNATURE_CHUNK = 1 << 16
"""Shingles permuted at once (64 Ki × 128 × 4 bytes = 32 MB of scratch)."""


@dataclass(frozen=True, slots=True)
class Item:
    """A problem as compared for near duplicates and contamination: its id and its text
    (question + answer)."""

    item_id: str
    text: str
    result: str = ""
    """What the problem asks for, normalised (``equivalence.normalise_math`` of its target): an
    embedding match counts only between problems asking for the same result. Two problems of one
    paper share its setting and notation, and their embeddings (MiniLM reads the first 256 word
    pieces) can be as close as a paraphrase's: measured 0.926 for a bound on E[f(x_T) − f*] and
    one on E‖x_T − x*‖², above ``embedding_threshold``."""


# -- normalised tokens ----------------------------------------------------------------------------

_PRESENTATION = re.compile(
    r"\\(?:left|right|bigg?[lrm]?|displaystyle|textstyle|scriptstyle|scriptscriptstyle|quad|qquad|"
    r"text|textrm|mathrm|operatorname|mbox|hbox|nonumber|notag|limits|nolimits)(?![a-z])"
    r"|\\[,;:! >]|\\\\|\\[()\[\]]"
)
"""Commands that change how a formula looks, not what it says: delimiter sizing (``\\left``,
``\\bigl``), styles, spacing (``\\,`` ``\\;`` ``\\!`` ``\\quad``), upright text wrappers, line
breaks and math delimiters. ``(?![a-z])`` keeps ``\\leftarrow`` and ``\\rightarrow``."""
_TOKEN = re.compile(r"\\[a-z]+|\\.|[^\W\d_]+|\d+|[^\w\s]|_")
"""A LaTeX command, an escaped symbol, a word, a number, or one symbol (``2x`` is ``2 x``)."""
_DROPPED = frozenset({"{", "}", "\\{", "\\}", "$", "\\$", "~", "&", ".", ",", ";", ":", "!", "?", '"', "`"})
"""Braces (``x^{2}`` is ``x^2``; set braces too: ``\\{x\\}`` is written ``\\left\\{ x \\right\\}`` as
well), math and alignment delimiters, ties and sentence punctuation: two renderings of one
problem differ in these, two problems rarely do."""


def normalise(text: str) -> list[str]:
    """``text`` as comparable tokens: NFKC, lower case, presentation-only LaTeX removed, and each
    word, number, LaTeX command and symbol one token (``\\left( \\frac{a}{b} \\right)^{2}`` →
    ``( \\frac a b ) ^ 2``)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PRESENTATION.sub(" ", text)
    return [t for t in _TOKEN.findall(text) if t not in _DROPPED]


# -- hashes of token n-grams ----------------------------------------------------------------------

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
"""Odd: the polynomial combination of token hashes stays a bijection per position."""


def _token_hash(token: str) -> int:
    # blake2b, not hash(): the values must agree across processes (a saved index, Dask workers)
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every output bit depends on every input bit."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def ngram_hashes(token_lists: Sequence[Sequence[str]], n: int,
                 short: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the word ``n``-grams of each token list, all lists at once.

    Returns ``(hashes, offsets)``: list ``i``'s n-grams, in order, are
    ``hashes[offsets[i]:offsets[i + 1]]``. A list shorter than ``n`` gives one hash of all its
    tokens when ``short`` (a short problem still has a signature), none otherwise; an empty list
    gives none.
    """
    vocabulary: dict[str, int] = {}
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    flat = np.fromiter((vocabulary[t] if t in vocabulary else vocabulary.setdefault(t, _token_hash(t))
                        for tokens in token_lists for t in tokens), dtype=np.uint64, count=int(lengths.sum()))
    starts = np.concatenate(([0], np.cumsum(lengths)))
    # every window of the concatenation at once; those crossing a list boundary are dropped below
    windows = max(0, len(flat) - n + 1)
    rolling = np.zeros(windows, dtype=np.uint64)
    for k in range(n):
        rolling = rolling * _MULTIPLIER + flat[k:k + windows]
    counts = np.maximum(lengths - n + 1, 0)
    if short:
        counts = np.where((lengths > 0) & (lengths < n), 1, counts)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    hashes = np.empty(int(offsets[-1]), dtype=np.uint64)
    full = lengths >= n
    window_counts = counts[full]
    # the windows of list i start at starts[i] … starts[i] + counts[i] - 1: one arange for all
    first_window = np.repeat(starts[:-1][full] - (np.cumsum(window_counts) - window_counts), window_counts)
    hashes[np.repeat(full, counts)] = rolling[first_window + np.arange(len(first_window))]
    for i in np.flatnonzero((lengths > 0) & (lengths < n)) if short else ():
        h = np.zeros(1, dtype=np.uint64)
        for value in flat[starts[i]:starts[i + 1]]:
            h = h * _MULTIPLIER + value
        hashes[offsets[i]] = (h + np.uint64(lengths[i]))[0]  # its length apart: "a b" ≠ the 5-gram "… a b"
    return _mix(hashes), offsets


# -- MinHash signatures ---------------------------------------------------------------------------

SCHEME = "affine32"
"""datasketch 2.0's default permutation scheme: a 32-bit input hash is mixed once (MurmurHash3's
finaliser) and permuted as ``a * h + b mod 2**32`` with odd ``a``, a bijection, so no collisions
inflate the estimate (the ``legacy`` scheme's fold from 61 to 32 bits did)."""


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, as datasketch applies it before the permutations."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


@cache
def permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """The permutation parameters ``(a, b)`` of ``datasketch.MinHash(num_perm, seed=1)``."""
    a, b = MinHash(num_perm=num_perm, seed=MINHASH_SEED, scheme=SCHEME).permutations
    return a, b


def signatures(token_lists: Sequence[Sequence[str]], num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures of the word 5-gram shingles of each token list, as rows of a
    ``(len, num_perm)`` uint32 matrix, and a mask of the lists that had any shingle.

    The values are exactly those of ``datasketch.MinHash(num_perm).update_batch(shingles)`` with a
    hash function giving the shingle's 32-bit hash (the test checks it), but computed for all
    lists in a few numpy passes instead of one MinHash object and one Python call per shingle.
    """
    hashes, offsets = ngram_hashes(token_lists, SHINGLE)
    mixed = _fmix32((hashes >> np.uint64(32)).astype(np.uint32))
    a, b = permutations(num_perm)
    out = np.full((len(token_lists), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    has_shingles = np.diff(offsets) > 0
    lists = np.flatnonzero(has_shingles)
    ends = offsets[lists + 1]
    scratch = np.empty((num_perm, SIGNATURE_CHUNK), dtype=np.uint32)
    first = 0
    while first < len(lists):
        # whole lists per chunk, about SIGNATURE_CHUNK shingles (at least one list)
        start = offsets[lists[first]]
        last = max(first + 1, int(np.searchsorted(ends, start + SIGNATURE_CHUNK, side="right")))
        block = lists[first:last]
        width = int(ends[last - 1] - start)
        if width > scratch.shape[1]:
            scratch = np.empty((num_perm, width), dtype=np.uint32)  # one list longer than a chunk
        # (permutation, shingle) in place: uint32 wraps, which is the mod 2**32; the minimum per
        # list runs along contiguous rows (down the columns it is 20 times slower)
        permuted = scratch[:, :width]
        np.multiply(a[:, None], mixed[None, start:start + width], out=permuted)
        permuted += b[:, None]
        out[block] = np.minimum.reduceat(permuted, offsets[block] - start, axis=1).T
        first = last
    return out, has_shingles


def text_signatures(texts: Sequence[str], num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """``signatures`` of the normalised texts, ``TEXT_CHUNK`` texts at a time: the tokens of all
    texts at once are ~55 bytes a token (half a gigabyte at 100,000 candidates), a signature 512."""
    parts = [signatures([normalise(t) for t in texts[start:start + TEXT_CHUNK]], num_perm)
             for start in range(0, len(texts), TEXT_CHUNK)]
    if not parts:
        return np.empty((0, num_perm), dtype=np.uint32), np.empty(0, dtype=bool)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def estimated_jaccard(signature: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Share of equal MinHash values between one signature and each row of ``others``."""
    return (others == signature).mean(axis=1)


# -- embeddings -----------------------------------------------------------------------------------

def cosine_pairs(queries: np.ndarray, keys: np.ndarray, threshold: float,
                 lower_triangle: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(query rows, key rows, cosines)`` of every pair with cosine ≥ ``threshold``, block by
    block (rows are L2-normalised, so the dot product is the cosine); the full matrix never exists.
    ``lower_triangle``: queries and keys are the same rows, and only key < query is wanted."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    keys = np.ascontiguousarray(keys, dtype=np.float32)
    for q0 in range(0, len(queries), EMBEDDING_BLOCK):
        q1 = min(q0 + EMBEDDING_BLOCK, len(queries))
        key_end = q1 if lower_triangle else len(keys)
        for k0 in range(0, key_end, EMBEDDING_BLOCK):
            k1 = min(k0 + EMBEDDING_BLOCK, key_end)
            sims = queries[q0:q1] @ keys[k0:k1].T
            qs, ks = np.nonzero(sims >= threshold)
            if lower_triangle:
                below = ks + k0 < qs + q0
                qs, ks = qs[below], ks[below]
            if len(qs):
                yield qs + q0, ks + k0, sims[qs, ks]


def _check_vectors(vectors: np.ndarray | None, items: Sequence[Item], name: str) -> None:
    if vectors is not None and len(vectors) != len(items):
        raise ValueError(f"{name} has {len(vectors)} rows for {len(items)} items")


# -- the pass -------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Match:
    twin: int
    """Index into earlier + new (earlier first)."""
    method: SimilarityMethod
    similarity: float


def _best(matches: list[_Match]) -> _Match | None:
    # highest similarity; on a tie the earliest twin (the better one of the run)
    return max(matches, key=lambda m: (m.similarity, -m.twin)) if matches else None


def find_near_duplicates(new: Sequence[Item], earlier: Sequence[Item], settings: RefineSettings,
                         new_vectors: np.ndarray | None = None, earlier_vectors: np.ndarray | None = None,
                         run_id: str = "") -> list[Duplicate]:
    """The new items to drop as near duplicates, each with the kept twin it duplicates.

    ``new`` is best first: of a group within the run the first is kept. A twin from ``earlier``
    is preferred over one of this run (MinHash before embeddings within each); among several,
    the most similar. Embeddings are used when both ``new_vectors`` and (with earlier items)
    ``earlier_vectors`` are given (rows L2-normalised), between items with the same ``result``.
    """
    _check_vectors(new_vectors, new, "new_vectors")
    _check_vectors(earlier_vectors, earlier, "earlier_vectors")
    n_earlier, threshold = len(earlier), settings.minhash_threshold
    sigs, has_shingles = text_signatures([i.text for i in (*earlier, *new)], settings.minhash_permutations)

    lsh = MinHashLSH(threshold=max(0.05, threshold - LSH_MARGIN), num_perm=settings.minhash_permutations)
    with lsh.insertion_session() as session:
        for e in range(n_earlier):
            if has_shingles[e]:
                session.insert(e, LeanMinHash(seed=MINHASH_SEED, hashvalues=sigs[e], scheme=SCHEME),
                               check_duplication=False)

    earlier_hits, new_hits = _embedding_hits(new_vectors, earlier_vectors, settings.embedding_threshold)
    kept_new = np.zeros(len(new), dtype=bool)
    duplicates = []
    for i, item in enumerate(new):
        row = n_earlier + i
        minhash_matches: list[_Match] = []
        if has_shingles[row]:
            signature = LeanMinHash(seed=MINHASH_SEED, hashvalues=sigs[row], scheme=SCHEME)
            found = sorted(lsh.query(signature))
            if found:
                similarity = estimated_jaccard(sigs[row], sigs[found])
                minhash_matches = [_Match(t, "minhash", float(s))
                                   for t, s in zip(found, similarity, strict=True) if s >= threshold]
        embedding_earlier = [_Match(t, "embedding", s) for t, s in earlier_hits.get(i, ())
                             if earlier[t].result == item.result]
        embedding_new = [_Match(n_earlier + j, "embedding", s) for j, s in new_hits.get(i, ())
                         if kept_new[j] and new[j].result == item.result]
        match = (_best([m for m in minhash_matches if m.twin < n_earlier]) or _best(embedding_earlier)
                 or _best([m for m in minhash_matches if m.twin >= n_earlier]) or _best(embedding_new))
        if match is None:
            kept_new[i] = True
            if has_shingles[row]:
                lsh.insert(row, signature, check_duplication=False)
            continue
        twin_earlier = match.twin < n_earlier
        twin = earlier[match.twin] if twin_earlier else new[match.twin - n_earlier]
        duplicates.append(Duplicate(candidate_id=item.item_id, twin_id=twin.item_id, method=match.method,
                                    similarity=round(match.similarity, 3), twin_earlier=twin_earlier,
                                    run_id=run_id))
    return duplicates


def _embedding_hits(new_vectors: np.ndarray | None, earlier_vectors: np.ndarray | None, threshold: float,
                    ) -> tuple[dict[int, list[tuple[int, float]]], dict[int, list[tuple[int, float]]]]:
    """For each new row, the earlier rows and the new rows before it with cosine ≥ ``threshold``."""
    earlier_hits: dict[int, list[tuple[int, float]]] = {}
    new_hits: dict[int, list[tuple[int, float]]] = {}
    if new_vectors is None or len(new_vectors) == 0:
        return earlier_hits, new_hits
    if earlier_vectors is not None and len(earlier_vectors):
        for qs, ks, sims in cosine_pairs(new_vectors, earlier_vectors, threshold):
            for q, k, s in zip(qs.tolist(), ks.tolist(), sims.tolist(), strict=True):
                earlier_hits.setdefault(q, []).append((k, s))
    for qs, ks, sims in cosine_pairs(new_vectors, new_vectors, threshold, lower_triangle=True):
        for q, k, s in zip(qs.tolist(), ks.tolist(), sims.tolist(), strict=True):
            new_hits.setdefault(q, []).append((k, s))
    return earlier_hits, new_hits
