"""Near duplicates: planted twins are found, distinct problems are not, earlier runs win, a dropped
item never serves as a twin, and embeddings catch what MinHash does not."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash

from tasks.core.settings import RefineSettings
from tasks.refine.near_duplicates import Item, find_near_duplicates, ngram_hashes, normalise, signatures

SETTINGS = RefineSettings()

SETUP = (r"Let $X_1, \dots, X_n$ be independent random variables with $\mathbb{E}[X_i] = 0$ and "
         r"$|X_i| \le c$ almost surely, and let $S_n = \sum_{i=1}^{n} X_i$ denote their sum. ")
BOUND = (r"Show that for every $t > 0$ the tail satisfies $\Pr(S_n \ge t) \le \exp\left( -\frac{t^{2}}{2 n c^{2}} "
         r"\right)$ using the moment generating function and Markov's inequality.")
BOUND_SPACED = (r"Show that for every $t>0$ the tail satisfies  $\Pr(S_n\ge t)\le\exp\!\Big(-\frac{t^2}{2\,n\,c^2}"
                r"\Big)$ using the moment generating function and Markov's inequality.")
VARIANCE = (r"Compute the variance $\operatorname{Var}(S_n)$ in terms of $n$ and the second moments "
            r"$\sigma_i^{2} = \mathbb{E}[X_i^{2}]$, and deduce when it grows linearly in $n$.")
EXTRA = " Assume moreover that the variables are identically distributed with a finite third moment."


def ids(duplicates):
    return [(d.candidate_id, d.twin_id, d.method, d.twin_earlier) for d in duplicates]


def words(prefix: str, n: int) -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def test_normalise_drops_latex_presentation_and_keeps_commands():
    assert normalise(r"Then $\left( \frac{a}{b} \right)^{2} \, = \displaystyle x_{i}$, i.e. $a \leftarrow b$.") == [
        "then", "(", "\\frac", "a", "b", ")", "^", "2", "=", "x", "_", "i", "i", "e", "a", "\\leftarrow", "b"]
    assert normalise(BOUND) == normalise(BOUND_SPACED)
    assert normalise("ＡＢＣ  Ｘ²") == ["abc", "x", "2"]  # NFKC: full-width letters, superscript two


def test_signatures_are_datasketchs_minhash_values():
    tokens = normalise(SETUP + BOUND)
    hashes, offsets = ngram_hashes([tokens], 5)
    assert offsets.tolist() == [0, len(tokens) - 4]
    reference = MinHash(num_perm=64, hashfunc=int)
    reference.update_batch((hashes >> np.uint64(32)).tolist())
    sigs, has_shingles = signatures([tokens, [], ["a", "b"]], 64)
    assert sigs[0].tolist() == reference.hashvalues.tolist()
    assert has_shingles.tolist() == [True, False, True]


def test_signatures_do_not_depend_on_the_chunking(monkeypatch):
    from tasks.refine import near_duplicates

    token_lists = [normalise(SETUP), [], normalise(SETUP + BOUND + VARIANCE), ["x"], normalise(VARIANCE)]
    whole, _ = signatures(token_lists, 32)
    monkeypatch.setattr(near_duplicates, "SIGNATURE_CHUNK", 7)  # smaller than one list: a chunk of its own
    chunked, _ = signatures(token_lists, 32)
    assert (chunked == whole).all() and len({tuple(r) for r in whole.tolist()}) == 5


def test_short_texts_are_shingled_whole():
    hashes, offsets = ngram_hashes([["a", "b"], ["x", "a", "b"], []], 5)
    assert offsets.tolist() == [0, 1, 2, 2]
    assert hashes[0] != hashes[1]


def test_planted_near_duplicates_are_found_and_distinct_problems_are_not():
    new = [Item("bound", SETUP + BOUND), Item("variance", SETUP + VARIANCE),
           Item("bound_spaced", SETUP + BOUND_SPACED), Item("bound_extra", SETUP + BOUND + EXTRA)]
    found = find_near_duplicates(new, [], SETTINGS, run_id="r2")
    assert ids(found) == [("bound_spaced", "bound", "minhash", False), ("bound_extra", "bound", "minhash", False)]
    assert found[0].similarity == 1.0 and found[0].run_id == "r2"
    assert SETTINGS.minhash_threshold <= found[1].similarity < 1.0


def test_the_first_of_a_group_in_the_run_is_kept():
    new = [Item("best", SETUP + BOUND + EXTRA), Item("worse", SETUP + BOUND)]
    assert ids(find_near_duplicates(new, [], SETTINGS)) == [("worse", "best", "minhash", False)]


def test_a_twin_from_an_earlier_run_is_preferred():
    earlier = [Item("may:bound", SETUP + BOUND)]
    new = [Item("june:bound_v2", SETUP + BOUND_SPACED), Item("june:bound_extra", SETUP + BOUND + EXTRA),
           Item("june:variance", SETUP + VARIANCE)]
    assert ids(find_near_duplicates(new, earlier, SETTINGS)) == [
        ("june:bound_v2", "may:bound", "minhash", True), ("june:bound_extra", "may:bound", "minhash", True)]


def test_a_dropped_item_is_never_a_twin():
    a = words("w", 80)
    b = a + " " + words("b", 12)  # 76 of 88 shingles shared with a: J ≈ 0.86
    c = b + " " + words("c", 30)  # J(b, c) ≈ 0.75 but J(a, c) ≈ 0.64: a duplicate of b only
    d = a + " " + words("d", 6)  # close to a (and to b)
    at_07 = RefineSettings(minhash_threshold=0.7)  # the similarities above are placed around 0.7
    found = find_near_duplicates([Item("a", a), Item("b", b), Item("c", c), Item("d", d)], [], at_07)
    # c is kept: its only near twin b was dropped, and the set that stays has no near pair left
    assert ids(found) == [("b", "a", "minhash", False), ("d", "a", "minhash", False)]


def test_empty_texts_are_never_duplicates():
    assert find_near_duplicates([Item("x", ""), Item("y", "  $ $ ")], [Item("z", "")], SETTINGS) == []


def unit(*components: float) -> np.ndarray:
    v = np.array(components, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_embeddings_catch_paraphrases_minhash_misses():
    new = [Item("a", words("a", 20)), Item("a_paraphrase", words("p", 20)), Item("b", words("b", 20)),
           Item("e_paraphrase", words("q", 20))]
    new_vectors = np.stack([unit(1, 0, 0, 0), unit(1, 0.1, 0, 0), unit(0, 1, 0, 0), unit(0, 0, 1, 0.05)])
    earlier, earlier_vectors = [Item("e", words("e", 20))], np.stack([unit(0, 0, 1, 0)])
    found = find_near_duplicates(new, earlier, SETTINGS, new_vectors, earlier_vectors)
    assert ids(found) == [("a_paraphrase", "a", "embedding", False), ("e_paraphrase", "e", "embedding", True)]
    assert [d.similarity for d in found] == [0.995, 0.999]


def test_close_embeddings_of_problems_asking_for_different_results_are_not_duplicates():
    """Two problems of one paper share its setting: their embeddings can be as close as a
    paraphrase's, but they ask for different results."""
    new = [Item("gap", words("g", 20), r"\mathbb{E}[f(x_T)]-f^*\le\frac{R^2}{2\eta T}"),
           Item("distance", words("d", 20), r"\mathbb{E}\|x_T-x^*\|^2\le(1-\eta\mu)^TR^2"),
           Item("gap_again", words("h", 20), r"\mathbb{E}[f(x_T)]-f^*\le\frac{R^2}{2\eta T}")]
    vectors = np.stack([unit(1, 0), unit(1, 0.2), unit(1, 0.1)])  # all three above the 0.92 cosine
    assert ids(find_near_duplicates(new, [], SETTINGS, vectors)) == [("gap_again", "gap", "embedding", False)]


