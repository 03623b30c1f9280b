"""API keys for internal users: created by `kommunesoeg create-api-key --user NAME`, stored
only as SHA-256 hashes, revocable.

A key is `ks_<id>_<secret>`: `id` (public, 8 hex digits) finds the row, the secret (32
random bytes, URL-safe base64) is compared by its hash in constant time. A random 256-bit
secret needs no slow password hash: there is nothing to guess a dictionary against.
The file is SQLite (`api_keys.sqlite` in the index directory, outside any generation, or
$KOMMUNESOEG_API_KEYS), so the CLI can revoke a key while the server runs: every request
reads the row again.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from indexer.pg.connect import is_dsn
from kommunesoeg.core.errors import KommunesoegError

KEYS_ENV = "KOMMUNESOEG_API_KEYS"
KEYS_FILE = "api_keys.sqlite"
_KEY = re.compile(r"^ks_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")
_USER = re.compile(r"^[\w.@-]{1,100}$")


class ApiKeyError(KommunesoegError):
    """A key file that cannot be used, or a bad user name / key id (one line)."""


@dataclass(frozen=True)
class ApiKeyRow:
    key_id: str
    user: str
    created: str
    revoked: str | None


def default_keys_path(index_dir: Path | str) -> Path:
    """$KOMMUNESOEG_API_KEYS, else the key file in the index folder (for a database, in the
    working directory: point every server at one shared file with the variable)."""
    if os.environ.get(KEYS_ENV):
        return Path(os.environ[KEYS_ENV])
    return Path(KEYS_FILE) if is_dsn(str(index_dir)) else Path(index_dir) / KEYS_FILE


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ApiKeys:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def _connect(self, create: bool = False) -> sqlite3.Connection:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute(
            "CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, user TEXT NOT NULL,"
            " hash TEXT NOT NULL, created TEXT NOT NULL, revoked TEXT)"
        )
        return db

    def create(self, user: str) -> str:
        """A new key for `user`; the key itself is returned once and never stored."""
        user = user.strip()
        if not _USER.match(user):
            raise ApiKeyError(f"user: ugyldigt brugernavn '{user}' (bogstaver, tal, . _ @ -)")
        key_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        db = self._connect(create=True)
        try:
            db.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, NULL)",
                       (key_id, user, _hash(secret), _now()))
        finally:
            db.close()
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass
        return f"ks_{key_id}_{secret}"

    def revoke(self, *, user: str | None = None, key_id: str | None = None) -> int:
        """Revoke one key (by id) or every key of a user; the number revoked."""
        if not self.path.is_file():
            return 0
        db = self._connect()
        try:
            if key_id:
                cur = db.execute("UPDATE api_keys SET revoked = ? WHERE key_id = ? AND revoked"
                                 " IS NULL", (_now(), key_id))
            else:
                cur = db.execute("UPDATE api_keys SET revoked = ? WHERE user = ? AND revoked"
                                 " IS NULL", (_now(), user))
            return cur.rowcount
        finally:
            db.close()

    def rows(self) -> list[ApiKeyRow]:
        if not self.path.is_file():
            return []
        db = self._connect()
        try:
            return [ApiKeyRow(*r) for r in db.execute(
                "SELECT key_id, user, created, revoked FROM api_keys ORDER BY created")]
        finally:
            db.close()

    def user_for(self, key: str) -> str | None:
        """The user a valid, unrevoked key belongs to; None otherwise."""
        match = _KEY.match(key or "")
        if not match or not self.path.is_file():
            return None
        key_id, secret = match.groups()
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
            try:
                row = db.execute("SELECT user, hash, revoked FROM api_keys WHERE key_id = ?",
                                 (key_id,)).fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            return None
        if row is None or row[2] is not None:
            return None
        return row[0] if hmac.compare_digest(row[1], _hash(secret)) else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
