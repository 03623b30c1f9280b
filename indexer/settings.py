"""Index settings that more than one module defaults to: the chunk size and overlap, and
the kinds of vector index a build can write.

`kommunesoeg index --chunk-size/--chunk-overlap`, `build_index`, `make_chunks` and the
benchmarks all default to these numbers. Kept in a module of its own, free of heavy imports,
so the command line can show them in `--help` without loading the text splitter.
"""

from __future__ import annotations

DEFAULT_CHUNK_SIZE = 1500  # characters; ~350 tokens of Danish, well inside the model's 512
DEFAULT_CHUNK_OVERLAP = 150  # characters shared by neighbouring pieces of one long section

# flat: exact; hnsw, ivf: approximate; ivf-sq8: approximate over 8-bit codes (a quarter of
# the memory, at a measured cost in recall on a large archive: eval/RESULTS.md).
# `indexer.store.make_faiss_index` builds each.
FAISS_KINDS = ("flat", "hnsw", "ivf", "ivf-sq8")
