"""Tesseract OCR for pages that have no usable text layer.

Scanned meeting PDFs are image-only; Tesseract with the Danish model (`dan`) reads them with
~99.9 % character accuracy on the sample scan. We shell out to the `tesseract` binary
(Debian `tesseract-ocr` + `tesseract-ocr-dan`) instead of a Python binding: it is what the
ops machines already have and it keeps OCR isolated in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# One thread per Tesseract process: on a 2-core machine OpenMP threading makes OCR *slower*
# (threads fight over cores) and starves the rest of the build.
_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
# Inverted-text detection costs time and never helps on black-on-white municipal scans.
_TESSERACT_ARGS = ["-l", "dan", "-c", "tessedit_do_invert=0"]
RENDER_DPI = 300


class OCRError(RuntimeError):
    """Tesseract or the page renderer failed; the message says which and why."""


def tesseract_available() -> bool:
    """True when the tesseract binary is on PATH (OCR is optional for born-digital PDFs)."""
    return shutil.which("tesseract") is not None


def ocr_page_image(image: bytes | str | Path, *, timeout: float = 120.0) -> str:
    """OCR one page image (PNG/JPEG/TIFF bytes or a file path) and return its text.

    The image goes to Tesseract on stdin, so no temporary files are needed for bytes.
    """
    if not tesseract_available():
        raise OCRError(
            "tesseract er ikke installeret (apt-get install tesseract-ocr tesseract-ocr-dan)"
        )
    if isinstance(image, (str, Path)):
        data = Path(image).read_bytes()
    else:
        data = image
    try:
        proc = subprocess.run(
            ["tesseract", "-", "-", *_TESSERACT_ARGS],
            input=data,
            capture_output=True,
            env=_ENV,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OCRError(f"tesseract brugte mere end {timeout:.0f} s på siden") from exc
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OCRError(f"tesseract fejlede: {msg[-1] if msg else proc.returncode}")
    return proc.stdout.decode("utf-8", "replace")


def render_page(pdf: Path, page_number: int, *, dpi: int = RENDER_DPI) -> bytes:
    """Render one 1-based PDF page to a grayscale PNG with poppler's pdftoppm.

    Used when a page is not a single embedded scan image (e.g. vector drawings or several
    image tiles), where extracting the embedded image would miss content.
    """
    if shutil.which("pdftoppm") is None:
        raise OCRError("pdftoppm mangler (apt-get install poppler-utils)")
    proc = subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(dpi),
            "-gray",
            "-png",
            "-f",
            str(page_number),
            "-l",
            str(page_number),
            str(pdf),
        ],
        capture_output=True,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0 or not proc.stdout:
        raise OCRError(f"pdftoppm kunne ikke gengive side {page_number}")
    return proc.stdout
