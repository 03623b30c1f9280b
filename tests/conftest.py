"""Shared fixtures: where the sample corpus lives, and its pages extracted once per session.

Extraction of the scanned memo runs Tesseract (~1-2 s per page), so every test that needs
pages takes them from the session-scoped fixtures below instead of extracting again.

Two tiers: `pytest -m "not slow"` is the quick loop (unit tests on small text fixtures with
the real model and real stores); the full suite adds everything end to end on the sample
corpus. A test that asks for the corpus or the sample index is marked `slow` here, by the
fixture it uses, so a new end-to-end test cannot slip into the quick tier.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexer.extract import extract_pages
from kommunesoeg.core.models import Page

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


# Fixtures that read the OCR'd sample corpus or build / load the sample index from it.
CORPUS_FIXTURES = frozenset(
    {"corpus_dir", "corpus_pages", "sample_corpus", "sample_build", "sample_index", "work_index"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `slow` every test that needs the sample corpus or the index built from it."""
    for item in items:
        if CORPUS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The sample corpus PDFs (corpus/ in the repository)."""
    return ROOT / "corpus"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Small fixtures kept with the tests: bad PDFs, a seed text, a closed-forms meeting."""
    return DATA


@pytest.fixture(scope="session")
def bad_dir(data_dir: Path) -> Path:
    """Deliberately broken PDFs (truncated, encrypted), copied from shared/corpus-bad."""
    return data_dir / "corpus-bad"


@pytest.fixture(scope="session")
def corpus_pages(corpus_dir: Path) -> dict[str, list[Page]]:
    """Every corpus file extracted once (the scan through Tesseract), keyed by file name."""
    return {p.name: extract_pages(p) for p in sorted(corpus_dir.glob("*.pdf"))}


@pytest.fixture(scope="session", autouse=True)
def _audit_log_in_tmp(tmp_path_factory):
    """Internal-role calls are always audited; keep the tests' audit lines out of the indexes
    they share (a test that checks the default location unsets this)."""
    previous = os.environ.get("KOMMUNESOEG_AUDIT_LOG")
    os.environ["KOMMUNESOEG_AUDIT_LOG"] = str(tmp_path_factory.mktemp("audit") / "audit.jsonl")
    yield
    if previous is None:
        os.environ.pop("KOMMUNESOEG_AUDIT_LOG", None)
    else:
        os.environ["KOMMUNESOEG_AUDIT_LOG"] = previous
