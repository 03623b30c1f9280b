"""What a passage inherits from the passages before it in the same document part.

Agenda forms run across chunk boundaries. A committee agenda attached to a rådmandsmøde
("Mødedato: 1. marts 2023", then numbered entries "5. Status på UC Gadeplan" with their
fields "Baggrund/formål", "Ansvarlig", "Tid") is cut into passages by length, so the
passage holding "Tid: 19.05 – 19.30 (25 min.)" may start after the entry heading it
belongs to and far below the line stating which meeting the form is for. Read alone, that
line answers nothing: "how long was set aside for UC Gadeplan at the meeting on 1 March"
needs to know that the line is UC Gadeplan's and that the form is the 1 March meeting's.

`carried_context` reads back through the passages before a hit in the same document,
Punkt and Bilag - only passages the role may see, so nothing closed is carried into an
open answer - for the entry the hit continues and the line stating the form's meeting date;
`continuation` is the passage after it, where the fields of an entry it ends in go on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kommunesoeg.core.models import Chunk
from kommunesoeg.core.results import Filters, Hit
from retriever.access import may_see_chunk
from retriever.quotable import last_entry
from retriever.view import IndexView

# How many passages back a form's entry heading or date line is looked for: a committee
# agenda attached to a rådmandsmøde runs to 4-6 passages.
LOOKBACK = 6
# "Mødedato: 1. marts 2023" - the line that says which meeting a form is for.
_FORM_DATE = re.compile(r"\b(?:Mødedato|Dato for mødet):\s*[^\n]{1,40}", re.IGNORECASE)


@dataclass(frozen=True)
class CarriedContext:
    """`entry`: the numbered form entry the passage continues at its start ("" when it
    starts with its own entry or none is open); `form_date`: the earlier passage's line
    stating the meeting date of the form the passage belongs to ("" when none)."""

    entry: str = ""
    form_date: str = ""


def carried_context(view: IndexView, hit: Hit, role: str) -> CarriedContext:
    """The entry and form date `hit` inherits from the passages before it (see module)."""
    entry: str | None = None
    form_date = ""
    for back in range(1, LOOKBACK + 1):
        before = _same_part(view, hit, -back, role)
        if before is None:
            break
        if entry is None:
            entry = last_entry(before.text, before.punkt, before.punkt_title)
        if not form_date:
            stated = _FORM_DATE.findall(before.text)
            if stated:
                form_date = stated[-1]
        if entry is not None and form_date:
            break
    return CarriedContext(entry or "", form_date)


def continuation(view: IndexView, hit: Hit, role: str, filters: Filters) -> Chunk | None:
    """The passage right after `hit` in the same document part, when `role` may see it
    and it is inside `filters`: where the fields of an entry that `hit` ends inside go on."""
    after = _same_part(view, hit, 1, role)
    return after if after is not None and view.passes(after, filters) else None


def _same_part(view: IndexView, hit: Hit, offset: int, role: str) -> Chunk | None:
    """The passage `offset` places from `hit` in index (= reading) order, when it belongs
    to the same document, Punkt and Bilag and `role` may see it; else None."""
    row = view.rows.row_of.get(view.canonical_id(hit.chunk_id))
    if row is None or not 0 <= row + offset < len(view.rows.canonical_ids):
        return None
    other = view.chunk(view.rows.canonical_ids[row + offset])
    if (other.document, other.punkt, other.bilag) != (hit.document, hit.punkt, hit.bilag):
        return None
    return other if may_see_chunk(other, role) else None


def open_entry(hit: Hit, entry: str) -> str:
    """The form entry still open at the end of `hit` (`entry` is the one open at its start)."""
    last = last_entry(hit.text, hit.punkt, hit.punkt_title)
    return entry if last is None else last
