"""Near-duplicate chunks across all documents of an index.

Meeting packets copy text around: the same memo is filed as a born-digital PDF and as a
scan, closed attachments repeat the open minutes, an indstilling is attached to several
meetings. Only one copy (the canonical chunk) is embedded and indexed; every copy keeps its
own metadata and points at the canonical one through `duplicate_of`.

How a pair is judged (thresholds measured on the sample corpus, see tests/test_dedupe.py):

* Text is normalised first: casefold, OCR folding (æ->ae, ø->oe, å->aa) and everything that
  is not a letter or digit removed, so line wrapping, hyphenation and OCR punctuation slips
  (";" for ",", "i.trivsel") do not matter.
* Only chunks with at least `MIN_CHARS` (200) normalised characters take part. Short chunks
  are mostly boilerplate ("Punkt 1: Dagsorden Godkendt.") that recurs in unrelated meetings
  and must never be merged.
* Candidates come from bucketing, not all pairs: each chunk is keyed by the smallest
  `SKETCH_SIZE` hashes of its word 3-grams (a bottom-k sketch). Near-duplicates share most of
  their 3-grams, hence most of their smallest hashes; unrelated chunks almost never share one.
  A pair is compared only when it shares at least `MIN_SHARED_KEYS` (2) sketch keys; buckets
  bigger than `MAX_BUCKET` are boilerplate and skipped. Before the exact comparison a
  candidate copy must have `MIN_KEYS_INSIDE` of its sketch keys among the word 3-grams of
  the canonical run (a copy has nearly all of them): 20k synthetic chunks recombined from
  the corpus's sentences (much shared text) 65 s -> 28 s, results identical. An adding
  build judges only its new chunks, with the sketches the index stored (`deduplicate`).
* The score is *containment*: the share of the copy's character 8-grams that occur in the
  canonical chunk, or in the canonical chunk plus its neighbours in its own document (a scan
  and its born-digital original are cut at slightly different places because OCR noise moves
  sentence ends, so a copy chunk often straddles two original chunks). A copy is hidden
  behind its canonical chunk, so all of the copy's content must be in the canonical text:
  a closed attachment that repeats the open minutes *and adds a closed item* is not covered
  and stays searchable on its own. Measured: scan vs. born-digital memo 0.992-1.000, the
  closed Bilag 3 copy vs. the open Bilag 1 minutes 1.000; the highest score between different
  chunks is 0.944 (the boilerplate end of two committee agendas of different dates: same
  "Ansvarlig/Tid/Bilag" lines, other times). `CONTAINMENT` = 0.97 sits between the two.

Canonical preference inside a group: open before closed (the public role can only see a
group through an open member), born-digital before OCR (better text), then first seen.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter, OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from kommunesoeg.core.models import Chunk

MIN_CHARS = 200
SKETCH_SIZE = 8
MAX_BUCKET = 200
MIN_SHARED_KEYS = 2
MIN_KEYS_INSIDE = 5  # of a copy's SKETCH_SIZE keys, found among the run's word 3-grams
CONTAINMENT = 0.97
GRAM = 8

_FOLD = (("æ", "ae"), ("ø", "oe"), ("å", "aa"), ("ä", "ae"), ("ö", "oe"), ("ü", "ue"))
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize(text: str) -> str:
    """casefold + OCR folding + only [a-z0-9] and single spaces between words."""
    text = unicodedata.normalize("NFKC", text).casefold()
    for src, dst in _FOLD:  # str.replace is ~10x faster than translate() with 2-char targets
        text = text.replace(src, dst)
    text = re.sub(r"(\w)-\s+(\w)", r"\1\2", text)  # hyphenation left over from wrapping
    return _NON_ALNUM.sub(" ", text).strip()


@dataclass(frozen=True)
class Deduplicated:
    """The chunks with `duplicate_of` set, and the sketch of every chunk long enough to take
    part (chunk id -> bottom-k keys): kept with the index so that the next adding build
    compares only its new chunks with the archive instead of sketching it all again."""

    chunks: list[Chunk]
    sketches: dict[str, tuple[int, ...]]


def mark_duplicates(chunks: list[Chunk]) -> list[Chunk]:
    """Return copies of `chunks` (same order) with `duplicate_of` set on near-duplicates."""
    return deduplicate(chunks).chunks


def deduplicate(
    chunks: list[Chunk],
    *,
    settled: Collection[int] = (),
    known_sketches: Mapping[str, Sequence[int]] | None = None,
    features: TextFeatures | None = None,
) -> Deduplicated:
    """Near-duplicates among `chunks` (see the module docstring).

    An adding build passes as `settled` the positions of the chunks an earlier build judged
    (their `duplicate_of` stands, and it must point at a chunk still in `chunks`) and as
    `known_sketches` the sketches it stored (None: compute them). Then only pairs with at
    least one new chunk are judged: a new chunk may become the copy of a settled one, and a
    settled canonical chunk the copy of a better new one (the born-digital original of a
    scan indexed before it), its own copies moving along. The work is in proportion to the
    new chunks and the few settled ones sharing sketch keys with them, not to the archive.
    `features` keeps what the comparison computes of a text across calls (a writer judging
    one document at a time compares the same stored chunks again and again).
    """
    duplicate_of, sketches = judge(ListedChunks(chunks), settled=settled,
                                   known_sketches=known_sketches, features=features)
    marked = [
        replace(c, duplicate_of=chunks[duplicate_of[i]].chunk_id if i in duplicate_of else None)
        for i, c in enumerate(chunks)
    ]
    return Deduplicated(marked, {chunks[i].chunk_id: keys for i, keys in sketches.items()})


class Lineup(Protocol):
    """Chunks in index order as `judge` reads them: every chunk's id and duplicate mark,
    a chunk itself only when it is compared. An archive's build hands in its settled
    chunks this way, so judging a new meeting reads the few chunks it is compared with,
    not the archive's text."""

    ids: Sequence[str]

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> Chunk: ...

    def duplicate_id(self, i: int) -> str | None:
        """The `duplicate_of` of chunk i, without reading the chunk."""
        ...


