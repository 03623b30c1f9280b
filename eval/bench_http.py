"""HTTP load benchmark (issue 14): concurrent clients against `kommunesoeg serve` on loopback
while a re-index adds a document. A script that prints numbers, not a test:

    .venv/bin/python -m eval.bench_http                        # 8 clients x 2,000 requests
    .venv/bin/python -m eval.bench_http --clients 8 --queries 100 --reuse-index index
    .venv/bin/python -m eval.bench_http --results eval/RESULTS.md   # also write the section

The same workload as the in-process benchmark (`eval/bench_load.py`: search 60 %, ask 25 %,
precedents 15 %, from the dev questions), the same scratch index and the same re-index in a
subprocess, but every query is an HTTP request to a uvicorn process (`kommunesoeg serve`,
rate limit off) from N client threads with one keep-alive connection each. Any response
other than 200 or any transport error counts as an error. The server picks the new
generation up by itself; the `X-Index-Generation` header says which one answered. The
table puts the run next to the in-process numbers of the last `## Load benchmark` section
of the results file.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from eval.bench_load import (
    NEW_DOC_NAME,
    VERB_MIX,
    Sample,
    machine,
    pct,
    prepare,
    reindex,
    workload,
    write_section,
)
from eval.bench_load import (
    SECTION as INPROCESS_SECTION,
)

SECTION = "## HTTP load benchmark"
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Shared:
    reindex_running: threading.Event = field(default_factory=threading.Event)
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index: Path, corpus: Path, port: int, log: Path) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "kommunesoeg"
    cmd = [str(exe), "serve", "--index", str(index), "--corpus", str(corpus), "--port",
           str(port), "--rate-limit", "0", "--log-level", "warning"]
    env = dict(os.environ, OMP_THREAD_LIMIT="1",
               KOMMUNESOEG_API_KEYS=str(index.parent / "keys.sqlite"))
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)


def wait_ready(base: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not become ready")


def request(client, verb: str, text: str):
    if verb == "search":
        return client.get("/search", params={"q": text, "k": 10})
    if verb == "ask":
        return client.post("/ask", json={"question": text})
    return client.post("/precedents", json={"text": text, "k": 10})


def client_loop(base: str, jobs: queue.Queue, shared: Shared) -> None:
    import httpx

    with httpx.Client(base_url=base, timeout=120) as client:
        while True:
            try:
                verb, text = jobs.get_nowait()
            except queue.Empty:
                return
            during = shared.reindex_running.is_set()
            t = time.perf_counter()
            error, gen = None, "?"
            try:
                r = request(client, verb, text)
                gen = r.headers.get("x-index-generation", "?")
                if r.status_code != 200:
                    error = f"{verb}: HTTP {r.status_code} {r.text[:120]}"
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                error = f"{verb}: {type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - t
            with shared.lock:
                shared.samples.append(Sample(verb, seconds, error,
                                             during or shared.reindex_running.is_set(), gen))


def summary(samples: list[Sample], wall: float) -> list[dict]:
    rows = []
    for verb in [v for v, _ in VERB_MIX] + ["all"]:
        mine = [s for s in samples if verb in ("all", s.verb)]
        ok = [s.seconds * 1000 for s in mine if not s.error]
        rows.append({
            "type": verb, "n": len(mine), "errors": sum(1 for s in mine if s.error),
            "during_reindex": sum(1 for s in mine if s.during_reindex),
            "p50_ms": pct(ok, 50), "p95_ms": pct(ok, 95), "p99_ms": pct(ok, 99),
            "qps": len(mine) / wall if wall else float("nan"),
        })
    return rows


def inprocess_numbers(results: Path | None) -> dict | None:
    """The `all` row and throughput of the in-process load benchmark's section."""
    if results is None or not results.exists():
        return None
    text = results.read_text(encoding="utf-8")
    start = text.find(INPROCESS_SECTION + "\n")
    if start < 0:
        return None
    end = text.find("\n## ", start + len(INPROCESS_SECTION))
    section = text[start:end if end >= 0 else None]
    qps = re.search(r"throughput \*\*([\d.]+) queries/s", section)
    row = re.search(r"^\| all \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|",
                    section, re.MULTILINE)
    clients = re.search(r"(\d+) client threads", section)
    if not (qps and row):
        return None
    return {"qps": float(qps.group(1)), "n": int(row.group(1)), "errors": int(row.group(2)),
            "p50_ms": int(row.group(4)), "p95_ms": int(row.group(5)),
            "p99_ms": int(row.group(6)), "clients": int(clients.group(1)) if clients else None}


