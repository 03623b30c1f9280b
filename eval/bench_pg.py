"""PostgreSQL store against the file store (issue 13, deliverable 5): the same archive in both.

    .venv/bin/python -m eval.bench_pg --chunks 20000 --json pg.json
    .venv/bin/python -m eval.bench_pg --workers --json workers.json
    .venv/bin/python -m eval.bench_pg --chunks 3000 --workers --dsn postgresql://u@host/db

Two parts, each chosen by its flag (both may run in one go):

`--chunks N` (the archive): `eval/bench_archive.py` builds its synthetic archive of N chunks
for the file store exactly as it does on its own (its functions, imported). The same
documents then go into a fresh PostgreSQL database through the product's own worker,
`indexer.pg.writer.index_into_postgres`: first the real sample corpus, then the synthetic
.txt files. No vector comes from a different place than in the file store: the file index's
whole embedding cache (the real corpus's real vectors, the synthetic texts' VectorMaker
vectors) is copied into the database's `embedding_cache` before indexing, the real model
embeds only what the corpus still lacks (and the queries), and the synthetic load runs with
an embedder that refuses to embed at all - so a synthetic text can never get a real vector
the file store did not get. The synthetic files are queued before the corpus worker starts,
as one `kommunesoeg index` of the whole archive would queue them, so the load is a bulk load
(the empty store's search indexes are built after the rows; the time is part of build_s
and reported as index_build_s). Build time is the synthetic load on top of the real corpus,
like the file store's `build_index` on top of the copied sample index. Then each store is
opened in a fresh process (`bench_archive.measure`: open time, peak RSS, search public /
internal / filtered, ask, precedents, timeline over the dev questions), the database through
`retriever.search.Searcher("postgresql://...")`. The database is VACUUM ANALYZEd before it
is measured (autovacuum would have done so within a minute of the load; measuring before
that would measure the planner's guesses), and the time that takes is reported.
A PostgreSQL reader's memory is mostly the server's, so the server's proportional set size
(PSS: shared buffers counted once) is reported next to the reader's own peak RSS when this
script started the server.

`--workers` (several indexing machines): the real corpus (5 PDFs, one a scan that needs
OCR) is indexed with `kommunesoeg index corpus --index DSN --worker-id ...`, each run into a
fresh database so every run meets a cold embedding cache, as a new user does: (a) one
worker, (b) two workers started at once, (c) two workers of which one is `kill -9`ed while
it holds a document after the first document is committed, then a third worker that
finishes the queue. For each: wall time, and whether every document was committed exactly
once, the chunks (ids, duplicates, windows) equal those of run (a), and nothing is half
written.

PostgreSQL: a throwaway server from the `pgserver` module (pip extra `postgres`, as the
tests use), or `--dsn` for an existing server, where a database per run is created (the DSN
user needs CREATEDB) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eval.bench_archive import CORPUS, build_archive, measure
from eval.bench_search import machine, say
from indexer.pg.connect import with_database
from indexer.settings import FAISS_KINDS

ROOT = Path(__file__).resolve().parents[1]
KOMMUNESOEG = Path(sys.executable).parent / "kommunesoeg"
KILL_TIMEOUT_S = 1800  # a worker run that takes longer than this is stuck, not slow


class BenchError(Exception):
    """Something the benchmark cannot go on from; printed as one line."""


# --------------------------------------------------------------------------- the server
@dataclass
class Server:
    """A PostgreSQL server to make benchmark databases on; `data_dir` only when this script
    started it (then its processes can be measured)."""

    uri: str
    data_dir: Path | None = None
    made: list[str] = field(default_factory=list)

    def new_database(self, label: str) -> str:
        """A fresh, empty database; its DSN. Dropped by `drop_all`."""
        from indexer.pg.connect import connect

        name = f"bench_pg_{label}_{uuid.uuid4().hex[:8]}"
        with connect(self.uri, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return with_database(self.uri, name)

    def drop_all(self) -> None:
        from indexer.pg.connect import connect

        if not self.made:
            return
        with connect(self.uri, autocommit=True) as admin:
            for name in self.made:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.made.clear()


@contextmanager
def server(dsn: str | None, workdir: Path) -> Iterator[Server]:
    """`--dsn`'s server (its databases dropped after), or a throwaway pgserver in workdir."""
    from indexer.pg.connect import connect, is_dsn

    if dsn is not None:
        if not is_dsn(dsn):
            raise BenchError(f"--dsn skal begynde med postgresql:// (fik {dsn!r})")
        connect(dsn, autocommit=True).close()  # a bad DSN is one line now
        found = Server(dsn)
        try:
            yield found
        finally:
            found.drop_all()
        return
    try:
        import pgserver
    except ImportError:
        raise BenchError('pgserver mangler: pip install -e ".[postgres]", eller brug --dsn') from None
    data = workdir / "pgdata"
    pg = pgserver.get_server(data, cleanup_mode="delete")
    try:
        yield Server(pg.get_uri(), data)
    finally:
        pg.cleanup()


