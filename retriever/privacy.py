"""Masking of personal data before text reaches the public role.

Meeting minutes are public record, but they occasionally quote a citizen's CPR number,
private e-mail address or phone number (e.g. in a complaint or a named case). The public
role sees every passage through `mask_pii`; the internal role sees the original text.

What is masked and why:

- CPR numbers (`DDMMYY-XXXX` / `DDMMYYXXXX`) whose first six digits are a real calendar
  date. Requiring a plausible date keeps amounts, case numbers (`EMN-2023-000692`) and
  other ten-digit runs intact; the modulus-11 check is not used because CPR numbers
  issued since 2007 need not satisfy it.
- E-mail addresses, except those of the municipality's own organisational domains
  (`@aarhus.dk` and any `@*.aarhus.dk`). Employees' work addresses in published minutes
  are public record and users need them to contact the right office; an address on any
  other domain (gmail.com, hotmail.com, a private firm) may identify a private person,
  so it is hidden.
- Danish phone numbers: eight digits, optionally prefixed `+45`/`0045`, written
  `12345678`, `1234 5678` or `12 34 56 78`. The text cannot tell a private from an
  official number, so all are hidden; Danish subscriber numbers never start with 0 or 1,
  which keeps most table figures, dates ("10 01 2023" is not eight grouped digits) and
  amounts ("3.600", "1.250.000") out. Two four-digit groups that are both years
  ("2022 2023") are kept.
"""

from __future__ import annotations

import calendar
import re

CPR_MASK = "[CPR skjult]"
EMAIL_MASK = "[e-mail skjult]"
PHONE_MASK = "[telefon skjult]"

# The municipality's own domains; subdomains (e.g. mbu.aarhus.dk) are included.
ORGANISATION_DOMAINS: tuple[str, ...] = ("aarhus.dk",)

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})(?![\w-])")

# No word character, '-', '/' or '.' directly before: keeps "EMN-2023-000692", "23/1234567890"
# and "1.234567890" whole. No digit, '-' or '/' directly after, nor ".digit"/",digit".
_LEFT = r"(?<![\w/.-])"
_RIGHT = r"(?![\w/-])(?![.,]\d)"
_CPR = re.compile(_LEFT + r"(\d{2})(\d{2})(\d{2})-?\d{4}" + _RIGHT)
_GROUPED = r"\d{3} \d{4}|\d (?:\d{2} ){2}\d{2}"
_PHONE = re.compile(
    # "+45"/"0045" prefixed: any eight digits.
    r"(?:(?<![\w+])(?:\+|00)45 ?(\d{8}|\d(?:" + _GROUPED + "))"
    # Bare: not inside a run of numbers ("10 12 34 56 78" in a table); a plain eight-digit
    # run must start with 2-9 like a Danish subscriber number.
    + r"|" + _LEFT + r"(?<!\d )(?<!\+)([2-9]\d{7}|[1-9](?:" + _GROUPED + ")))"
    + _RIGHT + r"(?! ?\d)"
)
_YEAR = re.compile(r"(?:19|20)\d{2}")


def _plausible_birth_date(day: str, month: str, year: str) -> bool:
    """True when DD MM YY is a calendar date in some century (29 February: any leap year)."""
    d, m = int(day), int(month)
    if not 1 <= m <= 12 or d < 1:
        return False
    if m == 2:
        # YY=00 may be 1900 (not leap) or 2000 (leap): accept 29 when any century is leap.
        yy = int(year)
        leap = any(calendar.isleap(c + yy) for c in (1800, 1900, 2000))
        return d <= (29 if leap else 28)
    return d <= calendar.monthrange(2001, m)[1]


def _is_organisation_domain(domain: str) -> bool:
    domain = domain.lower()
    return any(domain == own or domain.endswith("." + own) for own in ORGANISATION_DOMAINS)


def _mask_email(match: re.Match[str]) -> str:
    return match.group(0) if _is_organisation_domain(match.group(1)) else EMAIL_MASK


def _mask_cpr(match: re.Match[str]) -> str:
    return CPR_MASK if _plausible_birth_date(*match.group(1, 2, 3)) else match.group(0)


def _mask_phone(match: re.Match[str]) -> str:
    groups = (match.group(1) or match.group(2)).split(" ")
    if len(groups) == 2 and all(_YEAR.fullmatch(g) for g in groups):
        return match.group(0)
    return PHONE_MASK


def mask_pii(text: str) -> str:
    """Return `text` with CPR numbers, private e-mail addresses and phone numbers hidden.

    E-mail runs first (an address may contain digits), then CPR (ten digits, so a CPR is
    never mistaken for a phone number), then phone numbers. Idempotent.
    """
    text = _EMAIL.sub(_mask_email, text)
    text = _CPR.sub(_mask_cpr, text)
    return _PHONE.sub(_mask_phone, text)