class ListedChunks:
    """A `Lineup` of chunks held in a list."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self._chunks = chunks
        self.ids = [c.chunk_id for c in chunks]

    def __len__(self) -> int:
        return len(self._chunks)

    def __getitem__(self, i: int) -> Chunk:
        return self._chunks[i]

    def duplicate_id(self, i: int) -> str | None:
        return self._chunks[i].duplicate_of


def judge(
    chunks: Lineup,
    *,
    settled: Collection[int] = (),
    known_sketches: Mapping[str, Sequence[int]] | None = None,
    features: TextFeatures | None = None,
) -> tuple[dict[int, int], dict[int, tuple[int, ...]]]:
    """`deduplicate` on a `Lineup`: the canonical position of every copy (copy position
    -> canonical position), and the sketch of every chunk that has one (by position)."""
    ids = chunks.ids
    index_of = {cid: i for i, cid in enumerate(ids)}
    # a settled copy whose canonical chunk is gone (its document changed) is judged anew
    settled_set = {i for i in settled
                   if chunks.duplicate_id(i) is None or chunks.duplicate_id(i) in index_of}
    fresh = [i for i in range(len(chunks)) if i not in settled_set]
    texts = _Texts(chunks, features)

    sketches: dict[int, tuple[int, ...]] = {}
    for i in range(len(chunks)):
        if i in settled_set and known_sketches is not None:
            keys = known_sketches.get(ids[i])
            if keys:
                sketches[i] = tuple(int(k) for k in keys)
        elif len(texts.flat(i)) >= MIN_CHARS:
            sketches[i] = _sketch(texts.words(i))
    buckets = _Buckets(sketches)

    duplicate_of: dict[int, int] = {}
    for i in settled_set:
        target = chunks.duplicate_id(i)
        if target is not None:
            duplicate_of[i] = index_of[target]

    ranks: dict[int, tuple[bool, bool, int]] = {}

    def rank(i: int) -> tuple[bool, bool, int]:
        found = ranks.get(i)
        if found is None:
            found = ranks[i] = _rank(chunks, i)
        return found

    new = set(fresh)
    if settled_set:  # only new chunks, and the settled canonical chunks they share keys with
        judged = set(new)
        for i in fresh:
            for key in sketches.get(i, ()):
                judged.update(int(k) for k in buckets.members(key)
                              if int(k) in settled_set and int(k) not in duplicate_of)
    else:
        judged = new
    for i in sorted(judged, key=rank):
        if i in duplicate_of or i not in sketches:
            continue
        # pairs of two settled chunks were judged by an earlier build: a settled chunk
        # counts only the new chunks it shares keys with
        shared: Counter[int] = Counter()
        for key in sketches[i]:
            members = map(int, buckets.members(key))
            shared.update(members if i in new else (k for k in members if k in new))
        candidates = {
            j
            for j, n in shared.items()
            if n >= MIN_SHARED_KEYS and j not in duplicate_of and rank(j) > rank(i)
        }
        if not candidates:
            continue
        run_members = [i]
        for k in (i - 1, i + 1):
            if 0 <= k < len(chunks) and chunks[k].document == chunks[i].document:
                candidates.discard(k)  # neighbours share the splitter's overlap, not content
                if chunks[k].closed == chunks[i].closed:
                    run_members.append(k)
        run_hashes = set().union(*(texts.hashes(k) for k in run_members))
        # A copy inside the run has (nearly) all its word 3-grams there, so (nearly) all its
        # sketch keys: candidates that merely share boilerplate fail this cheap test before
        # the exact n-gram containment is computed.
        candidates = {j for j in candidates
                      if sum(key in run_hashes for key in sketches[j]) >= MIN_KEYS_INSIDE}
        if not candidates:
            continue
        run = set().union(*(texts.grams(k) for k in run_members))
        for j in sorted(candidates, key=rank):
            if containment(texts.grams(j), run) >= CONTAINMENT:
                duplicate_of[j] = i
    # A settled canonical chunk that became the copy of a better new one (the born-digital
    # original of a scan indexed earlier) hands its own copies on to that one.
    for j, i in list(duplicate_of.items()):
        if i in duplicate_of:
            duplicate_of[j] = duplicate_of[i]
    # Point every newly judged copy at the canonical chunk it overlaps most (a run match may
    # have found it through a neighbour), so "also in" cites the matching passage.
    for j, i in list(duplicate_of.items()):
        if settled_set and j in settled_set and chunks.duplicate_id(j) == ids[i]:
            continue
        best, best_score = i, containment(texts.grams(j), texts.grams(i))
        for key in sketches[j]:
            for k in map(int, buckets.members(key)):
                if k == best or k in duplicate_of or rank(k) > rank(j):
                    continue
                if chunks[k].closed and not chunks[j].closed:
                    continue
                score = containment(texts.grams(j), texts.grams(k))
                if score > best_score:
                    best, best_score = k, score
        duplicate_of[j] = best
    return duplicate_of, sketches


class TextFeatures:
    """What the comparison computes of a text (normalised words, word 3-gram hashes,
    character n-grams), kept across `deduplicate` calls for the most recently used texts.

    Why: the PostgreSQL writer judges one document at a time against the stored chunks
    sharing sketch keys with it, and in an archive of recurring text the same stored chunks
    are compared with document after document; computing their features again each time
    was most of a document's load time. Keyed by the text itself, so a cached value can
    never belong to another text. Bounded: the n-grams of one chunk take ~100 KB."""

    def __init__(self, max_texts: int = 20_000, max_grams: int = 2_000) -> None:
        self._max_texts, self._max_grams = max_texts, max_grams
        self._words: OrderedDict[str, str] = OrderedDict()
        self._hashes: OrderedDict[str, set[int]] = OrderedDict()
        self._grams: OrderedDict[str, set[str]] = OrderedDict()

    @staticmethod
    def _get(store: OrderedDict, text: str, make, limit: int):
        found = store.get(text)
        if found is None:
            found = store[text] = make()
            if len(store) > limit:
                store.popitem(last=False)
        else:
            store.move_to_end(text)
        return found

    def words(self, text: str) -> str:
        return self._get(self._words, text, lambda: normalize(text), self._max_texts)

    def hashes(self, text: str) -> set[int]:
        return self._get(self._hashes, text, lambda: _word_gram_hashes(self.words(text)),
                         self._max_texts)

    def grams(self, text: str) -> set[str]:
        return self._get(self._grams, text, lambda: _grams(self.words(text).replace(" ", "")),
                         self._max_grams)


class _Texts:
    """Normalised text, its word 3-gram hashes and character n-grams, per chunk position,
    computed when first needed: an adding build reads only the chunks it compares."""

    def __init__(self, chunks: Sequence[Chunk] | Lineup,
                 features: TextFeatures | None = None) -> None:
        self._chunks = chunks
        self._features = features
        self._words: dict[int, str] = {}
        self._hashes: dict[int, set[int]] = {}
        self._grams: dict[int, set[str]] = {}

    def words(self, i: int) -> str:
        if i not in self._words:
            text = self._chunks[i].text
            self._words[i] = self._features.words(text) if self._features else normalize(text)
        return self._words[i]

    def flat(self, i: int) -> str:
        return self.words(i).replace(" ", "")

    def hashes(self, i: int) -> set[int]:
        if i not in self._hashes:
            self._hashes[i] = (self._features.hashes(self._chunks[i].text) if self._features
                               else _word_gram_hashes(self.words(i)))
        return self._hashes[i]

    def grams(self, i: int) -> set[str]:
        if i not in self._grams:
            self._grams[i] = (self._features.grams(self._chunks[i].text) if self._features
                              else _grams(self.flat(i)))
        return self._grams[i]


class _Buckets:
    """Sketch key -> the chunk positions whose sketch holds it, as two sorted numpy arrays
    (a dict of lists would cost ~100 bytes a key at a million chunks); a bucket bigger
    than MAX_BUCKET is boilerplate and comes back empty."""

    def __init__(self, sketches: Mapping[int, Sequence[int]]) -> None:
        owners = np.fromiter((i for i, keys in sketches.items() for _ in keys), dtype=np.int64)
        keys = np.fromiter((k for ks in sketches.values() for k in ks), dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._owners = owners[order]

    def members(self, key: int) -> np.ndarray:
        lo = int(np.searchsorted(self._keys, key, side="left"))
        hi = int(np.searchsorted(self._keys, key, side="right"))
        return self._owners[lo:hi] if hi - lo <= MAX_BUCKET else self._owners[:0]


def containment(copy: set[str], canonical: set[str]) -> float:
    """Share of the copy's n-grams found in the canonical text (1.0 = fully covered)."""
    return len(copy & canonical) / len(copy) if copy else 0.0


