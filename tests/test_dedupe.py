"""Near-duplicate detection on the real corpus (scan vs. born-digital, closed vs. open copy)."""

from __future__ import annotations

import pytest

from indexer.chunk import make_chunks
from indexer.dedupe import CONTAINMENT, MIN_CHARS, is_duplicate, mark_duplicates, normalize
from indexer.structure import parse_document

MBU = "2023-01-10_MBU_raadmandsmoede.pdf"
MSB_FEB = "2023-02-23_MSB_raadmandsmoede.pdf"
MSB_MAR = "2023-03-23_MSB_raadmandsmoede.pdf"
MEMO = "2023-06-08_SBU_notat_relationel_velfaerd.pdf"
SCAN = "2023-06-08_SBU_notat_relationel_velfaerd_scan.pdf"


@pytest.fixture(scope="module")
def deduped(corpus_pages):
    chunks = []
    for name in sorted(corpus_pages):
        chunks += make_chunks(*parse_document(corpus_pages[name]))
    return mark_duplicates(chunks)


@pytest.fixture(scope="module")
def by_id(deduped):
    return {c.chunk_id: c for c in deduped}


def test_scan_chunks_point_at_born_digital_memo(deduped, by_id):
    scan = [c for c in deduped if c.document == SCAN]
    assert scan and all(c.duplicate_of for c in scan)
    assert {by_id[c.duplicate_of].document for c in scan} == {MEMO}
    assert not any(c.duplicate_of for c in deduped if c.document == MEMO)


def test_closed_copy_of_minutes_points_at_open_original(deduped, by_id):
    copies = [c for c in deduped if c.document == MBU and c.bilag == 3 and c.duplicate_of]
    # every open agenda item of the minutes long enough to dedupe (Punkt 2-9) is linked
    assert {c.punkt for c in copies} >= set(range(2, 10))
    for c in copies:
        canon = by_id[c.duplicate_of]
        assert (canon.bilag, canon.closed, canon.punkt) == (1, False, c.punkt)
    # the open originals are canonical
    assert not any(c.duplicate_of for c in deduped if c.document == MBU and c.bilag == 1)


def test_closed_only_content_stays_canonical(deduped):
    garanti = [c for c in deduped if c.punkt == 10 and c.document == MBU]
    assert garanti and all(c.closed and c.duplicate_of is None for c in garanti)


def test_no_chains_and_no_open_copy_of_closed(deduped, by_id):
    for c in deduped:
        if c.duplicate_of:
            canon = by_id[c.duplicate_of]
            assert canon.duplicate_of is None
            assert not (canon.closed and not c.closed)
            assert len(normalize(c.text).replace(" ", "")) >= MIN_CHARS


def test_distinct_items_are_not_merged(deduped, by_id):
    for c in deduped:
        if c.duplicate_of and c.document in (MSB_FEB, MSB_MAR):
            pytest.fail(
                f"{c.document} p{c.page_start} marked duplicate of {by_id[c.duplicate_of].document}"
            )
    # two committee agendas with the same boilerplate but other dates and times
    feb = next(c for c in deduped if c.document == MSB_FEB and "9. Evt." in c.text and c.bilag == 2)
    mar = next(c for c in deduped if c.document == MSB_MAR and "10. Evt." in c.text)
    assert not is_duplicate(feb.text, mar.text)


def test_short_boilerplate_is_never_a_duplicate():
    assert not is_duplicate("Punkt 1: Dagsorden\nGodkendt.", "Punkt 1: Dagsorden\nGodkendt.")


def test_ocr_noise_and_extra_content():
    original = (
        "Med afsæt i borgeren og visionen om, at flere børn og unge skal i trivsel, "
        "skal der skabes et fælles grundlag for de tværgående teams. Prøvehandlingen "
        "indebærer at medarbejdere fra PPR og Sundhedsplejen bliver en del af de tværfaglige "
        "teams omkring udrulningen af relationel velfærd i lokaldistrikterne."
    )
    noisy = (
        original.replace("om, at", "om; at").replace("i trivsel", "i.trivsel").replace("ø", "oe")
    )
    assert is_duplicate(noisy, original)
    extended = (
        original + " Punkt 10 (Lukket): Pasningsgaranti. Indstillingen blev godkendt med ændringer."
    )
    assert is_duplicate(original, extended)  # fully contained
    assert not is_duplicate(extended, original)  # would hide the closed sentence
    assert 0.9 < CONTAINMENT < 1.0
