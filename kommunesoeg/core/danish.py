"""Numbers as Danish readers write them, for the one-line messages users see:
decimal comma ("5,2 MB") and thousands point ("200.000 tegn")."""

from __future__ import annotations


def megabytes(size: int) -> str:
    """A byte count in MiB with one decimal: 5452595 -> "5,2 MB"."""
    return f"{size / 1024 / 1024:.1f} MB".replace(".", ",")


def thousands(n: int) -> str:
    """A whole number with thousands points: 200000 -> "200.000"."""
    return f"{n:,}".replace(",", ".")
