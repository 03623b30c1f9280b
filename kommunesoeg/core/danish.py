"""Numbers and dates as Danish readers write them: decimal comma ("5,2 MB"), thousands
point ("200.000 tegn"), "23. marts 2023" (and "23 March 2023" for an English frame)."""

from __future__ import annotations


def megabytes(size: int) -> str:
    """A byte count in MiB with one decimal: 5452595 -> "5,2 MB"."""
    return f"{size / 1024 / 1024:.1f} MB".replace(".", ",")


def thousands(n: int) -> str:
    """A whole number with thousands points: 200000 -> "200.000"."""
    return f"{n:,}".replace(",", ".")


MONTHS_DA = (
    "januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september",
    "oktober", "november", "december",
)
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)


def long_date(iso: str | None, english: bool = False) -> str:
    """'2023-03-23' -> '23. marts 2023' (Danish) or '23 March 2023'; anything that is not
    an ISO date is returned as it is ('' for None)."""
    if not iso:
        return ""
    try:
        year, month, day = (int(x) for x in iso.split("-"))
        name = (MONTHS_EN if english else MONTHS_DA)[month - 1]
    except (ValueError, IndexError):
        return iso
    return f"{day} {name} {year}" if english else f"{day}. {name} {year}"
