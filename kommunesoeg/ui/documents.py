"""Dokumenter: what is indexed, how old the index is, and (internal) upload + re-index."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from kommunesoeg.ui.common import corpus_dir, danish_date, index_dir, is_internal, role

ALLOWED_SUFFIXES = (".pdf", ".txt")


def render(searcher) -> None:
    stats = searcher.stats(role())
    cols = st.columns(5)
    cols[0].metric("Dokumenter", stats["documents"])
    cols[1].metric("Møder", stats["meetings"])
    cols[2].metric("Sider", stats["pages"])
    cols[3].metric("Sider læst med OCR", stats["ocr_pages"])
    cols[4].metric("Passager", stats["chunks"])
    if is_internal() and "closed_chunks" in stats:
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
    for doc in sorted(searcher.reader.documents, key=lambda d: (d.get("date") or "", d["file"])):
        rows.append(
            {
                "Fil": doc["file"],
                "Møde": doc.get("meeting") or "",
                "Udvalg": doc.get("committee") or "",
                "Dato": danish_date(doc.get("date")),
                "Sider": int(doc.get("pages") or 0),
                "OCR-sider": int(doc.get("ocr_pages") or 0),
                "Status": "indekseret" if not doc.get("error") else f"fejl: {doc['error']}",
            }
        )
    return pd.DataFrame(rows)


def _upload_and_reindex() -> None:
    st.divider()
    st.subheader("Tilføj dokumenter og genindekser")
    target = corpus_dir()
    st.caption(f"Filerne gemmes i `{target}` – den mappe indekset bygges fra.")
    uploads = st.file_uploader(
        "PDF- eller tekstfiler", type=["pdf", "txt"], accept_multiple_files=True, key="doc_upload"
    )
    if uploads and st.button("Gem filerne", key="doc_save"):
        for upload in uploads:
            name = Path(upload.name).name
            if Path(name).suffix.lower() not in ALLOWED_SUFFIXES or name.startswith("."):
                st.error(f"{name}: kun PDF- og tekstfiler kan tilføjes.")
                continue
            target.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(upload.getvalue())
            st.success(f"{name} er gemt.")
    if st.button("Genindekser nu", type="primary", key="doc_reindex"):
        _reindex(target)


def _reindex(corpus: Path) -> None:
    from indexer.build import build_index

    bar = st.progress(0.0, text="Starter genindeksering …")

    def progress(done: int, total: int, message: str = "") -> None:
        fraction = min(1.0, done / total) if total else 0.0
        bar.progress(fraction, text=message or f"{done} af {total}")

    try:
        report = build_index([corpus], index_dir(), progress=progress)
    except Exception as exc:  # noqa: BLE001 - shown to the operator, index stays as it was
        bar.empty()
        st.error(f"Genindekseringen mislykkedes; det gamle indeks bruges stadig. ({exc})")
        return
    bar.progress(1.0, text="Færdig")
    errors = list(getattr(report, "errors", []) or [])
    if errors:
        st.warning(f"{len(errors)} fil(er) kunne ikke indekseres:")
        for error in errors:
            file = getattr(error, "file", "")
            reason = getattr(error, "reason", str(error))
            st.markdown(f"- **{file}**: {reason}")
    st.success("Indekset er opdateret. Søgninger bruger nu de nye dokumenter.")
