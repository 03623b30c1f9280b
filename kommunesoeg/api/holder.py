"""One loaded Searcher per index generation, swapped atomically when a new one appears.

Every request takes `holder.get()` once and works on that Searcher to the end, so a request
in flight finishes on the generation it started with. When the index's `current` link
points at a new generation (or a database's change counter moves because a worker
committed a document: `retriever.location.index_generation`), one background thread loads
it (the embedder is reused) and replaces the reference in one assignment; requests
meanwhile keep using the old one. The old Searcher is freed when its last request ends
(plain reference counting; a database snapshot is released with it).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from kommunesoeg.core.errors import IndexNotFound, KommunesoegError
from retriever.location import index_generation, index_location

log = logging.getLogger("kommunesoeg.api")
CHECK_SECONDS = 1.0  # how often `current` is looked at (one readlink)


class SearcherHolder:
    def __init__(self, index_dir: Path | str, *, config=None, embedder=None, audit_log=None,
                 factory=None, check_seconds: float = CHECK_SECONDS) -> None:
        self.index_dir = index_location(index_dir)  # a folder or a PostgreSQL DSN
        self._kwargs = {"config": config, "audit_log": audit_log}
        self._embedder = embedder
        self._factory = factory
        self._searcher = None
        self._generation: str | None = None
        self._lock = threading.Lock()  # one loader at a time
        self._loading = False
        self._checked = 0.0
        self.check_seconds = check_seconds
        self.reloads = 0

    def _current(self) -> str | None:
        return index_generation(self.index_dir)

    def _load(self, gen: str):
        if self._factory is not None:
            return self._factory(self.index_dir)
        from retriever.search import Searcher

        searcher = Searcher(self.index_dir, embedder=self._embedder, **self._kwargs)
        self._embedder = searcher.embedder
        return searcher

    def get(self):
        """The Searcher of the newest loaded generation (loads the first one synchronously)."""
        searcher = self._searcher
        if searcher is None:
            return self.reload(wait=True)
        now = time.monotonic()
        if now - self._checked >= self.check_seconds:
            self._checked = now
            try:
                gen = self._current()
            except KommunesoegError:  # a database briefly unreachable: keep answering
                log.warning("indeksets generation kunne ikke læses", exc_info=True)
                gen = None
            if gen is not None and gen != self._generation and not self._loading:
                self._loading = True
                threading.Thread(target=self._background, name="reload", daemon=True).start()
        return searcher

    def _background(self) -> None:
        try:
            self.reload(wait=True)
        except Exception:  # the old generation keeps answering; the next check tries again
            log.exception("ny indeksgeneration kunne ikke indlæses")
        finally:
            self._loading = False

    def reload(self, *, wait: bool = True):
        """Load the current generation if it is not the loaded one; the Searcher in use."""
        with self._lock:
            gen = self._current()
            if gen is None:
                if self._searcher is not None:
                    return self._searcher
                raise IndexNotFound(f"{self.index_dir}: der findes intet færdigt indeks")
            if gen != self._generation or self._searcher is None:
                t = time.perf_counter()
                searcher = self._load(gen)
                # what the Searcher loaded (a database may have moved on since `gen`)
                store = getattr(searcher, "store", None)
                gen = getattr(store, "generation_name", None) or gen
                self._searcher, self._generation = searcher, gen
                self.reloads += 1
                log.info("indeksgeneration indlæst", extra={
                    "generation": self._generation,
                    "seconds": round(time.perf_counter() - t, 3)})
            return self._searcher

    @property
    def generation(self) -> str | None:
        return self._generation

    def ready(self) -> bool:
        return self._searcher is not None