def test_an_item_dropped_by_minhash_is_not_an_embedding_twin():
    spaced = Item("spaced", SETUP + BOUND_SPACED)
    new = [Item("bound", SETUP + BOUND), spaced, Item("para", words("p", 30))]
    vectors = np.stack([unit(1, 0), unit(0, 1), unit(0.05, 1)])  # "para" is close to "spaced" only
    assert ids(find_near_duplicates(new, [], SETTINGS, vectors)) == [("spaced", "bound", "minhash", False)]


def test_embedding_rows_must_match_items():
    with pytest.raises(ValueError, match="2 rows for 1 items"):
        find_near_duplicates([Item("a", "x")], [], SETTINGS, np.zeros((2, 4), dtype=np.float32))


def test_blocks_of_the_cosine_products_agree_with_the_whole(monkeypatch):
    from tasks.refine import near_duplicates

    rng = np.random.default_rng(7)
    base = rng.normal(size=(40, 16)).astype(np.float32)
    vectors = np.concatenate([base, base[:10] + 0.01 * rng.normal(size=(10, 16)).astype(np.float32)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = [Item(f"i{k}", f"text {k}") for k in range(len(vectors))]
    whole = ids(find_near_duplicates(items, [], SETTINGS, vectors))
    monkeypatch.setattr(near_duplicates, "EMBEDDING_BLOCK", 7)
    assert ids(find_near_duplicates(items, [], SETTINGS, vectors)) == whole
    assert whole == [(f"i{40 + k}", f"i{k}", "embedding", False) for k in range(10)]
