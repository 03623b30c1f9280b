"""The text of a new case for "Lignende sager", read and prepared the same way everywhere.

The CLI (`precedents --file/--text`), the app (upload or paste) and the library
(`find_precedents`) all go through this module, so a case gives the same matches however it
arrives, and bad input gets the same one-line `InvalidQuery`:
- files: regular files only, never opened when they are a FIFO or a device (a FIFO hung the
  CLI forever, `/dev/zero` grew it to 23.7 GB), read with a size cap, PDF through the
  indexer's extractor (OCR included), text through the indexer's encoding detection;
- text: control characters removed, a length cap, and a check that it holds real words —
  garbage must get a message, not ten "similar cases" ranked by noise.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from indexer.extract import decode_text, extract_pages, read_regular_file
from kommunesoeg.core.danish import megabytes, thousands
from kommunesoeg.core.errors import DocumentError, InvalidQuery

# A case is an indstilling of a few pages: 2 MB of text is ~1,000 pages, so anything larger
# is a wrong file. A scanned PDF case is larger per page (the 5-page sample scan: 1.3 MB).
MAX_CASE_TEXT_BYTES = 2 * 1024 * 1024
MAX_CASE_PDF_BYTES = 20 * 1024 * 1024
# OCR costs ~1 s per scanned page; a case of more pages than this is a whole meeting packet.
MAX_CASE_PAGES = 50
# The case is embedded in at most 12 windows spread over the text; ~100 pages of text is
# far more than any case and keeps sentence splitting and scoring fast.
MAX_CASE_CHARS = 200_000
MIN_WORDS = 1  # a one-word case ("Pasningsgaranti") is real; the archive check stops the rest
# Share of the visible characters that belong to real words; Danish prose is ~0.85, a case
# full of amounts and dates ~0.6, keyboard mashing or binary noise far below.
MIN_WORD_SHARE = 0.5
MAX_WORD_LETTERS = 40  # longer "words" are runs of one key, not Danish compounds

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # keeps \t \n \f \r
_TOKEN = re.compile(r"[^\W\d_]+")
_VOWEL = re.compile(r"[aeiouyæøåéèêáàäöüíóú]", re.IGNORECASE)


def read_case_file(path: Path | str) -> str:
    """The prepared case text of a .pdf or text file; InvalidQuery("file: …") when unusable.

    The file is checked with `stat` before it is opened and read without blocking, so a
    FIFO, a device or a folder is one clear line instead of a hang or a full memory.
    """
    path = Path(path)
    try:
        data = read_regular_file(path, MAX_CASE_PDF_BYTES)
    except DocumentError as exc:
        raise InvalidQuery(f"file: {exc}") from None
    return case_text_from_bytes(path.name, data)


def case_text_from_bytes(name: str, data: bytes) -> str:
    """The prepared case text of an uploaded or read file called `name` (only its last part
    is used, in messages and to tell a PDF from text)."""
    name = Path(name).name or "sagen"
    if not data:
        raise InvalidQuery(f"file: {name}: filen er tom (0 bytes)")
    if name.lower().endswith(".pdf") or data.lstrip()[:5].startswith(b"%PDF"):
        text = _pdf_text(name, data)
    else:
        if len(data) > MAX_CASE_TEXT_BYTES:
            raise InvalidQuery(
                f"file: {name}: filen er for stor til en sag ({megabytes(len(data))}; højst "
                f"{megabytes(MAX_CASE_TEXT_BYTES)} tekst)"
            )
        try:
            text = decode_text(name, data)
        except DocumentError as exc:
            raise InvalidQuery(f"file: {exc}") from None
    return prepare_case_text(text, source=name)


def _pdf_text(name: str, data: bytes) -> str:
    if len(data) > MAX_CASE_PDF_BYTES:
        raise InvalidQuery(
            f"file: {name}: filen er for stor til en sag ({megabytes(len(data))}; højst "
            f"{megabytes(MAX_CASE_PDF_BYTES)})"
        )
    with tempfile.TemporaryDirectory(prefix="kommunesoeg-sag-") as tmp:
        path = Path(tmp) / "sag.pdf"  # never the uploaded name: it may hold ../ or worse
        path.write_bytes(data)
        try:
            pages = extract_pages(path, max_pages=MAX_CASE_PAGES)
        except DocumentError as exc:
            raise InvalidQuery(f"file: {name}: {exc.reason}") from None
    return "\n".join(p.text for p in pages)


def prepare_case_text(text: str, *, source: str | None = None) -> str:
    """The case text as the precedent search uses it, or InvalidQuery naming the field.

    `source` names the file the text came from, so the message can say which one.
    """
    field = f"file: {source}" if source else "case"
    if not isinstance(text, str):
        raise InvalidQuery(f"{field}: sagsteksten skal være tekst")
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n")).strip()
    if not text:
        raise InvalidQuery(f"{field}: sagsteksten er tom")
    if len(text) > MAX_CASE_CHARS:
        raise InvalidQuery(
            f"{field}: sagsteksten er for lang ({thousands(len(text))} tegn; højst "
            f"{thousands(MAX_CASE_CHARS)})"
        )
    words, share = _real_words(text)
    if words < MIN_WORDS or share < MIN_WORD_SHARE:
        raise InvalidQuery(
            f"{field}: sagsteksten ligner ikke en sag ({words} rigtige ord, "
            f"{share:.0%} af tegnene er ord); indsæt sagens tekst, fx indstillingen"
        )
    return text


def _real_words(text: str) -> tuple[int, float]:
    """(number of real words, share of visible characters inside real words).

    A real word has 2 to 40 letters and a vowel: what Danish words, names and most
    abbreviations look like, and what keyboard mashing and decoded binary rarely do.
    """
    count = letters = 0
    for match in _TOKEN.finditer(text):
        word = match.group(0)
        if 2 <= len(word) <= MAX_WORD_LETTERS and _VOWEL.search(word):
            count += 1
            letters += len(word)
    visible = sum(1 for ch in text if not ch.isspace())
    return count, (letters / visible if visible else 0.0)
