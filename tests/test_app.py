"""The Streamlit app on a real index of the sample corpus, driven with AppTest.

The index is built once per session (tests/fixtures_index.py, shared with the other test
files). Every check reads what the app actually rendered.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from kommunesoeg import auth
from kommunesoeg.ui import common
from kommunesoeg.ui import timeline as timeline_page

pytest_plugins = ["fixtures_index"]

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
CORPUS = ROOT / "corpus"
QUESTION = "Hvad blev besluttet om Opgang til Opgang?"
CLOSED_WORD = "Pasningsgaranti"
PASSWORD = "korrekt hest batteri"


@pytest.fixture
def app_env(sample_index, monkeypatch, tmp_path):
    monkeypatch.setenv("KOMMUNESOEG_INDEX", str(sample_index))
    monkeypatch.setenv("KOMMUNESOEG_CORPUS", str(CORPUS))
    users = tmp_path / "brugere.toml"
    users.write_text(f'[users]\nanna = "{auth.hash_password(PASSWORD)}"\n', encoding="utf-8")
    monkeypatch.setenv("KOMMUNESOEG_USERS_FILE", str(users))
    # own audit log, hence own login-attempt counts: one test's lockout is not another's
    monkeypatch.setenv("KOMMUNESOEG_AUDIT_LOG", str(tmp_path / "audit" / "audit.jsonl"))
    return sample_index


def start() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def rendered(at: AppTest) -> str:
    """Every string the app sent to the browser (all tabs, sidebar, expanders)."""
    return "\n".join(str(node.proto) for node in at._tree if getattr(node, "proto", None))


def submit(at: AppTest, input_key: str, text: str, button_label: str) -> AppTest:
    at.text_input(key=input_key).input(text)
    next(b for b in at.button if b.label == button_label).click()
    at.run()
    assert not at.exception, at.exception
    return at


def login(at: AppTest, password: str = PASSWORD) -> AppTest:
    at.text_input(key="login_user").input("anna")
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if b.label == "Log ind").click()
    at.run()
    assert not at.exception, at.exception
    return at


# ---------------------------------------------------------------------------- start page
PUBLIC_TABS = ["Spørg", "Søg", "Lignende sager", "Tidslinje", "Dokumenter"]


def test_start_page_explains_and_offers_examples(app_env):
    at = start()
    assert at.title[0].value == "Kommunesøg"
    assert [t.label for t in at.tabs] == PUBLIC_TABS
    assert any(b.label == QUESTION for b in at.button)
    assert at.text_input(key="ask_input").value == ""


def test_no_index_gives_the_build_command(monkeypatch, tmp_path):
    monkeypatch.setenv("KOMMUNESOEG_INDEX", str(tmp_path / "intet-indeks"))
    at = start()
    assert len(at.info) == 1
    assert "kommunesoeg index corpus/" in at.info[0].value
    assert not at.tabs
    assert "Traceback" not in rendered(at) and str(tmp_path) not in rendered(at)


# ---------------------------------------------------------------------------- faults
def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _halve(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {
    "meta.sqlite tømt": lambda gen, index: _empty(gen / "meta.sqlite"),
    "meta.sqlite halveret": lambda gen, index: _halve(gen / "meta.sqlite"),
    "bm25 slettet": lambda gen, index: shutil.rmtree(gen / "bm25"),
    "bm25 ids.json tom liste": lambda gen, index: (gen / "bm25" / "ids.json").write_text("[]"),
    "dense.faiss afkortet": lambda gen, index: _halve(gen / "dense.faiss"),
    "manifest {}": lambda gen, index: (gen / "manifest.json").write_text("{}"),
    "current slettet": lambda gen, index: (index / "current").unlink(),
    "current dinglende": lambda gen, index: (
        (index / "current").unlink(),
        (index / "current").symlink_to("gen-findes-ikke"),
    ),
    "indeks er en fil": lambda gen, index: (shutil.rmtree(index), index.write_text("x")),
}


def assert_no_leak(at: AppTest, *paths: Path) -> None:
    """Nothing a public user should not see: no traceback, no code, no server path."""
    assert not at.exception, at.exception
    text = rendered(at)
    for secret in ("Traceback", 'File "', ".py", "Error:", *map(str, paths)):
        assert secret not in text, secret


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_index_gives_one_danish_error_and_no_traceback(
    damage, app_env, tmp_path, monkeypatch, caplog
):
    index = tmp_path / "index"
    shutil.copytree(app_env, index, symlinks=True)
    DAMAGE[damage](index / "current", index)
    monkeypatch.setenv("KOMMUNESOEG_INDEX", str(index))
    with caplog.at_level(logging.INFO, logger="kommunesoeg"):
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
    assert_no_leak(at, index, ROOT)
    assert [e.value for e in at.error] == [common.INDEX_DAMAGED_TEXT]
    assert not at.tabs
    # ... while the details are in the server log
    assert any(r.name == "kommunesoeg.app" and r.levelno >= logging.ERROR for r in caplog.records)


def test_an_unexpected_error_in_one_page_leaves_the_others_working(app_env, monkeypatch, caplog):
    def boom(searcher, filters):
        raise RuntimeError("/srv/hemmelig/sti/timeline.py linje 3: noget gik galt")

    monkeypatch.setattr(timeline_page, "render", boom)
    with caplog.at_level(logging.INFO, logger="kommunesoeg"):
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
    assert_no_leak(at)
    assert "hemmelig" not in rendered(at)
    assert [e.value for e in at.error] == [common.UNEXPECTED_TEXT]
    assert [t.label for t in at.tabs] == PUBLIC_TABS
    assert any(b.label == QUESTION for b in at.button)  # the Spørg tab is intact
    logged = [r for r in caplog.records if r.name == "kommunesoeg.app" and r.exc_info]
    assert logged and "hemmelig" in str(logged[0].exc_info[1])


def test_error_details_are_hidden_by_streamlit_too():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["showErrorDetails"] == "none"


def test_a_broken_users_file_does_not_show_its_path(app_env, tmp_path, monkeypatch):
    bad = tmp_path / "hemmelig-brugerfil.toml"
    bad.write_text("anna = [ikke toml", encoding="utf-8")
    monkeypatch.setenv("KOMMUNESOEG_USERS_FILE", str(bad))
    at = start()
    assert_no_leak(at, bad)
    assert any("Login er ikke sat op korrekt" in e.value for e in at.sidebar.error)


# ---------------------------------------------------------------------------- ask
def test_ask_cites_punkt_4_of_the_msb_meeting(app_env):
    at = submit(start(), "ask_input", QUESTION, "Spørg")
    answer = next(m.value for m in at.markdown if 'class="ks-answer"' in m.value)
    assert "overgangsfinansiering" in answer.lower()
    assert '<sup class="ks-cite">[1]</sup>' in answer
    cards = [m.value for m in at.markdown if 'class="ks-title"' in m.value]
    cited = [c for c in cards if "Punkt 4: Projekt Opgang til Opgang" in c]
    assert cited and "MSB" in cited[0] and "23.03.2023" in cited[0]
    assert "app/static/kilder/2023-03-23_MSB_raadmandsmoede.pdf#page=" in cited[0]
    assert not at.warning


def test_clicking_an_example_asks_it(app_env):
    at = start()
    next(b for b in at.button if b.label == QUESTION).click()
    at.run()
    assert at.text_input(key="ask_input").value == QUESTION
    assert "Punkt 4: Projekt Opgang til Opgang" in rendered(at)


def test_empty_and_huge_queries_get_friendly_warnings(app_env):
    at = submit(start(), "ask_input", "   ", "Spørg")
    assert [w.value for w in at.warning] == ["Skriv et spørgsmål eller nogle søgeord først."]
    at = submit(start(), "search_input", "ord " * 2500, "Søg")
    assert len(at.warning) == 1 and "for lang" in at.warning[0].value
    assert not at.exception


def test_unanswerable_question_is_shown_as_weak_evidence(app_env):
    at = submit(start(), "ask_input", "Hvad koster en ny kunstgræsbane på Marselisborg?", "Spørg")
    assert any("Jeg fandt ikke et sikkert svar" in w.value for w in at.warning)


# ---------------------------------------------------------------------------- search
def test_search_lists_ranked_cards_with_highlights_and_filters(app_env):
    at = submit(start(), "search_input", "overgangsfinansiering", "Søg")
    text = rendered(at)
    assert "<mark>overgangsfinansiering</mark>" in text.lower()
    assert "Opgang til Opgang" in text
    # the committee filter in the sidebar narrows the same search to MBU only
    at.multiselect(key="filter_committees").select("MBU")
    at.run()
    cards = [m.value for m in at.markdown if 'class="ks-meta"' in m.value]
    assert cards and all(" · MBU · " in c for c in cards)


def test_search_paginates(app_env):
    at = submit(start(), "search_input", "borgere", "Søg")
    first_page = [m.value for m in at.markdown if 'class="ks-meta"' in m.value]
    assert len(first_page) == 10
    next(b for b in at.button if b.label == "Næste →").click()
    at.run()
    second_page = [m.value for m in at.markdown if 'class="ks-meta"' in m.value]
    assert second_page and second_page != first_page
    assert "[11]" in second_page[0] or "Side 2" in rendered(at)


# ---------------------------------------------------------------------------- access
def test_public_never_sees_the_closed_item_on_any_page(app_env):
    # The closed item is titled "Pasningsgaranti"; the open minutes only mention
    # "pasningsgarantien" in passing. Queries are lower case so that the check below
    # (capital P, case-sensitive) can only be met by the closed item's own text.
    query = CLOSED_WORD.lower()
    at = start()
    submit(at, "ask_input", f"Hvad blev besluttet om {query}?", "Spørg")
    submit(at, "search_input", query, "Søg")
    submit(at, "timeline_input", query, "Vis")
    at.text_area(key="case_input").input(f"{query} for børn i dagtilbud")
    next(b for b in at.button if b.label == "Find lignende sager").click()
    at.run()
    assert not at.exception
    text = rendered(at)
    assert "pasningsgarantien" in text  # the open mention is found ...
    assert CLOSED_WORD not in text  # ... the closed item never is
    assert "ks-badge ks-closed" not in text
    assert "Lukkede punkter" not in text  # closed counts are internal only


def test_internal_login_unlocks_closed_items_and_quality(app_env):
    at = login(start())
    assert at.session_state["role"] == "internal"
    assert [t.label for t in at.tabs][-1] == "Kvalitet"
    submit(at, "search_input", CLOSED_WORD, "Søg")
    text = rendered(at)
    assert CLOSED_WORD in text
    assert "Lukket" in text
    assert "Lukkede punkter/bilag" in text
    assert any(b.label == "Genindekser nu" for b in at.button)


def test_quality_page_runs_the_evaluation(app_env):
    at = login(start())
    at.multiselect(key="eval_configs").set_value(["bm25"])
    at.button(key="eval_run").click()
    at.run()
    assert not at.exception, at.exception
    table = next(m.value for m in at.markdown if m.value.startswith("| konfiguration"))
    assert "Recall@10" in table and "| bm25 |" in table
    assert len(at.image) == 1  # the chart


def test_internal_user_can_view_a_closed_page_public_cannot(app_env):
    at = login(start())
    submit(at, "search_input", CLOSED_WORD, "Søg")
    next(t for t in at.toggle if t.label == "Vis siden her").set_value(True)
    at.run()
    assert not at.exception, at.exception
    assert len(at.image) == 1 and at.image[0].captions[0].startswith("2023-01-10_MBU")

    from kommunesoeg.ui.sources import page_png
    from retriever.search import Searcher

    searcher = Searcher(app_env)
    document = "2023-01-10_MBU_raadmandsmoede.pdf"
    page = min(searcher.closed_pages(document))
    assert page_png(searcher, document, page, role="public") is None
    assert page_png(searcher, document, page, role="internal").startswith(b"\x89PNG")


def test_internal_upload_refuses_bad_files_and_reindexes(app_env, work_index, monkeypatch):
    # a private copy of corpus and index, so the shared sample index stays as it is
    index, corpus = work_index
    monkeypatch.setenv("KOMMUNESOEG_CORPUS", str(corpus))
    monkeypatch.setenv("KOMMUNESOEG_INDEX", str(index))
    note = (
        "Orienteringsnotat om kunstgræsbanen i Marselisborg.\n\n"
        "Forvaltningen anbefaler, at kunstgræsbanen renoveres i 2024 for 2,1 mio. kr."
    ).encode()
    # a truncated PDF (no xref, no trailer), as a failed upload would leave it
    broken = (CORPUS / "2023-06-08_SBU_notat_relationel_velfaerd.pdf").read_bytes()[:24725]

    at = login(start())
    at.file_uploader(key="doc_upload").set_value(
        [("kunstgraes.txt", note, "text/plain"), ("broken.pdf", broken, "application/pdf")]
    )
    at.run()
    at.button(key="doc_save").click()
    at.run()
    assert (corpus / "kunstgraes.txt").read_bytes() == note
    assert not (corpus / "broken.pdf").exists()  # refused before it was stored
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("broken.pdf: ")
    assert "intet er ændret" in errors[0]
    at.button(key="doc_reindex").click()
    at.run()
    assert not at.exception, at.exception
    assert not at.warning
    assert any("Indekset er opdateret" in s.value for s in at.success)
    submit(at, "search_input", "kunstgræsbane Marselisborg", "Søg")
    cards = [m.value for m in at.markdown if 'class="ks-meta"' in m.value]
    assert cards and "kunstgraes.txt" in rendered(at)


@pytest.mark.slow
def test_upload_with_an_existing_name_never_loses_the_original(
    app_env, work_index, monkeypatch, tmp_path
):
    """Finding 2: an upload named like an indexed PDF keeps the original as a version, a
    broken one under that name changes nothing (file, index and public copy stay), and a
    name with path parts lands in the corpus folder only."""
    from kommunesoeg.ui import sources

    index, corpus = work_index
    monkeypatch.setenv("KOMMUNESOEG_CORPUS", str(corpus))
    monkeypatch.setenv("KOMMUNESOEG_INDEX", str(index))
    monkeypatch.setattr(sources, "static_root", lambda: tmp_path / "static")
    document = "2023-03-23_MSB_raadmandsmoede.pdf"
    original = (corpus / document).read_bytes()
    at = submit(login(start()), "ask_input", QUESTION, "Spørg")
    public = tmp_path / "static" / sources.STATIC_SUBDIR / document
    assert public.is_file()  # the cited document has a public copy
    served = public.read_bytes()

    def upload(files):
        at.file_uploader(key="doc_upload").set_value(files)
        at.run()
        at.button(key="doc_save").click()
        at.run()
        assert not at.exception, at.exception

    # 1. a broken upload under the existing name: nothing changes, not even after a re-index
    upload([(document, original[: len(original) // 3], "application/pdf")])
    assert [e.value.split(":")[0] for e in at.error] == [document]
    assert (corpus / document).read_bytes() == original
    assert not (corpus / ".versioner" / document).exists()
    at.button(key="doc_reindex").click()
    at.run()
    assert not at.exception, at.exception
    assert public.read_bytes() == served
    from retriever.search import Searcher

    assert document in [row.file for row in Searcher(index).reader.documents]

    # 2. a good upload under the existing name: a new version, the original kept
    memo = (CORPUS / "2023-06-08_SBU_notat_relationel_velfaerd.pdf").read_bytes()
    upload(
        [
            (document, memo, "application/pdf"),
            ("../../udenfor.txt", b"Notat om cykelstier.", "text/plain"),
        ]
    )
    assert any("version 2" in s.value for s in at.success)
    assert (corpus / document).read_bytes() == memo
    kept = sorted((corpus / ".versioner" / document).iterdir())
    assert [p.read_bytes() for p in kept] == [original, memo]
    assert (corpus / "udenfor.txt").is_file() and not (tmp_path / "udenfor.txt").exists()
    at.button(key="doc_reindex").click()
    at.run()
    assert not at.exception, at.exception
    # the public copy of the old content is gone the moment the index changed
    assert not public.exists()


def test_password_guessing_is_locked_out_in_the_app(app_env, tmp_path, monkeypatch):
    from kommunesoeg.ui import login as login_page

    # a frozen clock: the 1-second lockout must not run out while the app reruns
    monkeypatch.setattr(login_page, "_now", lambda: 1_000_000.0)
    at = start()
    for attempt in range(4):
        login(at, password=f"gæt {attempt}")
        assert [e.value for e in at.error] == ["Forkert brugernavn eller adgangskode."]
    login(at, password="gæt 5")
    assert [e.value for e in at.error] == ["For mange forkerte forsøg – prøv igen om 1 sekunder."]
    # a new session (another browser tab) with the right password is refused while locked
    at = login(start(), password=PASSWORD)
    assert "Kvalitet" not in [t.label for t in at.tabs]
    assert "For mange forkerte forsøg" in at.error[0].value
    audit = (tmp_path / "audit" / "audit.jsonl").read_text(encoding="utf-8")
    actions = [json.loads(line)["action"] for line in audit.splitlines()]
    assert actions == ["login_fejl"] * 5 + ["login_spaerring", "login_spaerret"]


def test_wrong_password_stays_public(app_env):
    at = login(start(), password="forkert")
    assert "role" not in at.session_state or at.session_state["role"] == "public"
    assert any("Forkert brugernavn eller adgangskode" in e.value for e in at.error)
    assert "Kvalitet" not in [t.label for t in at.tabs]


# ---------------------------------------------------------------------------- other pages
def test_precedents_and_timeline_show_decisions_with_sources(app_env):
    at = start()
    case = (
        "Indstilling om videreførelse af et beskæftigelsesprojekt for borgere i udsatte "
        "boligområder, hvor projektets finansiering udløber, og der søges "
        "overgangsfinansiering."
    )
    at.text_area(key="case_input").input(case)
    next(b for b in at.button if b.label == "Find lignende sager").click()
    at.run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert any("Opgang til Opgang" in label for label in labels)
    submit(at, "timeline_input", "Opgang til Opgang", "Vis")
    assert any("Punkt 4: Projekt Opgang til Opgang" in e.label for e in at.expander)


def test_documents_page_shows_index_contents(app_env):
    at = start()
    values = {m.label: m.value for m in at.metric}
    assert values["Dokumenter"] == "5"
    assert int(values["Sider læst med OCR"]) == 5
    assert "Genindekser nu" not in [b.label for b in at.button]


# ---------------------------------------------------------------------------- units
def test_highlight_escapes_html_and_marks_stemmed_words():
    from kommunesoeg.ui.cards import highlight

    out = highlight(
        '<script>alert("x")</script> Beskæftigelsen & <b>godkendte</b>', "beskæftigelse godkendt"
    )
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out and "&amp;" in out
    assert "<mark>Beskæftigelsen</mark>" in out
    assert "<mark>godkendte</mark>" in out


def test_public_pdf_copy_blanks_closed_pages_and_keeps_numbering(sample_index, tmp_path):
    from kommunesoeg.ui.sources import write_public_copy
    from retriever.search import Searcher

    searcher = Searcher(sample_index)
    document = "2023-01-10_MBU_raadmandsmoede.pdf"
    closed = searcher.closed_pages(document)
    assert closed
    out = tmp_path / document
    write_public_copy(CORPUS / document, closed, out)
    original, public = PdfReader(CORPUS / document), PdfReader(out)
    assert len(public.pages) == len(original.pages)
    original_text = " ".join(p.extract_text() for p in original.pages)
    public_text = " ".join(p.extract_text() for p in public.pages)
    assert CLOSED_WORD in original_text
    assert CLOSED_WORD not in public_text
    assert "ikke offentlig" in public.pages[min(closed) - 1].extract_text()


def test_users_file_and_password_check(tmp_path):
    hashed = auth.hash_password("hemmelig")
    toml_file = tmp_path / "u.toml"
    toml_file.write_text(f'"anna b" = "{hashed}"\n', encoding="utf-8")
    json_file = tmp_path / "u.json"
    json_file.write_text(json.dumps({"users": {"bo": hashed}}), encoding="utf-8")
    assert auth.verify(auth.load_users(toml_file), "anna b", "hemmelig")
    assert not auth.verify(auth.load_users(toml_file), "anna b", "Hemmelig")
    assert not auth.verify(auth.load_users(toml_file), "ukendt", "hemmelig")
    assert auth.verify(auth.load_users(json_file), "bo", "hemmelig")
    bad = tmp_path / "bad.toml"
    bad.write_text('anna = "klartekst"\n', encoding="utf-8")
    with pytest.raises(auth.UsersFileError, match="bad.toml: feltet 'anna'"):
        auth.load_users(bad)


def test_hash_password_command_prints_a_usable_line():
    from kommunesoeg.cli import cli

    result = CliRunner().invoke(cli, ["hash-password", "--user", "anna", "--password", "pw1"])
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line.startswith('"anna" = "$2')
    import tomllib

    assert auth.verify(tomllib.loads(line), "anna", "pw1")


# ---------------------------------------------------------------------------- decision card
FACT_QUESTION = "Hvornår og hvor holder Social- og Beskæftigelsesudvalget møde den 29. marts 2023?"


def _decision_cards(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if 'class="ks-dec"' in m.value]


def test_decision_question_shows_the_decision_card_and_a_fact_question_does_not(app_env):
    at = submit(start(), "ask_input", QUESTION, "Spørg")
    cards = _decision_cards(at)
    assert len(cards) == 1
    card = cards[0]
    assert '<div class="ks-dec" lang="da"><h4>Beslutning <span class="ks-badge"' in card
    assert ">Godkendt</span></h4>" in card  # the outcome as a written label
    assert "overgangsfinansiering" in card
    # the minutes' line structure: numbered clauses and bullets stay apart
    assert "<p>2 og 3) Drøftet med nedenstående bemærkninger:</p><ul><li>" in card
    assert "<li>Er der mulighed for at skaffe finansiering via fonde?</li>" in card
    assert "<strong>Opfølgning:</strong> Vibeke Jensen" in card
    assert "MSB Rådmandsmøde · 23. marts 2023" in card
    assert "Punkt 4: Projekt Opgang til Opgang" in card
    assert re.search(
        r'href="app/static/kilder/2023-03-23_MSB_raadmandsmoede\.pdf#page=\d+"[^>]*>'
        r"Åbn PDF på side \d+ ↗</a>",
        card,
    )
    assert "Tidligere behandlet" not in card  # treated at one meeting only
    # the card comes first; the answer text is one click away, the sources follow
    assert "Svaret som tekst med kildehenvisninger" in [e.label for e in at.expander]
    assert any('class="ks-answer"' in m.value for m in at.markdown)
    assert [s.value for s in at.subheader][:2] == ["Svar", "Kilder"]

    submit(at, "ask_input", FACT_QUESTION, "Spørg")
    assert not _decision_cards(at)
    assert any('class="ks-answer"' in m.value for m in at.markdown)
    assert "Svaret som tekst med kildehenvisninger" not in [e.label for e in at.expander]


def test_english_decision_question_gets_an_english_card(app_env):
    at = submit(start(), "ask_input", "What was decided about Opgang til Opgang?", "Spørg")
    card = _decision_cards(at)[0]
    assert '<div class="ks-dec" lang="en"><h4>Decision <span class="ks-badge"' in card
    assert ">Approved</span></h4>" in card
    assert "<strong>Follow-up:</strong> Vibeke Jensen" in card
    assert "MSB Rådmandsmøde · 23 March 2023" in card
    assert "Item 4: Projekt Opgang til Opgang" in card
    assert "Open PDF at page" in card
    assert '<blockquote class="ks-dec-text" lang="da">' in card  # the quote stays Danish
