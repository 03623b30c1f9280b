"""Question sets for the retrieval evaluation: one JSON object per line (see eval/README.md).

Staff write their own sets, so a bad line must fail with one line naming the file, the
line number and the field - never a traceback from deep inside the harness.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kommunesoeg.core.errors import KommunesoegError

QUESTION_TYPES = (
    "decision",
    "fact",
    "paraphrase",
    "precedent",
    "english",
    "ocr",
    "closed",
    "negative",
)
# Types judged by pass/fail rather than by ranking metrics (see harness.py).
CHECK_TYPES = ("closed", "negative")

# The shipped dev set names seed text files; the corpus holds the PDFs made from them.
SEED_TO_PDF = {
    "000": "2023-01-10_MBU_raadmandsmoede.pdf",
    "001": "2023-02-23_MSB_raadmandsmoede.pdf",
    "002": "2023-06-08_SBU_notat_relationel_velfaerd.pdf",
    "003": "2023-03-23_MSB_raadmandsmoede.pdf",
    "004": "2023-06-08_SBU_notat_relationel_velfaerd_scan.pdf",
}
# The scan (004) is rendered from the memo (002): an OCR answer may come from either.
OCR_TWINS = {
    "2023-06-08_SBU_notat_relationel_velfaerd_scan.pdf": "2023-06-08_SBU_notat_relationel_velfaerd.pdf",
    "2023-06-08_SBU_notat_relationel_velfaerd.pdf": "2023-06-08_SBU_notat_relationel_velfaerd_scan.pdf",
}


class QuestionSetError(KommunesoegError):
    """A question file cannot be read; the message names file, line and field."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    type: str
    evidence: tuple[str, ...] = ()
    doc: str | None = None  # PDF file name the answer stands in
    punkt: int | None = None
    bilag: int | None = None
    answer: str | None = None
    lang: str = "da"
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def ranked(self) -> bool:
        """True when the question is scored by ranking metrics (not a pass/fail check)."""
        return self.type not in CHECK_TYPES

    def accepted_docs(self) -> frozenset[str]:
        """Documents an answer may come from (both twins for OCR questions)."""
        if self.doc is None:
            return frozenset()
        docs = {self.doc}
        if self.type == "ocr" and self.doc in OCR_TWINS:
            docs.add(OCR_TWINS[self.doc])
        return frozenset(docs)


def resolve_doc(value: str | None) -> str | None:
    """Map a seed file name ("001_9ef2....txt") or a PDF file name to the PDF file name."""
    if value is None or value == "":
        return None
    name = Path(value).name
    prefix = name[:3]
    if name.endswith(".txt") and prefix in SEED_TO_PDF:
        return SEED_TO_PDF[prefix]
    return name


def _fail(path: Path, lineno: int, msg: str) -> QuestionSetError:
    return QuestionSetError(f"{path}:{lineno}: {msg}")


def _parse(obj: object, path: Path, lineno: int) -> Question:
    if not isinstance(obj, dict):
        raise _fail(path, lineno, "linjen er ikke et JSON-objekt")
    for name in ("id", "question", "type"):
        if not isinstance(obj.get(name), str) or not obj[name].strip():
            raise _fail(path, lineno, f"feltet '{name}' mangler eller er tomt")
    qtype = obj["type"]
    if qtype not in QUESTION_TYPES:
        raise _fail(
            path, lineno, f"feltet 'type' er '{qtype}', skal være en af {', '.join(QUESTION_TYPES)}"
        )
    evidence = obj.get("evidence") or []
    if not isinstance(evidence, list) or not all(
        isinstance(e, str) and e.strip() for e in evidence
    ):
        raise _fail(path, lineno, "feltet 'evidence' skal være en liste af ikke-tomme strenge")
    doc = obj.get("doc", obj.get("source"))
    if doc is not None and not isinstance(doc, str):
        raise _fail(path, lineno, "feltet 'doc' skal være et filnavn")
    ints = {}
    for name in ("punkt", "bilag"):
        value = obj.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise _fail(path, lineno, f"feltet '{name}' skal være et heltal eller null")
        ints[name] = value
    if qtype not in CHECK_TYPES and not evidence and (doc is None or ints["punkt"] is None):
        raise _fail(path, lineno, "spørgsmålet har hverken 'evidence' eller både 'doc' og 'punkt'")
    if qtype == "closed" and not evidence:
        raise _fail(
            path, lineno, "et 'closed'-spørgsmål kræver 'evidence' (for at kunne se et læk)"
        )
    known = {
        "id",
        "question",
        "type",
        "evidence",
        "doc",
        "source",
        "punkt",
        "bilag",
        "answer",
        "lang",
    }
    return Question(
        id=obj["id"],
        question=obj["question"],
        type=qtype,
        evidence=tuple(evidence),
        doc=resolve_doc(doc),
        punkt=ints["punkt"],
        bilag=ints["bilag"],
        answer=obj.get("answer"),
        lang=obj.get("lang") or "da",
        extra={k: v for k, v in obj.items() if k not in known},
    )


def load_questions(path: Path | str) -> list[Question]:
    """Read and validate a JSONL question set; blank lines are skipped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise QuestionSetError(f"{path}: filen findes ikke") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionSetError(f"{path}: kan ikke læses ({exc})") from None
    questions: list[Question] = []
    seen: set[str] = set()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(path, lineno, f"ugyldig JSON ({exc.msg})") from None
        q = _parse(obj, path, lineno)
        if q.id in seen:
            raise _fail(path, lineno, f"feltet 'id' er '{q.id}', som allerede er brugt")
        seen.add(q.id)
        questions.append(q)
    if not questions:
        raise QuestionSetError(f"{path}: ingen spørgsmål i filen")
    return questions
