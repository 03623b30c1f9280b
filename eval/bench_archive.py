"""Whole-archive benchmark (issue 12, deliverable 1): the product at N chunks, end to end.

    .venv/bin/python -m eval.bench_archive --chunks 20000 --json archive.json
    .venv/bin/python -m eval.bench_archive --chunks 100000 --workdir /tmp/arkiv

Why this shape: `eval/bench_search.py` measured FAISS alone; this script measures what a user
of a ten-year archive would meet, so everything goes through the product's own code paths:

1. The real sample index (`--sample-index`, its generation and embedding cache) is copied
   into the work directory, so the real chunks keep their real vectors and the dev questions
   can still be asked.
2. Synthetic meeting minutes are written as .txt files (form feed = page break) shaped like
   the real thing: ten years, ~20 committees, agenda items with Indstilling / Beslutning /
   Bilag, ~5 % closed items, case numbers, a few attachments repeated verbatim (duplicates).
   Every text recombines sentences of several different real chunks, so no synthetic item is
   a near-duplicate of a real one.
3. Their vectors are never computed by the model: each file is parsed with the product's
   parser (`indexer.build.parse_file`), and each window's embedding text gets a vector made
   from the real window vectors of the item's topic chunk (convex mix + noise, as
   `eval/bench_search.py` does) which is put in the index's embedding cache.
4. `indexer.build.build_index` (what `kommunesoeg index` runs) then adds the files: it parses,
   dedupes, finds every vector in the cache and writes a generation (SQLite, both FAISS
   files, BM25) through `indexer.store`.
5. A fresh process opens the archive with `retriever.search.Searcher` and times the public
   verbs over the dev questions (open time and peak RSS are that process's own).
6. One new 50-page meeting goes through the same incremental path (its vectors pre-cached,
   so the time measured is exactly the wall time beyond its own embedding), then a re-index
   of unchanged inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from eval.bench_search import (
    DEV,
    machine,
    normalise_rows,
    peak_rss_gb,
    percentiles,
    real_vectors,
    say,
)
from indexer.settings import FAISS_KINDS

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
COMMITTEES = (
    "MBU", "MSB", "SBU", "MKB", "MTM", "BYR", "OKU", "TEK", "KUL", "SUN",
    "ERH", "KLI", "BOL", "IDR", "HAV", "DIG", "PLA", "FOR", "BES", "VEL",
)
CLOSED_SHARE = 0.05
DUPLICATE_BILAG_SHARE = 0.03
SIGMA = 0.02
YEARS = 10
FIRST_YEAR = 2014
CHUNKS_PER_ITEM_GUESS = 3.5  # only to size the first guess; the parser's count is what counts


# Sentences that the structure parser would read as a heading or a closed marker would move
# synthetic text to another item, so they are not reused.
_HEADING_LIKE = re.compile(r"Punkt\s*\d|Bilag\s*\d|[Ll]ukket|Referat|Indstilling|Beslutning|^\s*\d{1,2}\.")


# --------------------------------------------------------------------------- the sample
@dataclass
class Sample:
    """What synthetic items are made of: real sentences and titles grouped by real chunk,
    and the real window vectors of each chunk (the "topic" a synthetic item borrows)."""

    sentences: list[list[str]]  # per real chunk with windows
    titles: list[str]
    window_rows: list[list[int]]  # per real chunk: its rows in `vectors`
    vectors: np.ndarray


def load_sample(index_dir: Path) -> Sample:
    """Sentences and window vectors of an existing index of corpus/ (read through the
    product's own reader, so the benchmark sees what the product stored)."""
    from indexer.store import IndexReader
    from kommunesoeg.core.sentences import split_sentences

    reader = IndexReader.open(index_dir)
    rows: dict[str, list[int]] = {}
    for row, cid in enumerate(reader.window_chunk_ids):
        rows.setdefault(cid, []).append(row)
    sentences, window_rows = [], []
    for chunk in reader.chunks:
        found = [s.strip() for s in split_sentences(chunk.text)
                 if 40 <= len(s.strip()) <= 400 and not _HEADING_LIKE.search(s)]
        if chunk.chunk_id in rows and len(found) >= 2:
            sentences.append(found)
            window_rows.append(rows[chunk.chunk_id])
    titles = sorted({c.punkt_title for c in reader.chunks if c.punkt_title and len(c.punkt_title) > 8})
    return Sample(sentences, titles, window_rows, real_vectors(index_dir))


# --------------------------------------------------------------------------- synthetic text
@dataclass
class Item:
    """One synthetic agenda item: its topic (a real chunk index) decides its vectors."""

    punkt: int
    title: str
    topic: int
    closed: bool
    case_number: str
    indstilling: list[str]
    beslutning: list[str]
    bilag: list[str] = field(default_factory=list)


class Writer:
    """Makes meeting documents from recombined real sentences; remembers each item's topic
    so its vectors can follow its text."""

    def __init__(self, sample: Sample, rng: random.Random) -> None:
        self.sample = sample
        self.rng = rng
        self.serial = 0
        self.bilag_pool: list[list[str]] = []
        self.topics: dict[tuple[str, int], int] = {}  # (file, punkt) -> real chunk index

    def _mixed(self, topic: int, n: int) -> list[str]:
        """n sentences: about half from the topic chunk, the rest from other chunks, plus a
        unique number so that no sentence set repeats a real chunk."""
        out = []
        for i in range(n):
            source = topic if i % 2 == 0 else self.rng.randrange(len(self.sample.sentences))
            out.append(self.rng.choice(self.sample.sentences[source]))
        self.serial += 1
        out.append(f"Sagen har løbenummer {self.serial} og en ramme på {self.rng.randint(1, 900)},{self.rng.randint(0, 9)} mio. kr.")
        return out

    def item(self, punkt: int, year: int, many_pages: bool = False) -> Item:
        topic = self.rng.randrange(len(self.sample.sentences))
        title = f"{self.rng.choice(self.sample.titles)} ({self.rng.choice(('status', 'opfølgning', 'godkendelse', 'orientering'))} {self.serial + 1})"
        bilag: list[str] = []
        if many_pages or self.rng.random() < 0.4:
            if self.bilag_pool and self.rng.random() < DUPLICATE_BILAG_SHARE / 0.4:
                bilag = self.rng.choice(self.bilag_pool)  # the same attachment on two agendas
            else:
                bilag = self._mixed(topic, self.rng.randint(6, 30 if many_pages else 16))
                self.bilag_pool.append(bilag)
        return Item(
            punkt=punkt, title=title, topic=topic, closed=self.rng.random() < CLOSED_SHARE,
            case_number=f"EMN-{year}-{self.rng.randint(1, 999999):06d}",
            indstilling=self._mixed(topic, self.rng.randint(2, 6)),
            beslutning=self._mixed(topic, self.rng.randint(1, 3)),
            bilag=bilag,
        )

    def meeting(self, name: str, committee: str, day: date, n_items: int, many_pages: bool = False) -> str:
        """The text of one meeting packet, as the real ones are laid out: the minutes
        (Referat, a Beslutning per item), then per item its Indstilling and its Bilag as
        attachments whose pages carry the footer label `Punkt N, Bilag M: title`."""
        items = [self.item(p, day.year, many_pages) for p in range(1, n_items + 1)]
        for it in items:
            self.topics[(name, it.punkt)] = it.topic
        head = f"Referat\n{committee} - Udvalgsmøde\nDato: {day:%d.%m.%Y}\nSted: Rådhuset\n\n"
        minutes = [self._decision_text(it) for it in items]
        pages = ["\n".join(minutes[i : i + 3]) for i in range(0, len(minutes), 3)]
        pages[0] = head + pages[0]
        for it in items:
            pages.append(self._indstilling_page(it))
            pages += self._bilag_pages(it)
        return "\f".join(pages) + "\n"

    @staticmethod
    def _closed(it: Item) -> str:
        return " (Lukket)" if it.closed else ""

    def _decision_text(self, it: Item) -> str:
        return f"Punkt {it.punkt}{self._closed(it)}: {it.title}\nBeslutning:\n{' '.join(it.beslutning)}\n"

    def _indstilling_page(self, it: Item) -> str:
        return (
            f"Indstilling\nIndstilling om {it.title}\n\nDet indstilles:\n{' '.join(it.indstilling)}\n"
            f"Sagsnummer: {it.case_number}\n\n"
            f"Punkt {it.punkt}, Bilag 1{self._closed(it)}: Indstilling om {it.title}.pdf"
        )

    def _bilag_pages(self, it: Item) -> list[str]:
        label = f"Punkt {it.punkt}, Bilag 2{self._closed(it)}: Notat om {it.title}.pdf"
        return [" ".join(it.bilag[i : i + 6]) + "\n\n" + label for i in range(0, len(it.bilag), 6)]


def meeting_plan(rng: random.Random) -> Iterator[tuple[str, date]]:
    """Endless (committee, date) pairs spread over ten years of meetings."""
    start = date(FIRST_YEAR, 1, 1)
    while True:
        yield rng.choice(COMMITTEES), start + timedelta(days=rng.randrange(365 * YEARS))


# --------------------------------------------------------------------------- vectors
class VectorMaker:
    """Window vectors for parsed synthetic chunks: a convex mix of a real window of the
    item's topic and a random real window, plus noise (the recipe of bench_search.synth,
    but topic-following so a query about a topic finds that topic's synthetic items)."""

    def __init__(self, sample: Sample, seed: int) -> None:
        self.sample = sample
        self.rng = np.random.default_rng(seed)

    def make(self, topics: list[int]) -> np.ndarray:
        base = self.sample.vectors
        first = np.array([self.rng.choice(self.sample.window_rows[t]) for t in topics], dtype=np.int64)
        other = self.rng.integers(0, len(base), len(topics))
        w = self.rng.uniform(0.5, 1.0, (len(topics), 1)).astype(np.float32)
        x = w * base[first] + (1 - w) * base[other]
        x += self.rng.normal(0, SIGMA, x.shape).astype(np.float32)
        return normalise_rows(x.astype(np.float32))


def cache_vectors(files: list[Path], writer: Writer, maker: VectorMaker, index_dir: Path, model_id: str) -> int:
    """Parse each file with the product's parser and put a synthetic vector for every text
    the build would embed into the index's embedding cache; returns the chunk count."""
    from indexer.build import parse_file
    from indexer.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
    from indexer.store import EMBCACHE, EmbeddingCache, embedding_text, text_key
    from kommunesoeg.core.models import decision_text

    cache = EmbeddingCache(index_dir / EMBCACHE)
    n_chunks = 0
    try:
        for path in files:
            parsed = parse_file(path, "-", "structured", DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_OVERLAP)
            keys, topics = [], []
            for chunk in parsed.chunks:
                topic = writer.topics.get((path.name, chunk.punkt), 0)
                for text in chunk.windows or [chunk.text]:
                    keys.append(text_key(embedding_text(chunk.header, text)))
                    topics.append(topic)
            for decision in parsed.decisions:  # the build embeds these too
                keys.append(text_key(decision_text(decision)))
                topics.append(writer.topics.get((path.name, decision.punkt), 0))
            n_chunks += len(parsed.chunks)
            if keys:
                cache.put_many(model_id, keys, maker.make(topics))
    finally:
        cache.close()
    return n_chunks


def write_archive(target_chunks: int, writer: Writer, docs: Path, rng: random.Random,
                  cache_fn: Callable[[list[Path]], int]) -> tuple[int, int]:
    """Meeting files until the parser's chunk count reaches the target; (files, chunks)."""
    plan = meeting_plan(rng)
    files, chunks, batch = 0, 0, []
    while chunks < target_chunks:
        committee, day = next(plan)
        name = f"{day:%Y-%m-%d}_{committee}_udvalgsmoede_{files:06d}.txt"
        path = docs / name
        path.write_text(writer.meeting(name, committee, day, rng.randint(6, 14)), encoding="utf-8")
        files += 1
        batch.append(path)
        if len(batch) >= 50 or chunks + len(batch) * 14 * CHUNKS_PER_ITEM_GUESS >= target_chunks:
            chunks += cache_fn(batch)
            batch = []
    return files, chunks


# --------------------------------------------------------------------------- helpers
def own_peak_rss_gib() -> float:
    """This process's own peak RSS (VmHWM). ru_maxrss is inherited across fork+exec, so in
    the measuring child it would report the builder's peak instead."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return peak_rss_gb()


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def current_gen(index_dir: Path) -> Path:
    return index_dir / os.readlink(index_dir / "current")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --------------------------------------------------------------------------- measure (child)
def one_faiss_thread() -> None:
    """Per-query latency with one FAISS thread (as bench_search measures it). Also a
    necessity: with OMP_THREAD_LIMIT=1 FAISS still believes it has every core, and a flat
    search over ~57,000 windows then spins forever (seen at --chunks 20000)."""
    import faiss

    faiss.omp_set_num_threads(1)


def measure(index_dir: Path, workdir: Path) -> dict:
    """Open the archive in THIS (fresh) process and time the public verbs."""
    from eval.questions import load_questions
    from kommunesoeg.core.results import Filters
    from retriever.access import may_see_chunk
    from retriever.search import Searcher

    one_faiss_thread()
    questions = [q.question for q in load_questions(DEV)]
    start = time.perf_counter()
    searcher = Searcher(index_dir, audit_log=workdir / "audit" / "audit.jsonl")
    out: dict = {"open_s": round(time.perf_counter() - start, 3)}
    searcher.search(questions[0])  # warm-up: model session, caches
    committee = next(c for c in COMMITTEES if c in searcher.committees)  # one with synthetic items
    filters = Filters(date_from=date(2018, 1, 1), date_to=date(2021, 12, 31), committees=[committee])
    # the cases: every 200th of the first 2,000 public chunks, fetched by id (reading every
    # chunk's text would add the whole archive's text to the peak RSS measured here)
    public = [f.chunk_id for f in searcher.store.chunk_facts() if may_see_chunk(f, "public")]
    case_texts = [searcher.store.chunk(cid).text for cid in public[:2000:200]]

    runs: dict[str, Callable[[str], object]] = {
        "search": lambda q: searcher.search(q, k=10),
        "search_internal": lambda q: searcher.search(q, k=10, role="internal", user="bench"),
        "search_filtered": lambda q: searcher.search(q, k=10, filters=filters),
        "search_filtered_internal": lambda q: searcher.search(
            q, k=10, filters=filters, role="internal", user="bench"),
        "ask": lambda q: searcher.ask(q, k=5),
        "timeline": lambda q: searcher.timeline(q),
    }
    for name, fn in runs.items():
        say(f"  måler {name} ...")
        p50, p95 = percentiles([timed(lambda q=q, fn=fn: fn(q)) for q in questions])
        out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = round(p50, 1), round(p95, 1)
    p50, p95 = percentiles([timed(lambda t=t: searcher.precedents(t, k=10)) for t in case_texts])
    out["precedents_p50_ms"], out["precedents_p95_ms"] = round(p50, 1), round(p95, 1)
    out["queries"] = len(questions)
    out["precedent_cases"] = len(case_texts)
    out["filter"] = f"committee {committee}, 2018-01-01..2021-12-31"
    out["rss_gib"] = round(own_peak_rss_gib(), 3)
    # a later open of the same generation (a restart, another worker) skips meta.sqlite's
    # page walk, which the first open did and recorded (indexer.store.check_meta_file);
    # measured after the peak RSS, which a second copy in memory would distort
    runs.clear()
    searcher = None  # the first copy goes before the second opens
    start = time.perf_counter()
    Searcher(index_dir, audit_log=workdir / "audit" / "audit.jsonl")
    out["reopen_s"] = round(time.perf_counter() - start, 3)
    return out


def measure_in_child(index_dir: Path, workdir: Path) -> dict:
    """A fresh interpreter, so open time and peak RSS are the reader's, not the builder's."""
    result = workdir / "measure.json"
    subprocess.run(
        [sys.executable, "-m", "eval.bench_archive", "--measure-only", str(index_dir),
         "--workdir", str(workdir)],
        check=True,
    )
    return json.loads(result.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- main steps
def build_archive(args: argparse.Namespace, workdir: Path, embedder) -> dict:
    """Steps 1-4: copy the sample index, write and pre-cache synthetic files, build_index."""
    from indexer.build import build_index

    index_dir, docs = workdir / "index", workdir / "docs"
    if args.sample_index is None:  # index the bundled corpus first (the model, ~1-2 min)
        args.sample_index = workdir / "sample-index"
        build_index([CORPUS], args.sample_index, embedder=embedder, progress=False)
    shutil.copytree(args.sample_index, index_dir, symlinks=True,
                    ignore=shutil.ignore_patterns("lock", "audit.jsonl"))
    docs.mkdir()
    sample = load_sample(args.sample_index)
    rng = random.Random(args.seed)
    writer, maker = Writer(sample, rng), VectorMaker(sample, args.seed)
    real_chunks = json.loads((current_gen(index_dir) / "manifest.json").read_text(encoding="utf-8"))["counts"]["chunks"]
    start = time.perf_counter()
    files, _ = write_archive(
        args.chunks - real_chunks, writer, docs, rng,
        lambda batch: cache_vectors(batch, writer, maker, index_dir, embedder.model_id),
    )
    synth_s = time.perf_counter() - start
    say(f"Skrev {files} syntetiske møder og deres vektorer i {synth_s:.1f} s; bygger ...")
    start = time.perf_counter()
    report = build_index([docs], index_dir, embedder=embedder, progress=False, faiss_kind=args.faiss)
    build_s = time.perf_counter() - start
    return {
        "chunks": report.chunks, "documents": report.documents_total, "duplicates": report.duplicates,
        "synthetic_files": files, "real_chunks": real_chunks,
        "generate_s": round(synth_s, 1), "build_s": round(build_s, 1),
        "build_embedded_texts": report.embedded_texts,
        "index_bytes": dir_bytes(current_gen(index_dir)),
        "embcache_bytes": (index_dir / "embcache.sqlite").stat().st_size,
        "build_rss_gib": round(peak_rss_gb(), 3), "writer": writer, "maker": maker, "rng": rng,
    }


def add_meeting(workdir: Path, built: dict, embedder, faiss_kind: str) -> dict:
    """Step 6a: one new ~50-page meeting through the normal incremental path. Its vectors
    are pre-cached, so the build embeds nothing and its wall time is all "beyond its own
    embedding"; bytes written = the new generation + the cache growth."""
    from indexer.build import build_index

    index_dir, new = workdir / "index", workdir / "new"
    new.mkdir()
    writer: Writer = built["writer"]
    name = "2024-06-20_BYR_byraadsmoede_ny.txt"
    path = new / name
    path.write_text(writer.meeting(name, "BYR", date(2024, 6, 20), 10, many_pages=True), encoding="utf-8")
    pages = path.read_text(encoding="utf-8").count("\f") + 1
    cache_vectors([path], writer, built["maker"], index_dir, embedder.model_id)
    cache_before = (index_dir / "embcache.sqlite").stat().st_size
    start = time.perf_counter()
    report = build_index([path], index_dir, embedder=embedder, progress=False, faiss_kind=faiss_kind)
    seconds = time.perf_counter() - start
    written = dir_bytes(current_gen(index_dir)) + (index_dir / "embcache.sqlite").stat().st_size - cache_before
    out = {"add_meeting_pages": pages, "add_meeting_embedded_texts": report.embedded_texts,
           "add_meeting_bytes_written": written}
    if report.embedded_texts:
        out.update(add_meeting_s=None, add_meeting_s_reason="the build embedded texts; time not separable")
    else:
        out["add_meeting_s"] = round(seconds, 2)
    return out


def noop_reindex(workdir: Path, embedder, faiss_kind: str) -> dict:
    """Step 6b: every input again, nothing changed: must not write a generation."""
    from indexer.build import build_index

    start = time.perf_counter()
    report = build_index([workdir / "docs", workdir / "new"], workdir / "index", embedder=embedder,
                         progress=False, faiss_kind=faiss_kind)
    out = {"noop_reindex_s": round(time.perf_counter() - start, 2)}
    if report.changed:
        out.update(noop_reindex_s=None, noop_reindex_s_reason="the re-index wrote a new generation")
    return out


def print_table(r: dict) -> None:
    rows = [
        ("chunks (heraf rigtige)", f"{r['chunks']} ({r['real_chunks']})"),
        ("dokumenter / dubletter", f"{r['documents']} / {r['duplicates']}"),
        ("generering af tekster+vektorer s", r["generate_s"]),
        ("build_index s", r["build_s"]),
        ("indeks på disk MiB (generation / embcache)",
         f"{r['index_bytes'] / 2**20:.1f} / {r['embcache_bytes'] / 2**20:.1f}"),
        ("åbning s (første / senere)", f"{r['open_s']} / {r.get('reopen_s')}"),
        ("peak RSS GiB (søgeproces / byggeproces)", f"{r['rss_gib']} / {r['build_rss_gib']}"),
    ]
    for verb in ("search", "search_internal", "search_filtered", "search_filtered_internal",
                 "ask", "precedents", "timeline"):
        rows.append((f"{verb} p50 / p95 ms", f"{r[f'{verb}_p50_ms']} / {r[f'{verb}_p95_ms']}"))
    rows += [
        (f"tilføj møde ({r['add_meeting_pages']} sider) s",
         r["add_meeting_s"] if r["add_meeting_s"] is not None else f"ikke målt: {r.get('add_meeting_s_reason')}"),
        ("tilføj møde: bytes skrevet MiB", f"{r['add_meeting_bytes_written'] / 2**20:.1f}"),
        ("genindeksering uden ændringer s",
         r["noop_reindex_s"] if r["noop_reindex_s"] is not None else f"ikke målt: {r.get('noop_reindex_s_reason')}"),
    ]
    say("| måling | værdi |")
    say("| --- | ---: |")
    for label, value in rows:
        say(f"| {label} | {value} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp dir, removed after")
    parser.add_argument("--sample-index", type=Path, default=None,
                        help="an index of corpus/ (its generation and embedding cache are "
                        "copied); default: corpus/ is indexed into the work directory first")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--faiss", choices=FAISS_KINDS, default="flat",
                        help="the vector index kind every build of the run writes (ivf-sq8: "
                        "8-bit codes, a quarter of the vectors' memory)")
    parser.add_argument("--measure-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_only is not None:  # the child process of measure_in_child
        result = measure(args.measure_only, args.workdir)
        (args.workdir / "measure.json").write_text(json.dumps(result), encoding="utf-8")
        return
    keep = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-archive-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run(args, workdir)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> None:
    from indexer.embed import get_embedder

    say(f"Maskine: {machine()}; belastning {os.getloadavg()[0]:.2f}")
    one_faiss_thread()
    embedder = get_embedder(None)
    started = time.perf_counter()
    built = build_archive(args, workdir, embedder)
    result = {k: v for k, v in built.items() if k not in ("writer", "maker", "rng")}
    result["faiss"] = args.faiss
    result.update(measure_in_child(workdir / "index", workdir))
    result.update(add_meeting(workdir, built, embedder, args.faiss))
    result.update(noop_reindex(workdir, embedder, args.faiss))
    result["total_s"] = round(time.perf_counter() - started, 1)
    result["machine"] = machine()
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print_table(result)
    if args.json is not None:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        say(f"Skrev {args.json}")


if __name__ == "__main__":
    main()