def is_duplicate(copy_text: str, canonical_text: str) -> bool:
    """Would a chunk with `copy_text` be marked a duplicate of one with `canonical_text`?"""
    a = normalize(copy_text).replace(" ", "")
    b = normalize(canonical_text).replace(" ", "")
    if len(a) < MIN_CHARS or len(b) < MIN_CHARS:
        return False
    return containment(_grams(a), _grams(b)) >= CONTAINMENT


def _grams(flat: str) -> set[str]:
    return {flat[k : k + GRAM] for k in range(max(len(flat) - GRAM + 1, 1))}


def _rank(chunks: Sequence[Chunk] | Lineup, i: int) -> tuple[bool, bool, int]:
    """Canonical preference: open, then born-digital, then first seen."""
    return (chunks[i].closed, chunks[i].ocr, i)


def _word_gram_hashes(normalised: str) -> set[int]:
    """crc32 of every word 3-gram (crc32: stable across processes, unlike hash())."""
    tokens = normalised.split()
    if len(tokens) < 3:
        grams = {" ".join(tokens)}
    else:
        grams = {" ".join(tokens[k : k + 3]) for k in range(len(tokens) - 2)}
    return {zlib.crc32(g.encode()) for g in grams}


def _sketch(normalised: str) -> tuple[int, ...]:
    """Bottom-k of the word-3-gram hashes."""
    return tuple(sorted(_word_gram_hashes(normalised))[:SKETCH_SIZE])
