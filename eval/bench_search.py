"""Search latency benchmark: the sample index as loaded by the Searcher (search and ask),
and a synthetic archive of up to 1,000,000 chunks comparing exact FAISS search with HNSW
and IVF.

A script that prints numbers, not a test:

    .venv/bin/python -m eval.bench_search                 # sample + ask + 1M synthetic
    .venv/bin/python -m eval.bench_search --n 100000      # quicker
    .venv/bin/python -m eval.bench_search --skip-synthetic --json bench.json
    .venv/bin/python -m eval.bench_search --skip-sample --skip-synthetic --ask-limit 5

Ask latency: `Searcher.ask` (k=5, role public) over the dev and extra questions, one at a
time with the index loaded, after one warm-up question; the target is p50 <= 300 ms and
p95 <= 1 s. `--json PATH` also writes the numbers (UTF-8, `ask_p50_ms`, `ask_p95_ms`, ...).

Synthetic vectors: uniform random vectors are a worst case for approximate search (no
structure to exploit) and unlike real embeddings, so the archive is made from the real
window vectors of the sample index instead: each synthetic vector is a random convex mix
of two real window vectors (weight 0.5-1 on the first) plus Gaussian noise, L2-normalised.
That gives a clustered, topic-shaped cloud like a many-year archive of similar meetings.
Queries are the dev questions' embeddings plus noisy real windows (a different draw).
Per-query latency is measured one query at a time with one FAISS thread (the other core
stays free for a concurrent user); builds use all cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEV = Path(__file__).parent / "dev-questions.jsonl"
EXTRA = Path(__file__).parent / "questions-extra.jsonl"
ASK_TARGET_MS = (300.0, 1000.0)  # p50, p95 (issue 11, deliverable 8)


# --- helpers --------------------------------------------------------------------------


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def machine() -> str:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    import faiss

    return (
        f"{os.cpu_count()} CPU-kerner, {mem_kb / 1024**2:.1f} GiB RAM, "
        f"faiss {faiss.__version__}, numpy {np.__version__}, Python {sys.version.split()[0]}"
    )


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return q[49], q[94]


def say(line: str = "") -> None:
    print(line, flush=True)


# --- part 1: the sample index through the real Searcher --------------------------------


def load_searcher(index_dir: Path, corpus_dir: Path, mode: str):
    from eval.harness import ensure_main_index
    from retriever.search import Searcher

    ensure_main_index(index_dir, corpus_dir, lambda m: say(m))
    return Searcher(index_dir, mode=mode)


def bench_sample(index_dir: Path, corpus_dir: Path, repeat: int) -> dict[str, dict]:
    """Search latency per mode; returns {mode: {"p50_ms", "p95_ms", "queries", "chunks"}}."""
    from eval.questions import load_questions

    questions = [q.question for q in load_questions(DEV)]
    say("## Søgelatens, eksempelkorpus (Searcher.search, k=10, rolle public)")
    say("")
    say("| tilstand | chunks | forespørgsler | p50 ms | p95 ms |")
    say("| --- | ---: | ---: | ---: | ---: |")
    from retriever.search import Searcher

    first = load_searcher(index_dir, corpus_dir, "hybrid")
    results: dict[str, dict] = {}
    for mode in ("hybrid", "dense", "bm25"):
        searcher = (
            first if mode == "hybrid" else Searcher(index_dir, mode=mode, embedder=first.embedder)
        )
        for q in questions[:3]:  # warm-up: model, caches
            searcher.search(q, k=10)
        times = []
        for _ in range(repeat):
            for q in questions:
                start = time.perf_counter()
                searcher.search(q, k=10)
                times.append(time.perf_counter() - start)
        p50, p95 = percentiles(times)
        n_chunks = len(searcher.reader.chunk_ids)
        say(f"| {mode} | {n_chunks} | {len(times)} | {p50:.1f} | {p95:.1f} |")
        results[mode] = {
            "p50_ms": round(p50, 2), "p95_ms": round(p95, 2), "queries": len(times),
            "chunks": n_chunks,
        }
    say("")
    return results


def bench_ask(index_dir: Path, corpus_dir: Path, repeat: int, limit: int | None) -> dict:
    """`Searcher.ask` latency (k=5, role public, hybrid) over the dev + extra questions with
    the index loaded, after one warm-up question; returns the JSON keys `ask_*`."""
    from eval.questions import load_questions

    questions = [q.question for q in [*load_questions(DEV), *load_questions(EXTRA)]]
    if limit is not None:
        questions = questions[:limit]
    searcher = load_searcher(index_dir, corpus_dir, "hybrid")
    searcher.ask(questions[0], k=5, role="public")  # warm-up: model, caches
    times = []
    for _ in range(repeat):
        for q in questions:
            start = time.perf_counter()
            searcher.ask(q, k=5, role="public")
            times.append(time.perf_counter() - start)
    p50, p95 = percentiles(times)
    ok = p50 <= ASK_TARGET_MS[0] and p95 <= ASK_TARGET_MS[1]
    say("## Svarlatens, eksempelkorpus (Searcher.ask, k=5, rolle public)")
    say("")
    say("| spørgsmål | kald | p50 ms | p95 ms | mål p50/p95 ms | opfyldt |")
    say("| ---: | ---: | ---: | ---: | ---: | --- |")
    say(
        f"| {len(questions)} | {len(times)} | {p50:.1f} | {p95:.1f} "
        f"| {ASK_TARGET_MS[0]:.0f} / {ASK_TARGET_MS[1]:.0f} | {'ja' if ok else 'nej'} |"
    )
    say("")
    return {
        "ask_p50_ms": round(p50, 2),
        "ask_p95_ms": round(p95, 2),
        "ask_questions": len(questions),
        "ask_calls": len(times),
        "ask_target_met": ok,
    }


# --- part 2: synthetic archive ----------------------------------------------------------


def real_vectors(index_dir: Path) -> np.ndarray:
    """The window vectors of the sample index (what real chunks look like to the model)."""
    import faiss

    index = faiss.read_index(str(index_dir / "current" / "dense.faiss"))
    return index.reconstruct_n(0, index.ntotal).astype(np.float32)


def normalise_rows(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def synth(base: np.ndarray, n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Convex mixes of two real vectors plus Gaussian noise, built in blocks to cap memory."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    block = 100_000
    for start in range(0, n, block):
        m = min(block, n - start)
        i = rng.integers(0, len(base), m)
        j = rng.integers(0, len(base), m)
        w = rng.uniform(0.5, 1.0, (m, 1)).astype(np.float32)
        x = w * base[i] + (1 - w) * base[j]
        x += rng.normal(0, sigma, x.shape).astype(np.float32)
        out[start : start + m] = normalise_rows(x)
    return out


def query_latencies(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    """Search one query at a time, as a server does; returns ids and per-query seconds."""
    ids = np.empty((len(queries), k), dtype=np.int64)
    times = []
    for n, q in enumerate(queries):
        start = time.perf_counter()
        _, found = index.search(q[None, :], k)
        times.append(time.perf_counter() - start)
        ids[n] = found[0]
    return ids, times


def recall_at(truth: np.ndarray, found: np.ndarray) -> float:
    """Recall@k of an approximate result relative to the exact top k, averaged over queries."""
    k = truth.shape[1]
    return float(np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found)]))


def bench_synthetic(args: argparse.Namespace, index_dir: Path, corpus_dir: Path) -> None:
    import faiss

    threads = os.cpu_count() or 1
    rng = np.random.default_rng(args.seed)
    searcher = load_searcher(index_dir, corpus_dir, "dense")
    base = real_vectors(index_dir)
    dim = base.shape[1]
    from eval.questions import load_questions

    dev = np.stack([searcher.embed_query(q.question) for q in load_questions(DEV)])
    del searcher

    say(f"## Syntetisk arkiv: {args.n:,} chunks × {dim} float32".replace(",", "."))
    say("")
    say(
        f"Fordeling: konvekse blandinger af to af de {len(base)} rigtige vinduesvektorer "
        f"(vægt 0,5-1) + gaussisk støj σ={args.sigma}, L2-normaliseret. "
        f"Forespørgsler: {len(dev)} dev-spørgsmål + {args.queries - len(dev)} støjede rigtige vinduer."
    )
    start = time.perf_counter()
    xb = synth(base, args.n, args.sigma, rng)
    extra = base[rng.integers(0, len(base), args.queries - len(dev))]
    extra = normalise_rows(extra + rng.normal(0, args.sigma, extra.shape).astype(np.float32))
    xq = np.ascontiguousarray(np.vstack([dev, extra]).astype(np.float32))
    say(f"Genereret på {time.perf_counter() - start:.1f} s ({xb.nbytes / 1024**3:.2f} GiB).")
    say("")

    rows: list[str] = []

    def row(name: str, build_s: float, params: str, times: list[float], recall: float) -> None:
        p50, p95 = percentiles(times)
        rows.append(
            f"| {name} | {params} | {build_s:.1f} | {p50:.2f} | {p95:.2f} | {recall:.3f} "
            f"| {peak_rss_gb():.2f} |"
        )
        say(rows[-1])

    say("| indeks | parametre | bygning s | p50 ms | p95 ms | Recall@10 vs eksakt | peak RSS GiB |")
    say("| --- | --- | ---: | ---: | ---: | ---: | ---: |")

    # exact
    faiss.omp_set_num_threads(threads)
    start = time.perf_counter()
    flat = faiss.IndexFlatIP(dim)
    flat.add(xb)
    build = time.perf_counter() - start
    _, truth = flat.search(xq, 10)  # batched ground truth
    faiss.omp_set_num_threads(1)
    _, times = query_latencies(flat, xq[: min(len(xq), 50)], 10)
    row("IndexFlatIP (eksakt)", build, "-", times, 1.0)
    del flat

    if "ivf" in args.methods:
        faiss.omp_set_num_threads(threads)
        start = time.perf_counter()
        nlist = min(args.nlist, max(1, args.n // 39))
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        train = xb[rng.choice(args.n, min(args.n, 39 * nlist), replace=False)]
        ivf.train(train)
        ivf.add(xb)
        build = time.perf_counter() - start
        faiss.omp_set_num_threads(1)
        for nprobe in args.nprobe:
            ivf.nprobe = nprobe
            found, times = query_latencies(ivf, xq, 10)
            row("IVFFlat", build, f"nlist={nlist}, nprobe={nprobe}", times, recall_at(truth, found))
        del ivf, quantizer

    if "hnsw" in args.methods:
        faiss.omp_set_num_threads(threads)
        start = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(dim, args.m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = args.ef_construction
        hnsw.add(xb)
        build = time.perf_counter() - start
        faiss.omp_set_num_threads(1)
        for ef in args.ef_search:
            hnsw.hnsw.efSearch = ef
            found, times = query_latencies(hnsw, xq, 10)
            row(
                "HNSWFlat",
                build,
                f"M={args.m}, efC={args.ef_construction}, efSearch={ef}",
                times,
                recall_at(truth, found),
            )
        del hnsw
    say("")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--index", type=Path, default=Path(os.environ.get("KOMMUNESOEG_INDEX", "index"))
    )
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--n", type=int, default=1_000_000, help="chunks i det syntetiske arkiv")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="gentagelser af dev-spørgsmålene")
    parser.add_argument("--sigma", type=float, default=0.02)
    parser.add_argument("--methods", default="ivf,hnsw")
    parser.add_argument("--m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=40)
    parser.add_argument(
        "--ef-search", type=lambda s: [int(x) for x in s.split(",")], default=[16, 32, 64, 128]
    )
    parser.add_argument("--nlist", type=int, default=4096)
    parser.add_argument(
        "--nprobe", type=lambda s: [int(x) for x in s.split(",")], default=[8, 16, 32, 64]
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument("--skip-ask", action="store_true")
    parser.add_argument(
        "--ask-limit", type=int, default=None, help="kun de første N spørgsmål til ask (hurtigt tjek)"
    )
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="skriv tallene som JSON hertil")
    args = parser.parse_args(argv)
    args.methods = {m.strip() for m in args.methods.split(",")}

    report: dict = {"machine": machine()}
    say(f"Maskine: {report['machine']}")
    say("")
    if not args.skip_sample:
        report["search"] = bench_sample(args.index, args.corpus, args.repeat)
    if not args.skip_ask:
        report.update(bench_ask(args.index, args.corpus, args.repeat, args.ask_limit))
    if not args.skip_synthetic:
        bench_synthetic(args, args.index, args.corpus)
    report["peak_rss_gb"] = round(peak_rss_gb(), 3)
    say(f"Peak RSS i alt: {report['peak_rss_gb']:.2f} GiB")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        say(f"Skrev {args.json}")


if __name__ == "__main__":
    main()
