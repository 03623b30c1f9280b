"""Uploads never overwrite and a bad upload changes nothing (issue 9, finding 2).

The version store (kommunesoeg/uploads.py) is driven with real files and the real extractor;
the public-copy clean-up (kommunesoeg/ui/sources.py) with a real index rebuilt by the real
indexer. Every check compares bytes on disk.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest

from kommunesoeg import uploads
from kommunesoeg.core.errors import DocumentError
from kommunesoeg.uploads import VERSIONS_DIR, safe_name, store_upload, versions

pytest_plugins = ["fixtures_index"]

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
BAD = ROOT / "tests" / "data" / "corpus-bad"
MEMO = "2023-06-08_SBU_notat_relationel_velfaerd.pdf"
NOTE = "Notat om kunstgræsbanen i Marselisborg. Banen renoveres i 2024.".encode()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` (hidden ones included) with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def sha12(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "notat.txt").write_bytes(NOTE)
    return folder


# ---------------------------------------------------------------------------- collisions
def test_name_collision_keeps_the_original_as_version_1(corpus):
    new = "Notat om kunstgræsbanen. Banen renoveres først i 2026.".encode()
    stored = store_upload(corpus, "notat.txt", new)
    assert (stored.status, stored.version) == ("ny version", 2)
    assert (corpus / "notat.txt").read_bytes() == new
    kept = versions(corpus, "notat.txt")
    assert [p.name for p in kept] == [f"0001-{sha12(NOTE)}.txt", f"0002-{sha12(new)}.txt"]
    assert kept[0].read_bytes() == NOTE and kept[1].read_bytes() == new
    # a third upload adds version 3; nothing earlier is touched
    third = "Notat om kunstgræsbanen. Sagen er udsat.".encode()
    assert store_upload(corpus, "notat.txt", third).version == 3
    assert [p.read_bytes() for p in versions(corpus, "notat.txt")] == [NOTE, new, third]
    # an older version uploaded again becomes current without a new version
    again = store_upload(corpus, "notat.txt", NOTE)
    assert (again.status, again.version) == ("gendannet", 1)
    assert (corpus / "notat.txt").read_bytes() == NOTE
    assert len(versions(corpus, "notat.txt")) == 3


def test_identical_upload_adds_no_version_and_writes_nothing(corpus):
    before = snapshot(corpus)
    stored = store_upload(corpus, "notat.txt", NOTE)
    assert stored.status == "uændret"
    assert versions(corpus, "notat.txt") == []
    assert {k: v for k, v in snapshot(corpus).items() if not k.endswith(".lock")} == before


def test_a_new_name_is_stored_as_is(corpus):
    data = (CORPUS / MEMO).read_bytes()
    stored = store_upload(corpus, MEMO, data)
    assert (stored.status, stored.name) == ("ny", MEMO)
    assert (corpus / MEMO).read_bytes() == data


def test_a_file_in_a_subfolder_is_the_one_versioned(corpus):
    (corpus / "2023").mkdir()
    (corpus / "2023" / "referat.txt").write_bytes(NOTE)
    store_upload(corpus, "referat.txt", b"Referat: udvalget godkendte sagen.")
    assert not (corpus / "referat.txt").exists()  # no second file with the same id
    assert (corpus / "2023" / "referat.txt").read_bytes() == b"Referat: udvalget godkendte sagen."
    assert versions(corpus, "referat.txt")[0].read_bytes() == NOTE


# ---------------------------------------------------------------------------- bad uploads
def _pdf(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


BROKEN = {
    "tom.pdf": b"",
    "afkortet.pdf": _pdf(MEMO)[:24725],
    "afkortet-eof.pdf": _pdf(MEMO)[:24725] + b"\n%%EOF\n",
    "tilfaeldig.pdf": bytes(range(256)) * 40,
    "falsk-header.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n",
    "billede.pdf": b"\x89PNG\r\n\x1a\n" + b"\0" * 2000,
    "krypteret.pdf": (BAD / "encrypted.pdf").read_bytes(),
    "broken.pdf": (BAD / "broken.pdf").read_bytes(),
    "blank.txt": b"   \n\n\t  \n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_upload_changes_nothing(corpus, name):
    # the broken file arrives under the name of a good one: the good one must survive
    before = snapshot(corpus)
    with pytest.raises(DocumentError) as info:
        store_upload(corpus, "notat.txt" if name.endswith(".txt") else name, BROKEN[name])
    assert info.value.reason and "\n" not in str(info.value)
    assert snapshot(corpus) == before
    if name.endswith(".pdf"):
        (corpus / name).write_bytes(_pdf(MEMO))  # an existing good PDF of that name ...
        before = snapshot(corpus)
        with pytest.raises(DocumentError, match=f"^{name}: "):
            store_upload(corpus, name, BROKEN[name])
        assert snapshot(corpus) == before  # ... is neither replaced nor versioned


def test_size_cap_is_checked_before_reading(corpus):
    with pytest.raises(DocumentError, match="for stor"):
        store_upload(corpus, "stor.txt", b"ord " * 1000, max_bytes=1000)
    assert not (corpus / "stor.txt").exists()


def test_a_crashing_extractor_is_one_clear_line(corpus):
    def crash(path: Path):
        raise RecursionError("maximum recursion depth exceeded")

    before = snapshot(corpus)
    with pytest.raises(
        DocumentError, match=r"^notat\.txt: filen kan ikke læses \(RecursionError\)"
    ):
        store_upload(corpus, "notat.txt", b"nyt indhold", extract=crash)
    assert snapshot(corpus) == before


# ---------------------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("../../x.txt", "x.txt"),
        ("..\\..\\windows\\x.txt", "x.txt"),
        ("/etc/passwd.txt", "passwd.txt"),
        ("-rf.txt", "rf.txt"),
        ("..skjult.txt", "skjult.txt"),
        ("Børn og Unge – æøå 😀.txt", "Børn og Unge – æøå 😀.txt"),
        ("Notat (udkast) & bilag #2.txt", "Notat (udkast) & bilag #2.txt"),
        ("NOTAT.TXT", "NOTAT.TXT"),
        ("A\u030arhus.txt", "Århus.txt"),  # decomposed (macOS) becomes composed
    ],
)
def test_names_keep_only_a_safe_base_name(corpus, raw, stored):
    result = store_upload(corpus, raw, NOTE + raw.encode())
    assert result.name == stored
    assert (corpus / stored).is_file()
    assert result.renamed_from == (None if raw == stored else raw)
    outside = [p for p in corpus.parent.rglob("*") if p.is_file() and corpus not in p.parents]
    assert outside == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("notat\n.txt", "styretegn"),
        ("notat\x00.txt", "styretegn"),
        ("a" * 250 + ".txt", "for langt"),
        ("<b>fed</b>.txt", "må ikke indeholde"),
        ('<img src=x onerror="alert(1)">.txt', "må ikke indeholde"),
        ("mødets 'notat'.txt", "må ikke indeholde"),
        ('notat "udkast".txt', "må ikke indeholde"),
        ("notat.exe", "kun PDF- og tekstfiler"),
        ("notat", "kun PDF- og tekstfiler"),
        ("../.txt", "kun PDF- og tekstfiler"),
        ("___.txt", "tomt"),
    ],
)
def test_unsafe_names_are_refused_clearly(corpus, raw, reason):
    before = snapshot(corpus)
    with pytest.raises(DocumentError) as info:
        store_upload(corpus, raw, NOTE)
    assert reason in info.value.reason
    assert "\n" not in str(info.value) and "\x00" not in str(info.value)
    assert len(info.value.file) <= 80
    assert snapshot(corpus) == before
    assert safe_name("notat.txt") == "notat.txt"


def test_upload_cap_matches_the_streamlit_config():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == uploads.MAX_UPLOAD_MB
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert f"client_max_body_size {uploads.MAX_UPLOAD_MB}m;" in deploy


# ---------------------------------------------------------------------------- re-index
@pytest.mark.slow
def test_versions_are_not_indexed_and_stale_public_copies_go(work_index, monkeypatch, tmp_path):
    """Upload a new version of an indexed PDF, re-index with prune: the index holds the new
    content once (the kept original in .versioner/ is not a document), and the public copy
    written for the old content is removed; a document that left the index loses its copy."""
    from indexer.build import build_index
    from kommunesoeg.ui import sources
    from retriever.search import Searcher

    index, corpus = work_index
    monkeypatch.setenv("KOMMUNESOEG_CORPUS", str(corpus))
    monkeypatch.setattr(sources, "static_root", lambda: tmp_path / "static")
    document = "2023-01-10_MBU_raadmandsmoede.pdf"
    gone = "2023-03-23_MSB_raadmandsmoede.pdf"
    searcher = Searcher(index)
    assert sources.public_pdf_url(searcher, document, 1) is not None
    assert sources.public_pdf_url(searcher, gone, 1) is not None
    copies = tmp_path / "static" / sources.STATIC_SUBDIR
    assert {p.name for p in copies.iterdir()} == {document, gone}
    assert sources.sync_public_copies(searcher) == []  # current copies stay

    # a new version of `document`: the same PDF with its last page dropped
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(corpus / document).pages[:-1]:
        writer.add_page(page)
    out = tmp_path / "ny.pdf"
    writer.write(out)
    original = (corpus / document).read_bytes()
    stored = store_upload(corpus, document, out.read_bytes())
    assert stored.status == "ny version"
    assert versions(corpus, document)[0].read_bytes() == original
    (corpus / gone).unlink()

    report = build_index([corpus], index, prune=True, progress=False)
    assert not report.errors
    rebuilt = Searcher(index)
    files = [row.file for row in rebuilt.reader.documents]
    assert files.count(document) == 1 and gone not in files
    assert not any(VERSIONS_DIR in f or f.startswith("0001-") for f in files)
    row = next(r for r in rebuilt.reader.documents if r.file == document)
    assert row.sha256 == stored.sha256

    removed = sources.sync_public_copies(rebuilt)
    assert sorted(removed) == sorted([document, gone])
    assert list(copies.iterdir()) == []
    # the next link writes a copy of the new content
    assert sources.public_pdf_url(rebuilt, document, 1).endswith(f"{document}#page=1")
    assert len(PdfReader(copies / document).pages) == len(PdfReader(out).pages)


def test_a_copy_with_other_closed_pages_is_stale(sample_index, monkeypatch, tmp_path):
    """Same content, but the index now marks another page closed (e.g. a new Lukket form is
    recognised): the old copy would show that page, so it must go."""
    from kommunesoeg.ui import sources
    from retriever.search import Searcher

    monkeypatch.setenv("KOMMUNESOEG_CORPUS", str(CORPUS))
    monkeypatch.setattr(sources, "static_root", lambda: tmp_path / "static")
    searcher = Searcher(sample_index)
    document = "2023-01-10_MBU_raadmandsmoede.pdf"
    row = next(r for r in searcher.reader.documents if r.file == document)
    copies = tmp_path / "static" / sources.STATIC_SUBDIR
    copies.mkdir(parents=True)
    # written for fewer closed pages than the index has now
    sources.write_public_copy(
        CORPUS / document, set(), copies / document, stamp=f"{row.sha256};"
    )
    (copies / "ukendt.pdf").write_bytes(b"%PDF-1.4 ikke i indekset")
    assert sorted(sources.sync_public_copies(searcher)) == [document, "ukendt.pdf"]
    assert not (copies / document).exists()
