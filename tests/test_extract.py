"""Extraction on the real corpus: text layer, OCR of the scan, and every kind of bad file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfWriter

from indexer.extract import extract_pages
from indexer.ocr import ocr_page_image, render_page
from kommunesoeg.core.errors import DocumentError

MBU = "2023-01-10_MBU_raadmandsmoede.pdf"
MSB_MAR = "2023-03-23_MSB_raadmandsmoede.pdf"
MEMO = "2023-06-08_SBU_notat_relationel_velfaerd.pdf"
SCAN = "2023-06-08_SBU_notat_relationel_velfaerd_scan.pdf"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def test_text_layer_pages(corpus_pages):
    pages = corpus_pages[MSB_MAR]
    assert len(pages) == 43
    assert [p.number for p in pages] == list(range(1, 44))
    assert not any(p.ocr for p in pages)
    assert "Sagsnummer: EMN-2023-000692" in pages[34].text
    assert len(corpus_pages[MBU]) == 16


def test_scan_is_ocred_and_reads_the_memo(corpus_pages):
    scan = corpus_pages[SCAN]
    assert len(scan) == 5 and all(p.ocr for p in scan)
    text = _norm(" ".join(p.text for p in scan))
    # a sentence of the memo (seed 002 / 004), read from pixels only
    assert "arbejdes der desuden med en model, hvor der etableres fleksible" in text
    assert "kontorpladser på dagtilbud og skoler i lokaldistrikterne." in text


def test_ocr_matches_born_digital_text(corpus_pages):
    from rapidfuzz import fuzz

    scan = _norm(" ".join(p.text for p in corpus_pages[SCAN]))
    memo = _norm(" ".join(p.text for p in corpus_pages[MEMO]))
    assert fuzz.ratio(scan, memo) > 97


def test_ocr_page_image_on_rendered_page(corpus_dir, tmp_path):
    png = render_page(corpus_dir / MEMO, 1, dpi=200)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    path = tmp_path / "page.png"
    path.write_bytes(png)
    assert "Social- og Beskæftigelsesudvalget" in ocr_page_image(path)


def test_truncated_pdf(bad_dir):
    with pytest.raises(DocumentError) as err:
        extract_pages(bad_dir / "broken.pdf")
    assert err.value.file == "broken.pdf"
    assert "afkortet" in err.value.reason


def test_encrypted_pdf(bad_dir):
    with pytest.raises(DocumentError) as err:
        extract_pages(bad_dir / "encrypted.pdf")
    assert err.value.file == "encrypted.pdf"
    assert "krypteret" in err.value.reason


def test_encrypted_with_empty_password_is_read(corpus_dir, tmp_path):
    writer = PdfWriter(clone_from=corpus_dir / MEMO)
    writer.encrypt(user_password="", owner_password="ejer")
    out = tmp_path / "aaben.pdf"
    with out.open("wb") as fh:
        writer.write(fh)
    pages = extract_pages(out)
    assert len(pages) == 5 and "relationel velfærd" in pages[0].text


def test_empty_file(tmp_path):
    f = tmp_path / "tom.pdf"
    f.write_bytes(b"")
    with pytest.raises(DocumentError, match="tom.pdf: filen er tom"):
        extract_pages(f)


def test_not_a_pdf(tmp_path):
    f = tmp_path / "falsk.pdf"
    f.write_text("<html>ikke en pdf</html>")
    with pytest.raises(DocumentError, match="falsk.pdf: filen er ikke en PDF"):
        extract_pages(f)


def test_garbage_after_header(tmp_path):
    f = tmp_path / "skrald.pdf"
    f.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 200 + b"\n%%EOF\n")
    with pytest.raises(DocumentError) as err:
        extract_pages(f)
    assert err.value.file == "skrald.pdf"


def test_zero_pages(tmp_path):
    f = tmp_path / "nul.pdf"
    with f.open("wb") as fh:
        PdfWriter().write(fh)
    with pytest.raises(DocumentError, match="ingen sider"):
        extract_pages(f)


def test_unsupported_extension(tmp_path):
    f = tmp_path / "referat.docx"
    f.write_bytes(b"PK\x03\x04")
    with pytest.raises(DocumentError, match="referat.docx: filtypen '.docx' understøttes ikke"):
        extract_pages(f)


def test_page_limit(corpus_dir):
    with pytest.raises(DocumentError, match="for mange sider"):
        extract_pages(corpus_dir / MSB_MAR, max_pages=10)


def test_txt_pages(tmp_path, data_dir):
    seed = data_dir / "seed-002_notat.txt"
    one = extract_pages(seed)
    assert len(one) == 1 and one[0].number == 1 and "relationel velfærd" in one[0].text
    f = tmp_path / "sider.txt"
    f.write_text("første side\fanden side\f", encoding="utf-8")
    pages = extract_pages(f)
    assert [(p.number, p.text) for p in pages] == [(1, "første side"), (2, "anden side")]


def test_missing_file(tmp_path: Path):
    with pytest.raises(DocumentError, match="kan ikke læses"):
        extract_pages(tmp_path / "findes-ikke.pdf")
