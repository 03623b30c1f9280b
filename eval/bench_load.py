"""Load benchmark: concurrent clients against one loaded Searcher while a re-index runs.

A script that prints numbers, not a test:

    .venv/bin/python -m eval.bench_load                       # 8 clients, 2,000 queries
    .venv/bin/python -m eval.bench_load --clients 4 --queries 500 --sharing per-thread
    .venv/bin/python -m eval.bench_load --results eval/RESULTS.md   # also write the section

What it does, in order:

1. Copies the sample corpus to a scratch directory and indexes it there (or clones an
   index of the same corpus given with --reuse-index; the embedding cache makes the later
   re-index cheap either way).
2. Loads one Searcher (the old generation) and records, one query at a time, the reference
   top-10 of every distinct search query: later, a concurrent answer that differs from it
   is counted as an error, so thread-unsafe code shows up as wrong results, not just crashes.
3. Starts N client threads that share that Searcher (--sharing shared, the default; or one
   Searcher per thread, or one shared Searcher behind a lock) and work through a mixed
   queue of search / ask / precedents calls drawn from the dev questions and variations.
4. While they run, adds a new document to the scratch corpus (a copy of a sample PDF under
   a new name and date, so its chunks get new headers and must really be embedded) and
   runs `kommunesoeg index` on the same index directory in a subprocess. Readers keep
   answering from the generation they loaded; when `current` changes, a fresh Searcher
   is loaded and the remaining queries go to it (the app does the same on its next rerun).
5. Reports throughput, p50/p95/p99 latency per query type, errors (exceptions and
   results that differ from the single-threaded reference), how many queries ran while the
   re-index was in progress, and the machine (cores, RAM, load average before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = Path(__file__).parent / "dev-questions.jsonl"
NEW_DOC_SOURCE = "2023-03-23_MSB_raadmandsmoede.pdf"
NEW_DOC_NAME = "2023-04-20_MSB_raadmandsmoede.pdf"
SECTION = "## Load benchmark"
VERB_MIX = (("search", 0.6), ("ask", 0.25), ("precedents", 0.15))


# --------------------------------------------------------------------------- workload
def dev_questions() -> list[dict]:
    return [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def variations(question: str) -> list[str]:
    """The question as asked, plus the kinds of rewording real users type."""
    words = question.rstrip("?").split()
    out = [question, question.lower(), question.rstrip("?")]
    if len(words) > 4:
        out.append(" ".join(words[: max(3, len(words) // 2)]))  # first half: a keyword search
        out.append(" ".join(w for w in words if len(w) > 4))  # content words only
    return list(dict.fromkeys(q for q in out if q.strip()))


def workload(n: int, seed: int) -> list[tuple[str, str]]:
    """(verb, text) pairs: precedent calls get the precedent-style case descriptions."""
    rng = random.Random(seed)
    questions = dev_questions()
    queries = [v for q in questions for v in variations(q["question"])]
    cases = [q["question"] for q in questions if q["type"] == "precedent"] + [
        q["question"] for q in questions if q["type"] == "decision"
    ]
    verbs = [v for v, _ in VERB_MIX]
    weights = [w for _, w in VERB_MIX]
    jobs = []
    for _ in range(n):
        verb = rng.choices(verbs, weights)[0]
        jobs.append((verb, rng.choice(cases if verb == "precedents" else queries)))
    return jobs


# --------------------------------------------------------------------------- index setup
def prepare(work: Path, reuse_index: Path | None) -> tuple[Path, Path]:
    from indexer.build import build_index

    corpus = work / "corpus"
    index = work / "index"
    if work.exists():
        shutil.rmtree(work)
    corpus.mkdir(parents=True)
    for pdf in sorted((ROOT / "corpus").glob("*.pdf")):
        shutil.copyfile(pdf, corpus / pdf.name)
    if reuse_index:
        shutil.copytree(reuse_index, index, symlinks=True)
    t = time.perf_counter()
    report = build_index([corpus], index, progress=False)
    print(f"index ready in {time.perf_counter() - t:.1f} s "
          f"({report.documents_total} documents, {report.chunks} chunks)", flush=True)
    return corpus, index


def generation(index: Path) -> str:
    return (index / "current").resolve().name


# --------------------------------------------------------------------------- the clients
@dataclass
class Sample:
    verb: str
    seconds: float
    error: str | None
    during_reindex: bool
    generation: str


@dataclass
class Shared:
    """State the clients, the re-index watcher and the main thread share."""

    searcher: object
    generation: str
    reference: dict[str, list[str]]
    reference_generation: str
    reindex_running: threading.Event = field(default_factory=threading.Event)
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def call(searcher, verb: str, text: str) -> list[str]:
    """Run one query; returns the chunk ids it showed (for the consistency check)."""
    if verb == "search":
        return [h.chunk_id for h in searcher.search(text, k=10)]
    if verb == "ask":
        answer = searcher.ask(text)
        return [h.chunk_id for h in answer.citations]
    return [p.citation.chunk_id for p in searcher.precedents(text, k=5)]


def client(shared: Shared, jobs: queue.Queue, sharing: str, search_lock: threading.Lock | None,
           own_searchers: dict, index: Path) -> None:
    from retriever.search import Searcher

    while True:
        try:
            verb, text = jobs.get_nowait()
        except queue.Empty:
            return
        searcher, gen = shared.searcher, shared.generation
        if sharing == "per-thread":
            mine = own_searchers.get(threading.get_ident())
            if mine is None or mine[1] != gen:
                mine = (Searcher(index), gen)
                own_searchers[threading.get_ident()] = mine
            searcher = mine[0]
        during = shared.reindex_running.is_set()
        error = None
        start = time.perf_counter()
        try:
            with search_lock or nullcontext():
                ids = call(searcher, verb, text)
            if verb == "search" and gen == shared.reference_generation:
                expected = shared.reference.get(text)
                if expected is not None and ids != expected:
                    error = "result differs from the single-threaded reference"
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        with shared.lock:
            shared.samples.append(Sample(verb, seconds, error, during, gen))


def reindex(corpus: Path, index: Path, shared: Shared, log: Path) -> dict:
    """Add a new document and re-index it in a subprocess while the clients run."""
    shutil.copyfile(corpus / NEW_DOC_SOURCE, corpus / NEW_DOC_NAME)
    cmd = [str(Path(sys.executable).parent / "kommunesoeg"), "index", str(corpus),
           "--index", str(index), "--no-progress"]
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    shared.reindex_running.set()
    t = time.perf_counter()
    with log.open("w") as fh:
        rc = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    seconds = time.perf_counter() - t
    shared.reindex_running.clear()
    return {"returncode": rc, "seconds": seconds, "command": " ".join(cmd),
            "output": log.read_text(encoding="utf-8").strip().splitlines()[-1:]}


def watch_and_reload(index: Path, shared: Shared, done: threading.Event, info: dict) -> None:
    """When `current` moves, load the new generation and hand it to the clients."""
    from retriever.search import Searcher

    while not done.is_set():
        gen = generation(index)
        if gen != shared.generation:
            t = time.perf_counter()
            fresh = Searcher(index)
            info["reload_seconds"] = time.perf_counter() - t
            info["new_generation_has_document"] = NEW_DOC_NAME in fresh.documents
            shared.searcher, shared.generation = fresh, gen
            info["reloaded_at"] = time.time()
        done.wait(0.5)


# --------------------------------------------------------------------------- reporting
def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def machine() -> dict:
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "?")
    return {"cores": os.cpu_count(), "ram_gib": round(mem_kb / 1024**2, 1), "cpu": model,
            "python": sys.version.split()[0]}


def summary(samples: list[Sample], wall: float) -> list[dict]:
    rows = []
    for verb in [v for v, _ in VERB_MIX] + ["all"]:
        mine = [s for s in samples if verb in ("all", s.verb)]
        ok = [s.seconds * 1000 for s in mine if not s.error]
        rows.append({
            "type": verb, "n": len(mine), "errors": sum(1 for s in mine if s.error),
            "during_reindex": sum(1 for s in mine if s.during_reindex),
            "p50_ms": pct(ok, 50), "p95_ms": pct(ok, 95), "p99_ms": pct(ok, 99),
            "mean_ms": statistics.fmean(ok) if ok else float("nan"),
            "qps": len(mine) / wall if wall else float("nan"),
        })
    return rows


def markdown(result: dict) -> str:
    m, r = result["machine"], result["reindex"]
    lines = [
        SECTION,
        "",
        f"Command: `{result['command']}`",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}. "
        f"Load average before/after: {result['load_before']} / {result['load_after']}"
        + (" — **other processes were running; re-run on an idle machine**"
           if result["load_before"][0] > 0.5 * m["cores"] else "") + ".",
        "",
        (f"{result['clients']} client threads, {result['queries']} queries "
        f"({', '.join(f'{v} {int(w * 100)} %' for v, w in VERB_MIX)}), "
        f"Searcher sharing: **{result['sharing']}**. Wall time {result['wall_s']:.1f} s, "
        f"throughput **{result['rows'][-1]['qps']:.2f} queries/s**."),
        "",
        "| type | n | errors | during re-index | p50 ms | p95 ms | p99 ms | mean ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['type']} | {row['n']} | {row['errors']} | {row['during_reindex']} | "
            f"{row['p50_ms']:.0f} | {row['p95_ms']:.0f} | {row['p99_ms']:.0f} | "
            f"{row['mean_ms']:.0f} |"
        )
    reload = result["reload"]
    if "reload_seconds" in reload:
        swap = (f"When `current` moved, a new Searcher was loaded in "
                f"{reload['reload_seconds']:.1f} s (contains the new document: "
                f"{reload['new_generation_has_document']}) and took over")
    else:
        swap = "The re-index outlasted the load, so no client switched generation"
    lines += [
        "",
        (f"Re-index during the load (new document `{NEW_DOC_NAME}`): exit code "
        f"{r['returncode']}, {r['seconds']:.1f} s, `{' '.join(r['output'])}`. "
        f"{swap}; queries answered from the old / new generation: "
        f"{result['by_generation']}."),
        "",
        ("Errors count exceptions and search results that differ from the single-threaded "
        "reference top-10 on the same generation "
        f"({result['checked']} concurrent searches were compared with it)."),
    ]
    if result["error_examples"]:
        lines += ["", "Error examples: " + "; ".join(result["error_examples"])]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str, section: str = SECTION) -> None:
    """Replace (or append) only the section headed `section` (this script's by default);
    other sections belong to others (eval/bench_http.py writes its own through this)."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Results\n"
    start = old.find(section + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(section))
        new = old[:start] + text + (old[end + 1:] if end >= 0 else "")
    path.write_text(new, encoding="utf-8")


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--sharing", choices=["shared", "per-thread", "locked"], default="shared",
                        help="one Searcher for all threads, one per thread, or shared + lock")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kommunesoeg-bench-load"))
    parser.add_argument("--reuse-index", type=Path, default=None,
                        help="clone this index of corpus/ instead of building from scratch")
    parser.add_argument("--results", type=Path, default=None,
                        help="write the '## Load benchmark' section of this Markdown file")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")

    from retriever.search import Searcher

    load_before = [round(x, 2) for x in os.getloadavg()]
    corpus, index = prepare(args.work, args.reuse_index)
    jobs_list = workload(args.queries, args.seed)

    searcher = Searcher(index)
    old_gen = generation(index)
    reference = {}
    for text in sorted({t for v, t in jobs_list if v == "search"}):
        reference[text] = [h.chunk_id for h in searcher.search(text, k=10)]
    # warm the per-index caches (answer term weights, decision vectors) once, untimed
    call(searcher, "ask", jobs_list[0][1])
    call(searcher, "precedents", dev_questions()[11]["question"])
    shared = Shared(searcher, old_gen, reference, old_gen)

    jobs: queue.Queue = queue.Queue()
    for job in jobs_list:
        jobs.put(job)
    search_lock = threading.Lock() if args.sharing == "locked" else None
    own: dict = {}
    done = threading.Event()
    reload_info: dict = {}
    watcher = threading.Thread(target=watch_and_reload, args=(index, shared, done, reload_info))
    threads = [threading.Thread(target=client, args=(shared, jobs, args.sharing, search_lock,
                                                     own, index))
               for _ in range(args.clients)]
    reindex_result: dict = {}
    reindexer = threading.Thread(
        target=lambda: reindex_result.update(reindex(corpus, index, shared,
                                                     args.work / "reindex.log")))
    print(f"{args.clients} clients, {args.queries} queries, sharing={args.sharing}; "
          f"re-index of {NEW_DOC_NAME} starts with the load", flush=True)
    start = time.perf_counter()
    watcher.start()
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let the clients get going before the writer starts
    reindexer.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    reindexer.join()
    done.set()
    watcher.join()

    samples = shared.samples
    by_gen = {"old": sum(1 for s in samples if s.generation == old_gen)}
    by_gen["new"] = len(samples) - by_gen["old"]
    result = {
        "command": "OMP_THREAD_LIMIT=1 .venv/bin/python -m eval.bench_load "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "clients": args.clients,
        "queries": args.queries,
        "sharing": args.sharing,
        "wall_s": wall,
        "rows": summary(samples, wall),
        "reindex": reindex_result,
        "reload": reload_info,
        "by_generation": by_gen,
        "error_examples": sorted({s.error for s in samples if s.error})[:5],
        "checked": sum(1 for s in samples if s.verb == "search" and s.generation == old_gen),
    }
    text = markdown(result)
    print(text)
    if args.results:
        write_section(args.results, text)
        print(f"wrote {SECTION!r} in {args.results}")
    return result


if __name__ == "__main__":
    main()