def markdown(result: dict) -> str:
    m, r, rows = result["machine"], result["reindex"], result["rows"]
    short = result["queries"] < 2000
    lines = [
        SECTION, "",
        f"Command: `{result['command']}`", "",
        (f"Machine: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Python "
         f"{m['python']}. Load average before/after: {result['load_before']} / "
         f"{result['load_after']}"
         + (" — other processes were running (shared machine); the numbers are indicative"
            if result["load_before"][0] > 0.5 * m["cores"] else "") + "."), "",
        (f"{result['clients']} HTTP clients (one keep-alive connection each) × "
         f"{result['queries']} requests in all against `kommunesoeg serve` on loopback "
         f"(uvicorn, 1 worker, rate limit off). Wall time {result['wall_s']:.1f} s."
         + (" **A short first measurement** (fewer requests than the 2,000 of the issue)."
            if short else "")), "",
        "| type | n | errors | during re-index | p50 ms | p95 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(f"| {row['type']} | {row['n']} | {row['errors']} | "
                     f"{row['during_reindex']} | {row['p50_ms']:.0f} | {row['p95_ms']:.0f} | "
                     f"{row['p99_ms']:.0f} |")
    lines += ["", ("Side by side with the in-process benchmark (`## Load benchmark` above, same "
              "workload, one shared Searcher in the benchmark's own process):"), "",
              "| run | clients | requests | errors | throughput / s | p50 ms | p95 ms | p99 ms |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    inproc = result.get("inprocess")
    if inproc:
        lines.append(f"| in-process (`eval/bench_load.py`, last round) | {inproc['clients']} | "
                     f"{inproc['n']} | {inproc['errors']} | {inproc['qps']:.2f} | "
                     f"{inproc['p50_ms']} | {inproc['p95_ms']} | {inproc['p99_ms']} |")
    a = rows[-1]
    lines.append(f"| HTTP (`eval/bench_http.py`, this run) | {result['clients']} | {a['n']} | "
                 f"{a['errors']} | {a['qps']:.2f} | {a['p50_ms']:.0f} | {a['p95_ms']:.0f} | "
                 f"{a['p99_ms']:.0f} |")
    lines += ["", (f"Re-index during the load (new document `{NEW_DOC_NAME}`): exit code "
                   f"{r['returncode']}, {r['seconds']:.1f} s. Requests answered per generation "
                   f"(`X-Index-Generation`): {result['by_generation']}; the new generation "
                   f"lists the new document: {result['new_document_served']}.")]
    if result["error_examples"]:
        lines += ["", "Error examples: " + "; ".join(result["error_examples"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--queries", type=int, default=2000, help="requests in all")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kommunesoeg-bench-http"))
    parser.add_argument("--reuse-index", type=Path, default=None,
                        help="clone this index of corpus/ instead of building from scratch")
    parser.add_argument("--reindex-after", type=float, default=0.15,
                        help="start the re-index after this share of the requests")
    parser.add_argument("--results", type=Path, default=None,
                        help="write the '## HTTP load benchmark' section of this file")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    import httpx

    load_before = [round(x, 2) for x in os.getloadavg()]
    corpus, index = prepare(args.work, args.reuse_index)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(index, corpus, port, args.work / "server.log")
    try:
        wait_ready(base, proc)
        jobs: queue.Queue = queue.Queue()
        for job in workload(args.queries, args.seed):
            jobs.put(job)
        shared = Shared()
        threads = [threading.Thread(target=client_loop, args=(base, jobs, shared))
                   for _ in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        while len(shared.samples) < args.reindex_after * args.queries and \
                any(t.is_alive() for t in threads):
            time.sleep(0.05)
        reindex_info = reindex(corpus, index, shared, args.work / "reindex.log")
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        documents = httpx.get(f"{base}/documents", timeout=30).json()
        new_served = isinstance(documents, list) and \
            NEW_DOC_NAME in {d["file"] for d in documents}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    by_gen: dict[str, int] = {}
    for s in shared.samples:
        by_gen[s.generation] = by_gen.get(s.generation, 0) + 1
    result = {
        "command": "OMP_THREAD_LIMIT=1 .venv/bin/python -m eval.bench_http "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(), "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "clients": args.clients, "queries": args.queries, "wall_s": wall,
        "rows": summary(shared.samples, wall), "reindex": reindex_info,
        "by_generation": by_gen, "new_document_served": new_served,
        "error_examples": sorted({s.error for s in shared.samples if s.error})[:5],
        "inprocess": inprocess_numbers(args.results or ROOT / "eval" / "RESULTS.md"),
    }
    text = markdown(result)
    print(text)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, default=str)[:2000])
    if args.results:
        write_section(args.results, text, SECTION)
    if args.work.exists() and not os.environ.get("KOMMUNESOEG_BENCH_KEEP"):
        shutil.rmtree(args.work, ignore_errors=True)
    return result


if __name__ == "__main__":
    main()
