"""Input files' sha256, remembered by their stat signature.

Why: a no-change re-index of an archive must be cheap (target: 5 s at 1,000,000 chunks),
and at 300,000 chunks 4.7 of its 5.5 s went to reading all 11,085 input files to hash
them. A file whose size, modification time, status-change time, inode and device are all
what they were when it was hashed is taken to hold the same bytes - the rule git and rsync
use. The status-change time (ctime) is set by the kernel on every write and cannot be set
back by a program (`touch -d` moves mtime, not ctime), and a file moved into place
(`mv`, an upload written atomically) gets another inode.

A file changed within the same clock tick as its hashing could keep its signature
("racily clean", in git's words), so a hash is only remembered for a file whose
times are at least RACY_SECONDS older than the hashing; younger files are hashed again
on every build until they are old enough.

The signatures live in the index's embedding cache (table `filehash`): only a cache - a
miss or a damaged file just means hashing again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from indexer.store import EmbeddingCache, sha256_file

RACY_SECONDS = 2.0


def signature(stat: os.stat_result) -> str:
    """What must be unchanged for a file's bytes to be taken as unchanged."""
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}:{stat.st_dev}"


def hash_files(files: Sequence[Path], cache: EmbeddingCache, *,
                forget_others: bool = False) -> tuple[dict[Path, str], dict[Path, OSError]]:
    """sha256 of every file (from `cache` when its signature is unchanged), and the files
    that could not be read with their error. Newly hashed files old enough to be safe are
    recorded in `cache`; with `forget_others` (a build that names every input of the index)
    the records of all other paths are dropped, so renamed and deleted inputs leave none."""
    stats: dict[Path, os.stat_result] = {}
    failed: dict[Path, OSError] = {}
    for path in files:
        try:
            stats[path] = path.stat()
        except OSError as exc:
            failed[path] = exc
    # the absolute path names the entry (not resolved: its signature holds the inode, and
    # resolving every link of 1,000,000 paths costs more than the rest of a no-op build)
    keys = {path: os.path.abspath(path) for path in stats}
    signatures = {keys[path]: signature(st) for path, st in stats.items()}
    known = cache.get_file_hashes(signatures)
    hashes: dict[Path, str] = {}
    remember: dict[str, tuple[str, str]] = {}
    started_ns = time.time_ns()
    for path, st in stats.items():
        key = keys[path]
        if key in known:
            hashes[path] = known[key]
            continue
        try:
            hashes[path] = sha256_file(path)
        except OSError as exc:
            failed[path] = exc
            continue
        if started_ns - max(st.st_mtime_ns, st.st_ctime_ns) >= RACY_SECONDS * 1e9:
            remember[key] = (signatures[key], hashes[path])
    if remember:
        cache.put_file_hashes(remember)
    if forget_others:
        cache.keep_file_hashes(set(keys.values()))
    return hashes, failed