def server_pss_gib(data_dir: Path | None) -> float | None:
    """PSS of the postmaster and its children (shared buffers counted once), GiB; None when
    the server is not this script's own."""
    if data_dir is None or not (data_dir / "postmaster.pid").is_file():
        return None
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    kib = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    kib += int(line.split()[1])
        except OSError:
            continue  # a backend that ended meanwhile
    return round(kib / 1024**2, 3)


def server_facts(dsn: str) -> dict:
    """What decides how a database reader performs, besides the machine."""
    from indexer.pg.connect import connect

    with connect(dsn, autocommit=True) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather")}


def database_bytes(dsn: str) -> dict:
    """The database's size, and how much of it is the embedding cache (which the file store
    keeps in embcache.sqlite, outside its generation)."""
    from indexer.pg.connect import connect

    with connect(dsn, autocommit=True) as conn:
        total, cache = conn.execute(
            "SELECT pg_database_size(current_database()), pg_total_relation_size('embedding_cache')"
        ).fetchone()
    return {"size_bytes": total, "embcache_bytes": cache}


def vacuum_analyze(dsn: str) -> float:
    """VACUUM ANALYZE the whole database; seconds."""
    from indexer.pg.connect import connect

    start = time.perf_counter()
    with connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - start


# --------------------------------------------------------------------------- archive: load
class CachedOnly:
    """The embedder for the synthetic load: every vector it needs was put in the cache, so a
    call to the model would give a synthetic text a real vector the file store never got."""

    def __init__(self, model_id: str, dim: int) -> None:
        self.model_id = model_id
        self.dim = dim

    def embed_passages(self, texts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        raise BenchError(f"{len(texts)} syntetiske tekster manglede i embedding-cachen "
                         f"(fx {texts[0][:60]!r}); benchmarken ville give dem rigtige vektorer")

    def embed_query(self, text: str) -> np.ndarray:
        raise BenchError("indekseringen bad om en forespørgselsvektor")


def copy_embedding_cache(index_dir: Path, dsn: str, model_id: str) -> int:
    """Every vector of the file index's embedding cache into the database's cache (created
    by the product's migration first); the number copied."""
    from indexer.pg.connect import connect
    from indexer.pg.embcache import seed_from_file_cache
    from indexer.pg.schema import migrate
    from indexer.store import EMBCACHE

    with connect(dsn) as conn:
        migrate(conn)
        return seed_from_file_cache(conn, index_dir / EMBCACHE, model_id)


def worker_load(paths: Sequence[Path], dsn: str, embedder, worker_id: str) -> tuple[dict, float]:
    """One product worker over `paths`; its report's numbers and the wall time."""
    from indexer.pg.writer import index_into_postgres

    start = time.perf_counter()
    report = index_into_postgres(paths, dsn, embedder, worker_id)
    seconds = time.perf_counter() - start
    if report.errors:
        raise BenchError(f"{len(report.errors)} dokument(er) fejlede, fx {report.errors[0]}")
    return {"documents": report.documents_total, "chunks": report.chunks,
            "duplicates": report.duplicates, "embedded_texts": report.embedded_texts,
            "cached_texts": report.cached_texts, "bulk_load": report.bulk_load,
            "index_build_s": report.index_build_s}, seconds


def queue_files(dsn: str, folder: Path) -> int:
    """Queue every file of `folder` before any worker runs, as one `kommunesoeg index` of the
    whole archive would: the corpus worker then finds the store empty and the queue long,
    loads in bulk (`indexer.pg.search_indexes`) and leaves the index build to the worker
    that empties the queue."""
    from indexer.pg.connect import connect
    from indexer.pg.queue import enqueue
    from indexer.pg.schema import migrate
    from indexer.store import sha256_file

    files = sorted(p for p in folder.iterdir() if p.is_file())
    with connect(dsn) as conn:
        migrate(conn)
        return enqueue(conn, [(p.name, sha256_file(p), p.stat().st_size) for p in files])


def load_postgres(workdir: Path, dsn: str, embedder) -> dict:
    """The file store's documents into the database through the product's worker."""
    start = time.perf_counter()
    copied = copy_embedding_cache(workdir / "index", dsn, embedder.model_id)
    fill_s = time.perf_counter() - start
    queued = queue_files(dsn, workdir / "docs")
    say(f"Kopierede {copied} vektorer til PostgreSQL-cachen på {fill_s:.1f} s; {queued} syntetiske "
        "dokumenter i kø; indekserer korpus ...")
    real, real_s = worker_load([CORPUS], dsn, embedder, "bench-real")
    say(f"Korpus i PostgreSQL på {real_s:.1f} s ({real['embedded_texts']} tekster indlejret); "
        "syntetiske ...")
    cached_only = CachedOnly(embedder.model_id, embedder.dim)
    synth, build_s = worker_load([workdir / "docs"], dsn, cached_only, "bench-synthetic")
    say(f"Syntetiske dokumenter i PostgreSQL på {build_s:.1f} s (bulk: {real['bulk_load']}, "
        f"søgeindeksene bygget på {synth['index_build_s']} s af det); VACUUM ANALYZE ...")
    analyze_s = vacuum_analyze(dsn)
    return {
        "chunks": synth["chunks"], "documents": synth["documents"], "duplicates": synth["duplicates"],
        "cache_fill_s": round(fill_s, 1), "cache_vectors_copied": copied,
        "real_build_s": round(real_s, 1), "real_build_embedded_texts": real["embedded_texts"],
        "build_s": round(build_s, 1), "build_embedded_texts": synth["embedded_texts"],
        "bulk_load": real["bulk_load"], "index_build_s": synth["index_build_s"],
        "chunks_per_min": round(synth["chunks"] / build_s * 60),
        "analyze_s": round(analyze_s, 1), **database_bytes(dsn),
    }


# --------------------------------------------------------------------------- archive: measure
def measure_in_child(target: str, workdir: Path, store: str) -> dict:
    """`bench_archive.measure` in a fresh interpreter (open time and peak RSS are the
    reader's own); a failure is recorded, not raised, so the other store is still measured."""
    out = workdir / f"measure-{store}.json"
    done = subprocess.run(
        [sys.executable, "-m", "eval.bench_pg", "--measure-only", target, "--workdir", str(workdir),
         "--out", str(out)],
        check=False, cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        say(f"  {store}: måling fejlede: {last}")
        return {"measure_error": last}
    return json.loads(out.read_text(encoding="utf-8"))


def measure_child_main(target: str, workdir: Path, out: Path) -> None:
    """The child: a DSN stays a string (the Searcher decides the store by it)."""
    from indexer.pg.connect import is_dsn

    result = measure(target if is_dsn(target) else Path(target), workdir)  # type: ignore[arg-type]
    out.write_text(json.dumps(result), encoding="utf-8")


def archive_part(args: argparse.Namespace, workdir: Path, pg: Server) -> dict:
    """The file store as bench_archive builds it, the same archive in PostgreSQL, both measured."""
    from indexer.embed import get_embedder

    embedder = get_embedder(None)
    built = build_archive(args, workdir, embedder)
    kept = ("chunks", "documents", "duplicates", "synthetic_files", "real_chunks", "generate_s",
            "build_s", "build_embedded_texts", "index_bytes", "embcache_bytes", "build_rss_gib")
    file = {k: built[k] for k in kept}
    file["size_bytes"] = file["index_bytes"] + file["embcache_bytes"]
    say(f"Fillager: {file['chunks']} chunks bygget på {file['build_s']} s; samme arkiv til PostgreSQL ...")
    dsn = pg.new_database("arkiv")
    start = time.perf_counter()
    postgres = load_postgres(workdir, dsn, embedder)
    postgres["load_wall_s"] = round(time.perf_counter() - start, 1)
    postgres["server"] = server_facts(dsn)
    say("Måler fillageret i en ny proces ...")
    file.update(measure_in_child(str(workdir / "index"), workdir, "file"))
    say("Måler PostgreSQL i en ny proces ...")
    postgres.update(measure_in_child(dsn, workdir, "postgresql"))
    postgres["server_pss_gib"] = server_pss_gib(pg.data_dir)
    counts = ("chunks", "documents", "duplicates")
    return {"file": file, "postgresql": postgres,
            "stores_agree": all(file[k] == postgres[k] for k in counts)}


# --------------------------------------------------------------------------- workers
_SUMMARY = re.compile(r"Indekserede (\d+) dokument.*?(\d+) tekster indlejret, (\d+) fra cache")


@dataclass
class Worker:
    """One `kommunesoeg index` process writing into a database."""

    worker_id: str
    proc: subprocess.Popen
    log: Path

    def summary(self) -> dict:
        """What its summary line says it did (empty when it never finished)."""
        found = _SUMMARY.search(self.log.read_text(encoding="utf-8", errors="replace"))
        if not found:
            return {}
        return {"committed": int(found[1]), "embedded_texts": int(found[2]),
                "cached_texts": int(found[3])}


def start_worker(dsn: str, worker_id: str, workdir: Path) -> Worker:
    """`kommunesoeg index corpus --index DSN --worker-id ID` with one model thread and one
    tesseract thread (two of these share two cores)."""
    env = {**os.environ, "KOMMUNESOEG_THREADS": "1", "OMP_THREAD_LIMIT": "1"}
    log = workdir / f"{worker_id}-{uuid.uuid4().hex[:6]}.log"
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [str(KOMMUNESOEG), "index", str(CORPUS), "--index", dsn, "--worker-id", worker_id,
             "--no-progress"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Worker(worker_id, proc, log)


def wait_all(workers: Sequence[Worker]) -> None:
    for w in workers:
        try:
            w.proc.wait(timeout=KILL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            raise BenchError(f"arbejder {w.worker_id} blev ikke færdig på {KILL_TIMEOUT_S} s") from None


def check_exit(workers: Sequence[Worker], killed: str | None = None) -> None:
    for w in workers:
        if w.worker_id != killed and w.proc.returncode != 0:
            tail = w.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
            raise BenchError(f"arbejder {w.worker_id} sluttede med {w.proc.returncode}: {' '.join(tail)}")


def snapshot(dsn: str) -> dict:
    """What a run left in its database, as plain data to compare."""
    from indexer.pg.connect import connect

    with connect(dsn, autocommit=True) as conn:
        docs = conn.execute("SELECT file, status, indexed_by FROM documents ORDER BY file").fetchall()
        chunks = conn.execute(
            "SELECT chunk_id, document, duplicate_of, vector IS NOT NULL, md5(text), windows_json "
            "FROM chunks ORDER BY chunk_id").fetchall()
        windows = dict(conn.execute("SELECT chunk_id, count(*) FROM windows GROUP BY chunk_id").fetchall())
        attempts = conn.execute("SELECT file, attempts, last_worker FROM claim_attempts").fetchall()
        done_at = dict(conn.execute(
            "SELECT file, round(extract(epoch FROM indexed_at - min(queued_at) OVER ())::numeric, 1)::float "
            "FROM documents WHERE indexed_at IS NOT NULL").fetchall())
    return {"documents": docs, "chunks": chunks, "windows": windows, "attempts": attempts,
            "done_at": done_at}


def half_written(snap: dict) -> list[str]:
    """Every sign of a document written in part; empty when there is none."""
    ok = {f for f, status, _ in snap["documents"] if status == "ok"}
    problems = [f"{f}: status {s}" for f, s, _ in snap["documents"] if s != "ok"]
    for cid, doc, dup, has_vec, _, windows_json in snap["chunks"]:
        listed = json.loads(windows_json) if isinstance(windows_json, str) else windows_json or []
        want_windows = len(listed) if dup is None else 0
        if doc not in ok:
            problems.append(f"{cid}: chunk of a document that is not indexed")
        elif (dup is None) != has_vec:
            problems.append(f"{cid}: canonical without a vector, or a duplicate with one")
        elif snap["windows"].get(cid, 0) != want_windows:
            problems.append(f"{cid}: {snap['windows'].get(cid, 0)} windows, {want_windows} expected")
    problems += [f"{f}: claim left ({n} attempts, {w})" for f, n, w in snap["attempts"]]
    return problems


def judge_run(snap: dict, reference: dict, committed: int) -> dict:
    """Exactly once, the same chunks as the single worker, nothing half written."""
    chunk_set = [(cid, doc, dup, vec, text) for cid, doc, dup, vec, text, _ in snap["chunks"]]
    ref_set = [(cid, doc, dup, vec, text) for cid, doc, dup, vec, text, _ in reference["chunks"]]
    per_doc = {f: sum(1 for c in snap["chunks"] if c[1] == f) for f, _, _ in snap["documents"]}
    problems = half_written(snap)
    return {
        "documents": len(snap["documents"]),
        "chunks": len(snap["chunks"]),
        "chunks_per_document": per_doc,
        "indexed_by": {f: by for f, _, by in snap["documents"]},
        # when each document was claimed (indexed_at is now() of the claim transaction), seconds
        # after the queue was filled: which document was the critical path
        "claimed_after_s": snap["done_at"],
        "commits": committed,
        "indexed_exactly_once": committed == len(snap["documents"]),
        "same_chunks_as_one_worker": chunk_set == ref_set and snap["windows"] == reference["windows"],
        "nothing_half_written": not problems,
        "problems": problems[:10],
    }


def plain_run(pg: Server, workdir: Path, worker_ids: Sequence[str]) -> tuple[dict, str]:
    """Workers started at once into a fresh database; their result and the DSN."""
    dsn = pg.new_database("arbejdere")
    load = round(os.getloadavg()[0], 2)
    start = time.perf_counter()
    workers = [start_worker(dsn, wid, workdir) for wid in worker_ids]
    wait_all(workers)
    wall = time.perf_counter() - start
    check_exit(workers)
    summaries = {w.worker_id: w.summary() for w in workers}
    return {"workers": len(workers), "wall_s": round(wall, 1), "embedding_cache": "cold (fresh database)",
            "load_avg_1m_before": load, "per_worker": summaries,
            "embedded_texts": sum(s.get("embedded_texts", 0) for s in summaries.values())}, dsn


def holding(dsn: str, worker_id: str) -> tuple[str | None, int]:
    """The document `worker_id` holds right now (its claim is counted at once on an autocommit
    connection and the count is deleted when the document commits), and how many documents
    are committed."""
    import psycopg

    from indexer.pg.connect import connect

    with connect(dsn, autocommit=True) as conn:
        try:
            row = conn.execute("SELECT file FROM claim_attempts WHERE last_worker = %s",
                               (worker_id,)).fetchone()
            ok = conn.execute("SELECT count(*) FROM documents WHERE status = 'ok'").fetchone()[0]
        except psycopg.errors.UndefinedTable:  # no worker has migrated yet: nothing held
            return None, 0
    return (row[0] if row else None), ok


def killed_run(pg: Server, workdir: Path) -> tuple[dict, str]:
    """Two workers; the second is kill -9ed while it holds a document once a first document is
    committed; then a third worker finishes the queue."""
    dsn = pg.new_database("drab")
    load = round(os.getloadavg()[0], 2)
    start = time.perf_counter()
    w1, w2 = (start_worker(dsn, wid, workdir) for wid in ("w1", "w2"))
    killed_file, ok_at_kill = None, 0
    while w2.proc.poll() is None:
        held, ok = holding(dsn, "w2")
        if held is not None and ok >= 1:
            w2.proc.send_signal(signal.SIGKILL)
            w2.proc.wait()
            killed_file, ok_at_kill = held, ok
            break
        time.sleep(0.1)
    killed_after = time.perf_counter() - start
    after_kill = snapshot(dsn)
    w2_commits = sum(1 for _, _, by in after_kill["documents"] if by == "w2")
    # pending documents and held claims are expected now; rows of an unindexed document are not
    torn = [p for p in half_written(after_kill) if "claim left" not in p and ": status " not in p]
    wait_all([w1])
    check_exit([w1])
    first_phase = time.perf_counter() - start
    w3 = start_worker(dsn, "w3", workdir)
    wait_all([w3])
    check_exit([w3])
    wall = time.perf_counter() - start
    summaries = {w.worker_id: w.summary() for w in (w1, w3)}
    result = {
        "workers": 3, "wall_s": round(wall, 1), "embedding_cache": "cold (fresh database)",
        "load_avg_1m_before": load,
        "killed": killed_file is not None, "killed_worker": "w2", "killed_holding": killed_file,
        "killed_after_s": round(killed_after, 1), "committed_when_killed": ok_at_kill,
        "killed_worker_commits": w2_commits, "half_written_right_after_kill": torn[:10],
        "two_workers_s": round(first_phase, 1),
        "third_worker_s": round(wall - first_phase, 1), "per_worker": summaries,
        "embedded_texts": sum(s.get("embedded_texts", 0) for s in summaries.values()),
    }
    if killed_file is None:
        result["kill_missed"] = "w2 sluttede, før den holdt et dokument efter første commit"
    return result, dsn


def workers_part(pg: Server, workdir: Path) -> dict:
    """Runs (a), (b), (c), each judged against (a)."""
    logs = workdir / "worker-logs"
    logs.mkdir(exist_ok=True)
    say("Arbejdere (a): én arbejder ...")
    one, dsn_a = plain_run(pg, logs, ["w1"])
    reference = snapshot(dsn_a)
    runs = {"one_worker": (one, dsn_a)}
    say(f"  {one['wall_s']} s. (b): to arbejdere samtidig ...")
    runs["two_workers"] = plain_run(pg, logs, ["w1", "w2"])
    say(f"  {runs['two_workers'][0]['wall_s']} s. (c): to arbejdere, den ene dræbes, "
        "en tredje afslutter ...")
    runs["two_workers_one_killed"] = killed_run(pg, logs)
    out = {}
    for name, (result, dsn) in runs.items():
        commits = sum(s.get("committed", 0) for s in result["per_worker"].values())
        commits += result.get("killed_worker_commits", 0)
        result.update(judge_run(snapshot(dsn), reference, commits))
        if result.get("half_written_right_after_kill"):
            result["nothing_half_written"] = False
        out[name] = result
    return out


# --------------------------------------------------------------------------- output
_VERBS = ("search", "search_internal", "search_filtered", "search_filtered_internal", "ask",
          "precedents", "timeline")


def print_archive(r: dict) -> None:
    f, p = r["file"], r["postgresql"]

    def mib(n: int | None) -> str:
        return "-" if n is None else f"{n / 2**20:.1f}"

    rows = [
        ("chunks / dokumenter", f"{f['chunks']} / {f['documents']}", f"{p['chunks']} / {p['documents']}"),
        ("byg s (syntetiske oven på korpus)", f["build_s"], p["build_s"]),
        ("  model-indlejrede tekster i bygget", f["build_embedded_texts"], p["build_embedded_texts"]),
        ("korpus s (PG: PDF'er + OCR, vektorer fra cache)", "kopieret", p["real_build_s"]),
        ("cache-fyldning s / VACUUM ANALYZE s", "-", f"{p['cache_fill_s']} / {p['analyze_s']}"),
        ("størrelse MiB (heraf embedding-cache)", f"{mib(f['size_bytes'])} ({mib(f['embcache_bytes'])})",
         f"{mib(p['size_bytes'])} ({mib(p['embcache_bytes'])})"),
    ]
    if "measure_error" in f or "measure_error" in p:
        rows.append(("måling", f.get("measure_error", "ok"), p.get("measure_error", "ok")))
    rows.append(("åbning s", f.get("open_s", "-"), p.get("open_s", "-")))
    rows.append(("peak RSS GiB (læser; PG: + server-PSS)", f.get("rss_gib", "-"),
                 f"{p.get('rss_gib', '-')} + {p.get('server_pss_gib', '-')}"))
    for verb in _VERBS:
        rows.append((f"{verb} p50 / p95 ms",
                     *(f"{s.get(f'{verb}_p50_ms', '-')} / {s.get(f'{verb}_p95_ms', '-')}" for s in (f, p))))
    say("| måling | fil | PostgreSQL |")
    say("| --- | ---: | ---: |")
    for label, a, b in rows:
        say(f"| {label} | {a} | {b} |")


def print_workers(r: dict) -> None:
    say("| kørsel | s | belastning før | indlejret | én gang | samme chunks som (a) | intet halvt | cache |")
    say("| --- | ---: | ---: | ---: | --- | --- | --- | --- |")
    for name, run in r.items():
        say(f"| {name} | {run['wall_s']} | {run['load_avg_1m_before']} | {run['embedded_texts']} | "
            f"{run['indexed_exactly_once']} | {run['same_chunks_as_one_worker']} | "
            f"{run['nothing_half_written']} | {run['embedding_cache']} |")
    for name, run in r.items():
        order = sorted(run["claimed_after_s"].items(), key=lambda kv: kv[1])
        say(f"{name}: claimed after s: "
            + ", ".join(f"{f} {t} ({run['indexed_by'][f]})" for f, t in order))
    killed = r.get("two_workers_one_killed", {})
    if killed.get("killed"):
        say(f"(c): w2 dræbt efter {killed['killed_after_s']} s med {killed['killed_holding']} i hånden; "
            f"to arbejdere {killed['two_workers_s']} s, tredje arbejder {killed['third_worker_s']} s")


# --------------------------------------------------------------------------- main
def run(args: argparse.Namespace, workdir: Path) -> dict:
    result: dict = {"machine": machine(), "load_avg_start": [round(x, 2) for x in os.getloadavg()]}
    say(f"Maskine: {result['machine']}; belastning {result['load_avg_start'][0]:.2f}")
    started = time.perf_counter()
    with server(args.dsn, workdir) as pg:
        try:
            if args.chunks is not None:
                result.update(chunks=args.chunks, **archive_part(args, workdir, pg))
                print_archive(result)
            if args.workers:
                result["workers"] = workers_part(pg, workdir)
                print_workers(result["workers"])
        finally:
            if not args.keep_databases:
                pg.drop_all()
    result["total_s"] = round(time.perf_counter() - started, 1)
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=None, help="the archive part, at N chunks")
    parser.add_argument("--workers", action="store_true", help="the indexing-workers part")
    parser.add_argument("--dsn", default=None,
                        help="an existing server (its user must be allowed to CREATE DATABASE); "
                        "default: a throwaway pgserver")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp dir, removed after")
    parser.add_argument("--sample-index", type=Path, default=None,
                        help="as bench_archive: an index of corpus/ (default: built first)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--faiss", choices=FAISS_KINDS, default="flat",
                        help="as bench_archive: the file store's vector index kind")
    parser.add_argument("--keep-databases", action="store_true",
                        help="leave the benchmark databases on a --dsn server")
    parser.add_argument("--measure-only", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_only is None and args.chunks is None and not args.workers:
        parser.error("vælg --chunks N og/eller --workers")
    if args.chunks is not None and args.chunks < 1:
        parser.error("--chunks skal være positiv")
    return args


def main(argv: list[str] | None = None) -> None:
    from kommunesoeg.core.errors import KommunesoegError

    args = parse_args(argv)
    if args.measure_only is not None:  # the child process of measure_in_child
        measure_child_main(args.measure_only, args.workdir, args.out)
        return
    keep = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-pg-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args, workdir)
    except (BenchError, KommunesoegError, OSError) as exc:
        raise SystemExit(f"FEJL: {(str(exc).strip().splitlines() or [type(exc).__name__])[0]}") from None
    except Exception as exc:  # psycopg.Error without importing psycopg at the top
        if type(exc).__module__.split(".")[0] != "psycopg":
            raise
        raise SystemExit(f"FEJL: PostgreSQL: {(str(exc).strip().splitlines() or [type(exc).__name__])[0]}") from None
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json is not None:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        say(f"Skrev {args.json}")


if __name__ == "__main__":
    main()
