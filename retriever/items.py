"""The agenda item as the unit of an answer: which item a passage belongs to, and how
well an item matches the subject and the meeting a question names.

A question is about one case - "Opgang til Opgang", "efteruddannelse af SOSU-hjælpere" -
and the answer must come from that case's agenda item (the item itself with its
attachments), not from whichever passage shares most words with the question. Items are
keyed by document, meeting, Punkt and title: one PDF can hold two meetings with the same
Punkt numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from kommunesoeg.core.danish import MONTHS_DA, MONTHS_EN
from kommunesoeg.core.models import Decision
from kommunesoeg.core.results import Hit
from kommunesoeg.core.textnorm import content_terms

# month name -> number, Danish and English ("marts", "March")
_MONTHS = {name.lower(): n for names in (MONTHS_DA, MONTHS_EN) for n, name in enumerate(names, 1)}
_DAY_MONTH_YEAR = re.compile(
    r"\b(\d{1,2})\.?\s+(" + "|".join(_MONTHS) + r")\s+(\d{4})\b", re.IGNORECASE
)
_NUMERIC = re.compile(r"\b(\d{1,2})[./-](\d{1,2})[./-](\d{4})\b")
# Standing items recur at every meeting under the same title without being one case.
_STANDING = re.compile(
    r"^(?:godkendelse af )?(?:dagsorden|referat)\b|^evt\b|^eventuelt|^bordrunde|"
    r"^orientering(?:er|spunkter)?$|^orientering (?:fra|om udvalgsmødet)\b|"
    r"^meddelelser|^forberedelse til\b|^skriftlige orienteringer|"
    r"^kurser og konferencer|^sager på vej",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ItemKey:
    document: str
    meeting: str
    punkt: int
    title: str


def item_of(part: Hit | Decision) -> ItemKey | None:
    """The agenda item a passage or a decision belongs to (attachments belong to their
    item); None for a passage outside any item."""
    if part.punkt is None:
        return None
    return ItemKey(part.document, part.meeting, part.punkt, normalise_title(part.punkt_title or ""))


def normalise_title(title: str) -> str:
    """Title compared across meetings: casefolded, initials "(NH)" and spacing dropped."""
    title = re.sub(r"\([A-ZÆØÅ]{1,5}\)", " ", title)
    return re.sub(r"\s+", " ", title).strip().casefold()


def item_title_terms(title: str) -> frozenset[str]:
    """The content terms of an item title without its initials: what a question must hold
    to name the item (`decision_card.title_named`, `decision_index.DecisionIndex`)."""
    return frozenset(content_terms(normalise_title(title)))


def is_standing_item(title: str) -> bool:
    """Dagsorden, referat, eventuelt, orienteringer ...: the same title at every meeting."""
    return bool(_STANDING.search(normalise_title(title)))


def mentioned_dates(question: str) -> list[date]:
    """Dates the question names ("den 10. januar 2023", "10.01.2023")."""
    found: list[date] = []
    for day, month, year in _DAY_MONTH_YEAR.findall(question):
        found.extend(_date(int(year), _MONTHS[month.lower()], int(day)))
    for day, month, year in _NUMERIC.findall(question):
        found.extend(_date(int(year), int(month), int(day)))
    return found


def _date(year: int, month: int, day: int) -> list[date]:
    try:
        return [date(year, month, day)]
    except ValueError:
        return []


def date_affinity(item_date: str | None, dates: list[date], within_days: int = 7) -> float:
    """1.0 when the item's meeting is within a week of a date the question names, -1.0 when
    the question names dates and the meeting is far from all of them, 0.0 when it names
    none. A week, because a document's meeting date and the date a question uses for a
    meeting held in it often differ by a few days (a rådmandsmøde prepared on the 20th,
    published on the 23rd)."""
    if not dates:
        return 0.0
    if not item_date:
        return -1.0
    try:
        when = date.fromisoformat(item_date)
    except ValueError:
        return -1.0
    return 1.0 if min(abs((when - d).days) for d in dates) <= within_days else -1.0


def states_date(text: str, dates: list[date]) -> bool:
    """Whether `text` names one of `dates` ("29. marts 2023", "29.03.2023", "29-03-2023")."""
    named = set(mentioned_dates(text))
    return any(d in named for d in dates)
