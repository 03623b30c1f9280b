"""Kvalitet (internal): run the evaluation harness on a question set, show table and chart."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from kommunesoeg.ui.common import corpus_dir, index_dir, role

DEFAULT_QUESTIONS = Path("eval/dev-questions.jsonl")


def render() -> None:
    st.markdown(
        "Mål hvor godt søgningen finder de rigtige passager på et sæt spørgsmål med kendte "
        "svar (recall, MRR, nDCG). Det tager lidt tid, fordi hvert spørgsmål søges i flere "
        "opsætninger."
    )
    upload = st.file_uploader(
        "Eget spørgsmålssæt (JSONL) – ellers bruges udviklingsspørgsmålene",
        type=["jsonl"],
        key="eval_upload",
    )
    configs = st.multiselect(
        "Opsætninger",
        options=["bm25", "dense", "hybrid", "naive"],
        default=["bm25", "dense", "hybrid"],
        help="'naive' er en simpel sammenligning (faste tekstbidder); den bygger sit eget indeks første gang.",
        key="eval_configs",
    )
    if st.button("Kør evaluering", type="primary", key="eval_run", disabled=not configs):
        with tempfile.TemporaryDirectory() as tmp:
            questions = DEFAULT_QUESTIONS
            if upload is not None:
                questions = Path(tmp) / "spoergsmaal.jsonl"
                questions.write_bytes(upload.getvalue())
            st.session_state["eval_result"] = _run(questions, configs, Path(tmp))
    result = st.session_state.get("eval_result")
    if result:
        table, per_type, png = result
        st.subheader("Resultat")
        st.markdown(table)
        if per_type:
            st.markdown("**Pr. spørgsmålstype**")
            st.markdown(per_type)
        if png:
            st.image(png)


def _run(questions: Path, configs: list[str], tmp: Path) -> tuple[str, str, bytes | None] | None:
    from eval.harness import run_evaluation
    from eval.report import markdown_table, per_type_table, write_png
    from kommunesoeg.core.errors import KommunesoegError

    with st.status("Kører evalueringen …", expanded=False) as status:
        try:
            result = run_evaluation(
                questions,
                index_dir(),
                rankings=configs,
                k=10,
                role=role(),
                corpus_dir=corpus_dir(),
                log=status.write,
            )
        except KommunesoegError as exc:
            status.update(label="Evalueringen mislykkedes", state="error")
            st.error(str(exc))
            return None
        status.update(label="Evalueringen er færdig", state="complete")
    chart = tmp / "evaluering.png"
    write_png(result, chart)
    png = chart.read_bytes() if chart.is_file() else None
    return markdown_table(result), per_type_table(result), png
