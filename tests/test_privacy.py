"""PII masking: examples from the domain plus Hypothesis properties."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retriever.privacy import CPR_MASK, EMAIL_MASK, PHONE_MASK, mask_pii


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Borgerens CPR 010203-1234 fremgår.", f"Borgerens CPR {CPR_MASK} fremgår."),
        ("cpr.nr. 3112851234.", f"cpr.nr. {CPR_MASK}."),
        ("Skriv til hans.hansen@gmail.com i dag", f"Skriv til {EMAIL_MASK} i dag"),
        ("Ring +45 12 34 56 78 eller 8612 3456", f"Ring {PHONE_MASK} eller {PHONE_MASK}"),
        ("mobil 40404040, tlf. 0045 87654321", f"mobil {PHONE_MASK}, tlf. {PHONE_MASK}"),
        ("+4512345678", PHONE_MASK),
    ],
)
def test_masks_examples(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Sagsnummer EMN-2023-000692",
        "Mødet 10-01-2023 09:15 - 11:30",
        "Tilskud på 3.600 kr. og 1.250.000 kr.",
        "i årene 2022 2023 og 2024",
        "320185-1234 er ikke en dato",  # day 32
        "290201-1234 er ikke en dato",  # 29 February 2001 never existed
        "Kontakt mbu@aarhus.dk eller lotte.henriksen@msb.aarhus.dk",
        "Punkt 4, Bilag 2: Bilag 1 - s. 12",
        "tabel: 10 12 34 56 78",
        "sag 23/12345678",
        "budget 1,4 mio. kr. i 2023, i alt 4 mio. kr.",
    ],
)
def test_keeps_non_personal_numbers_and_work_addresses(text: str) -> None:
    assert mask_pii(text) == text


def test_lookalike_municipal_domain_is_masked() -> None:
    assert mask_pii("svindel@aarhus.dk.example.com") == EMAIL_MASK
    assert mask_pii("x@notaarhus.dk") == EMAIL_MASK


@st.composite
def cpr_numbers(draw: st.DrawFn) -> str:
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
    serial = draw(st.integers(0, 9999))
    dash = draw(st.sampled_from(["-", ""]))
    return f"{born:%d%m%y}{dash}{serial:04d}"


_words = st.text(alphabet="abcdeæøå ", max_size=30)


@given(prefix=_words, cpr=cpr_numbers(), suffix=_words)
def test_any_real_cpr_is_masked(prefix: str, cpr: str, suffix: str) -> None:
    masked = mask_pii(f"{prefix} {cpr} {suffix}")
    assert cpr not in masked
    assert CPR_MASK in masked


@given(day=st.integers(1, 31), month=st.integers(1, 12), yy=st.integers(0, 99))
def test_cpr_only_when_date_is_plausible(day: int, month: int, yy: int) -> None:
    text = f"nr {day:02d}{month:02d}{yy:02d}-1234 her"
    real = any(
        day <= calendar.monthrange(century + yy, month)[1] for century in (1800, 1900, 2000)
    )
    assert (CPR_MASK in mask_pii(text)) == real


@given(
    local=st.from_regex(r"[a-z][a-z0-9._]{0,15}", fullmatch=True),
    domain=st.from_regex(r"[a-z]{2,10}\.(com|dk|net|org)", fullmatch=True),
)
def test_private_emails_masked_municipal_kept(local: str, domain: str) -> None:
    private = f"{local}@{domain}"
    if domain != "aarhus.dk":
        assert mask_pii(f"mail: {private}.") == f"mail: {EMAIL_MASK}."
    work = f"{local}@mbu.aarhus.dk"
    assert mask_pii(f"mail: {work}") == f"mail: {work}"


@given(number=st.from_regex(r"[2-9][0-9]{7}", fullmatch=True), style=st.integers(0, 3))
def test_any_danish_phone_number_is_masked(number: str, style: int) -> None:
    written = [
        number,
        f"{number[:4]} {number[4:]}",
        " ".join(number[i : i + 2] for i in range(0, 8, 2)),
        f"+45 {number}",
    ][style]
    assert mask_pii(f"tlf. {written} ") == f"tlf. {PHONE_MASK} "


@given(st.text(alphabet=st.characters(blacklist_characters="0123456789@")))
def test_text_without_digits_or_at_is_unchanged(text: str) -> None:
    assert mask_pii(text) == text


@given(st.text(alphabet="0123456789 -+.@abkx", max_size=60))
def test_masking_is_idempotent(text: str) -> None:
    once = mask_pii(text)
    assert mask_pii(once) == once


@given(
    amount=st.integers(1000, 10**9).map(lambda n: f"{n:,}".replace(",", ".")),
    year=st.integers(1990, 2040),
    days=st.integers(0, 20000),
)
def test_amounts_years_dates_kept(amount: str, year: int, days: int) -> None:
    day = date(1990, 1, 1) + timedelta(days=days)
    text = f"{amount} kr. i {year}, mødet {day:%d-%m-%Y} og {day:%d.%m.%Y}"
    assert mask_pii(text) == text
