"""Dokumenter: what is indexed, how old the index is, and (internal) upload + re-index.

Uploads go through kommunesoeg.uploads (checked before anything is stored, versions kept,
never an overwrite); the re-index makes the index mirror the corpus folder.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from kommunesoeg.core.errors import DocumentError, KommunesoegError
from kommunesoeg.ui.common import (
    corpus_dir,
    danish_date,
    error_text,
    get_searcher,
    index_dir,
    is_internal,
    role,
)
from kommunesoeg.ui.sources import sync_public_copies_once
from kommunesoeg.uploads import MAX_UPLOAD_MB, VERSIONS_DIR, shown_name, store_upload

log = logging.getLogger("kommunesoeg.app")


def render(searcher) -> None:
    stats = searcher.stats(role())
    cols = st.columns(5)
    cols[0].metric("Dokumenter", stats["documents"])
    cols[1].metric("Møder", stats["meetings"])
    cols[2].metric("Sider", stats["pages"])
    cols[3].metric("Sider læst med OCR", stats["ocr_pages"])
    cols[4].metric("Passager", stats["chunks"])
    if "closed_chunks" in stats:  # only present for a role that may count closed items
        st.caption(
            f"Lukkede punkter/bilag: {stats.get('closed_items', '–')} "
            f"({stats['closed_chunks']} passager) – vises kun for interne brugere."
        )
    st.caption(
        f"Indekset er bygget {_age(stats.get('created'))} med modellen "
        f"`{stats.get('model')}` · {stats.get('index_bytes', 0) / 1e6:.1f} MB"
    )
    st.dataframe(_documents_frame(searcher), hide_index=True, width="stretch")
    if is_internal():
        _upload_and_reindex()


def _age(created: str | None) -> str:
    if not created:
        return "på et ukendt tidspunkt"
    try:
        when = datetime.fromisoformat(created)
    except ValueError:
        return created
    now = datetime.now(when.tzinfo)
    minutes = int((now - when).total_seconds() // 60)
    ago = (
        "for under et minut siden"
        if minutes < 1
        else f"for {minutes} min. siden"
        if minutes < 60
        else f"for {minutes // 60} timer siden"
        if minutes < 48 * 60
        else f"for {minutes // 1440} dage siden"
    )
    return f"{when:%d.%m.%Y kl. %H:%M} ({ago})"


def _documents_frame(searcher) -> pd.DataFrame:
    rows = []
    for doc in sorted(searcher.document_rows(), key=lambda d: (d.date or "", d.file)):
        rows.append(
            {
                "Fil": doc.file,
                "Møde": doc.meeting or "",
                "Udvalg": doc.committee or "",
                "Dato": danish_date(doc.date),
                "Sider": doc.pages,
                "OCR-sider": doc.ocr_pages,
                "Status": "indekseret" if not doc.error else f"fejl: {doc.error}",
            }
        )
    return pd.DataFrame(rows)


def _upload_and_reindex() -> None:
    st.divider()
    st.subheader("Tilføj dokumenter og genindekser")
    target = corpus_dir()
    st.caption(
        f"Filerne gemmes i `{target}` – den mappe indekset bygges fra. En fil med et navn, "
        f"der findes i forvejen, bliver en ny version; de tidligere versioner gemmes i "
        f"`{VERSIONS_DIR}/`. Højst {MAX_UPLOAD_MB} MB pr. fil."
    )
    uploads = st.file_uploader(
        "PDF- eller tekstfiler", type=["pdf", "txt"], accept_multiple_files=True, key="doc_upload"
    )
    if uploads and st.button("Gem filerne", key="doc_save"):
        for upload in uploads:
            _save(target, upload)
    if st.button("Genindekser nu", type="primary", key="doc_reindex"):
        _reindex(target)


def _save(corpus: Path, upload) -> None:
    """Check and store one upload; one Danish line says what happened to it."""
    with st.spinner(f"Kontrollerer {shown_name(upload.name)} …"):
        try:
            stored = store_upload(corpus, upload.name, upload.getvalue())
        except DocumentError as exc:
            st.error(f"{exc.file}: {exc.reason}. Filen er ikke gemt; intet er ændret.")
            return
    name = stored.name
    if stored.renamed_from:
        name = f"{stored.name} (uploadet som {stored.renamed_from})"
    if stored.status == "ny":
        st.success(f"{name} er gemt.")
    elif stored.status == "uændret":
        st.info(f"{name} er uændret – filen findes allerede med samme indhold.")
    elif stored.status == "gendannet":
        st.success(f"{name}: version {stored.version} er gjort til den aktuelle igen.")
    else:
        st.success(
            f"{name} er gemt som version {stored.version}; de tidligere versioner er bevaret."
        )


def _reindex(corpus: Path) -> None:
    """Rebuild the index so it mirrors the corpus folder (`prune`: files gone from the folder
    leave the index), then drop public copies the new index no longer backs."""
    from indexer.build import build_index

    bar = st.progress(0.0, text="Starter genindeksering …")

    def progress(done: int, total: int, message: str = "") -> None:
        fraction = min(1.0, done / total) if total else 0.0
        bar.progress(fraction, text=message or f"{done} af {total}")

    index = index_dir()
    try:
        if isinstance(index, str):  # a database: this app is one more indexing worker
            from indexer.pg.writer import index_into_postgres

            report = index_into_postgres([corpus], index, get_searcher().embedder, prune=True,
                                         progress=progress)
        else:
            report = build_index([corpus], index, progress=progress, prune=True)
    except KommunesoegError as exc:
        bar.empty()
        log.warning("genindeksering: %s: %s", type(exc).__name__, exc)
        _show_file_errors(getattr(exc, "errors", []))
        st.error(f"Genindekseringen mislykkedes; det gamle indeks bruges stadig. {error_text(exc)}")
        return
    except Exception:
        bar.empty()
        log.exception("genindeksering af %s mislykkedes", corpus)
        st.error(
            "Genindekseringen mislykkedes; det gamle indeks bruges stadig. "
            "Fejlen er skrevet i serverens log."
        )
        return
    bar.progress(1.0, text="Færdig")
    _show_file_errors(list(getattr(report, "errors", []) or []))
    _drop_stale_public_copies()
    st.success("Indekset er opdateret. Søgninger bruger nu de nye dokumenter.")


def _show_file_errors(errors: list) -> None:
    if not errors:
        return
    st.warning(f"{len(errors)} fil(er) kunne ikke indekseres:")
    for error in errors:
        file = Path(str(getattr(error, "file", ""))).name
        reason = getattr(error, "reason", str(error))
        st.markdown(f"- **{file}**: {reason}")


def _drop_stale_public_copies() -> None:
    """Right after the build, not on the next page view: a document that left the index (or
    changed) must not stay downloadable in its old public form."""
    try:
        searcher = get_searcher()
        sync_public_copies_once(searcher.generation, searcher)
    except Exception:  # the next page view tries again (app.py syncs every new generation)
        log.exception("forældede offentlige kopier kunne ikke fjernes efter genindeksering")
