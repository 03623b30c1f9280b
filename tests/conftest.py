"""Shared fixtures: where the sample corpus lives, and its pages extracted once per session.

Extraction of the scanned memo runs Tesseract (~1-2 s per page), so every test that needs
pages takes them from the session-scoped fixtures below instead of extracting again.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexer.extract import extract_pages
from indexer.models import Page

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KOMMUNESOEG_SHARED", "/work/shared"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The sample corpus PDFs (corpus/ in the repository)."""
    return ROOT / "corpus"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """Shared material outside the repository: seeds/, corpus-bad/, dev-questions.jsonl."""
    if not SHARED.is_dir():
        pytest.skip(f"shared material not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def bad_dir(shared_dir: Path) -> Path:
    """Deliberately broken PDFs (truncated, encrypted)."""
    return shared_dir / "corpus-bad"


@pytest.fixture(scope="session")
def corpus_pages(corpus_dir: Path) -> dict[str, list[Page]]:
    """Every corpus file extracted once (the scan through Tesseract), keyed by file name."""
    return {p.name: extract_pages(p) for p in sorted(corpus_dir.glob("*.pdf"))}
