"""What besides the inputs decides an index's content, as a build records it (manifest
'settings'): the chunking, the model, the FAISS kind and fingerprints of the code that parses
and indexes. Comparing these with the previous generation's is how a build knows what it may
reuse; kept apart so every step reads the same definition."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from indexer import store
from indexer.embed import Embedder
from kommunesoeg.core.errors import InvalidSetting

CHUNKINGS = ("structured", "naive")
WINDOW_SENTENCES = 3
# Source files whose code decides what a file parses into. A change in any of them makes
# the next build parse every file again (embeddings stay cached by text).
_PARSE_MODULES = (
    "indexer/extract.py", "indexer/ocr.py", "indexer/textclean.py", "indexer/structure.py",
    "indexer/chunk.py", "indexer/decisions.py", "kommunesoeg/core/models.py",
    "kommunesoeg/core/sentences.py", "kommunesoeg/core/outcomes.py",
)
# ... and files that only change how the parsed chunks are indexed.
# (indexer/columns.py: a generation written before the columns existed is rewritten, with
# its vectors from the embedding cache, by the next build)
_INDEX_MODULES = ("indexer/dedupe.py", "indexer/lexical.py", "indexer/postings.py",
                  "kommunesoeg/core/textnorm.py", "indexer/columns.py")


def check_settings(chunking: str, chunk_size: int, chunk_overlap: int, faiss_kind: str) -> None:
    """Refuse settings no build can use before any file is read (a typo in `--chunking` must
    not cost a parse of every file)."""
    if chunking not in CHUNKINGS:
        raise InvalidSetting(f"chunking: ukendt opdeling '{chunking}' (tilladt: {', '.join(CHUNKINGS)})")
    if faiss_kind not in store.FAISS_KINDS:
        raise InvalidSetting(f"faiss: ukendt indekstype '{faiss_kind}' (tilladt: {', '.join(store.FAISS_KINDS)})")
    if chunk_size <= 0:
        raise InvalidSetting(f"chunk_size: skal være større end 0 (fik {chunk_size})")
    if not 0 <= chunk_overlap < chunk_size:
        raise InvalidSetting(f"chunk_overlap: skal være mellem 0 og chunk_size-1 (fik {chunk_overlap})")


def _source_fingerprint(files: Sequence[Path]) -> str:
    digest = hashlib.sha1()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:16]


def index_settings(embedder: Embedder, chunking: str, chunk_size: int, chunk_overlap: int, faiss_kind: str) -> dict:
    """Everything besides the inputs that decides the index's content (manifest 'settings').

    `parse` groups what decides a file's chunks: if it is equal, unchanged files are reused
    without parsing even when the model or FAISS type changes.
    """
    root = Path(__file__).resolve().parent.parent
    parse = {
        "chunking": chunking,
        "chunk_size": chunk_size,
        "chunk_overlap": chunk_overlap,
        "window_sentences": WINDOW_SENTENCES,
        "code": _source_fingerprint([root / m for m in _PARSE_MODULES]),
    }
    return {
        "format": store.FORMAT_VERSION,
        "model_id": embedder.model_id,
        "faiss": faiss_kind,
        "parse": parse,
        "index_code": _source_fingerprint([root / m for m in _INDEX_MODULES]),
    }


def parse_key(parse_settings: dict) -> str:
    """Short fingerprint of the settings and code a document was parsed with."""
    return hashlib.sha1(json.dumps(parse_settings, sort_keys=True).encode()).hexdigest()[:16]
