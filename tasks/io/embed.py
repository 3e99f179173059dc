"""THE embedding boundary: sentence embeddings on CPU from a model installed from the registry,
loaded offline, with a cache in the lake.

``embed_texts(settings, lake, texts)`` returns L2-normalised float32 rows, or no vectors and a
snake_case ``problem`` (``embedding_model_unavailable``: the model's package is not installed or
cannot load) — the caller records it and goes on without embeddings (no paraphrase or embedding
contamination checks; the ranking falls back to uncorrected scores).

The cache: vectors are keyed by the model and a hash of the text and kept in Parquet parts
under ``state/embeddings/<model>/``; a rerun encodes only texts it has not seen (a month's new
candidates), which is what keeps the ranking of 100,000 candidates cheap.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.core.settings import Settings
from tasks.io.storage import Lake, safe_key

log = logging.getLogger(__name__)
BATCH = 256


@dataclass
class Embedded:
    vectors: np.ndarray | None
    problem: str | None = None
    detail: str = ""


class ModelUnavailable(RuntimeError):
    pass


@lru_cache(maxsize=2)
def load_model(name: str):
    """The model ``name`` from an installed package, offline; ``ModelUnavailable`` if it cannot load."""
    import os

    # Nothing may be downloaded at run time: the hub is never asked, even for a name it knows.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer

        from tasks.io.embed_models import model_path

        return SentenceTransformer(model_path(name), device="cpu", local_files_only=True)
    except Exception as exc:  # ImportError, a missing package, a corrupt file: all the same to the caller
        raise ModelUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc


def _key(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _cached(lake: Lake, folder: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    try:
        paths = lake.fs.glob(lake.path(folder, "*.parquet"))
    except FileNotFoundError:
        return out
    for path in sorted(paths):
        table = pq.read_table(io.BytesIO(lake.fs.cat_file(path)))
        keys = table.column("key").to_pylist()
        vectors = np.stack(table.column("vector").to_numpy(zero_copy_only=False)).astype(np.float32) if keys else []
        out.update(zip(keys, vectors))
    return out


def embed_texts(settings: Settings, lake: Lake, texts: list[str]) -> Embedded:
    """Embeddings of ``texts`` (cached ones read, the rest encoded and cached)."""
    name = settings.refine.embedding_model
    folder = f"state/embeddings/{safe_key(name)}"
    keys = [_key(t) for t in texts]
    known = _cached(lake, folder)
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in known}.items())
    if missing:
        try:
            model = load_model(name)
        except ModelUnavailable as exc:
            return Embedded(None, "embedding_model_unavailable", str(exc))
        encoded = model.encode([t for _, t in missing], batch_size=64, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
        new = dict(zip((k for k, _ in missing), encoded))
        table = pa.table({"key": list(new), "vector": [v.tolist() for v in new.values()]})
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        lake.write_bytes(lake.path(folder, f"{_key(''.join(new))}.parquet"), buf.getvalue())
        known.update(new)
    if not texts:
        return Embedded(np.zeros((0, 0), dtype=np.float32))
    return Embedded(np.stack([known[k] for k in keys]))
