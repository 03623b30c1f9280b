"""pgvector's text form of a vector, for COPY rows and query parameters alike."""

from __future__ import annotations

import numpy as np


def vector_literal(vec: np.ndarray) -> str:
    """'[x,y,...]' (pgvector's input syntax; 8 significant digits keep float32 exact enough
    that inner products agree with FAISS's to ~1e-7)."""
    return "[" + ",".join(f"{x:.8g}" for x in np.asarray(vec, dtype=np.float32).tolist()) + "]"
