"""Internal login: usernames and bcrypt hashes come from configuration, never from the repo.

The users file is named by `KOMMUNESOEG_USERS_FILE` (TOML or JSON: `username = "<bcrypt
hash>"`, optionally under a `[users]` table); Streamlit secrets (`[users]` in
`.streamlit/secrets.toml`) are the fallback. Only hashes are stored, so a leaked file does
not leak passwords, and `kommunesoeg hash-password` makes the hash to put there.

Password guessing is slowed by `LoginThrottle`: failures are counted per user name and per
client address in a small SQLite file next to the audit log (shared by every session, rerun
and app process); from the 5th failure in a row a key is locked for 2^(n-5) seconds, at
most 15 minutes. During a lockout the password is not even checked. `attempt_login` is the
one entry point; it writes every failure and refusal to the audit log.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import click

from kommunesoeg.core.errors import KommunesoegError

USERS_FILE_ENV = "KOMMUNESOEG_USERS_FILE"


class UsersFileError(KommunesoegError):
    """The configured users file cannot be read (names the file)."""


def load_users(path: Path | str | None = None) -> dict[str, str]:
    """Username -> bcrypt hash from `path`, else `$KOMMUNESOEG_USERS_FILE`; {} when unset.

    A missing or malformed file raises UsersFileError rather than silently disabling login,
    so an operator notices a typo in the path.
    """
    raw = path or os.environ.get(USERS_FILE_ENV)
    if not raw:
        return {}
    file = Path(raw)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsersFileError(f"{file}: brugerfilen kan ikke læses ({exc.strerror})") from None
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsersFileError(f"{file}: brugerfilen er ikke gyldig TOML/JSON ({exc})") from None
    return _users_table(data, str(file))


def _users_table(data: Mapping, source: str) -> dict[str, str]:
    table = data.get("users", data) if isinstance(data, Mapping) else None
    if not isinstance(table, Mapping):
        raise UsersFileError(f"{source}: forventede en tabel 'brugernavn = bcrypt-hash'")
    users: dict[str, str] = {}
    for name, hashed in table.items():
        if not isinstance(hashed, str) or not hashed.startswith("$2"):
            raise UsersFileError(f"{source}: feltet '{name}' er ikke en bcrypt-hash")
        users[str(name)] = hashed
    return users


def users_from_secrets(secrets: Mapping) -> dict[str, str]:
    """Users from a Streamlit secrets mapping (`[users]` table); {} when absent."""
    table = secrets.get("users") if isinstance(secrets, Mapping) else None
    if not table:
        return {}
    return _users_table({"users": dict(table)}, "secrets.toml")


def verify(users: Mapping[str, str], username: str, password: str) -> bool:
    """True when `password` matches the stored hash; unknown users cost a hash check too."""
    hashed = users.get(username.strip())
    # Checking against a dummy hash for unknown users keeps the timing the same, so the
    # response time does not reveal which usernames exist.
    target = hashed or _DUMMY_HASH
    try:
        ok = bcrypt.checkpw(password.encode("utf-8"), target.encode("utf-8"))
    except ValueError:
        return False
    return ok and hashed is not None


def hash_password(password: str) -> str:
    """A bcrypt hash (random salt) of `password`."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


_DUMMY_HASH = hash_password("kommunesoeg-dummy")


@click.command("hash-password")
@click.option(
    "--password",
    prompt="Adgangskode",
    hide_input=True,
    confirmation_prompt="Gentag adgangskode",
    help="Adgangskoden (spørges interaktivt, hvis den udelades).",
)
@click.option("--user", "username", default=None, help="Skriv en færdig linje 'navn = \"hash\"'.")
def hash_password_command(password: str, username: str | None) -> None:
    """Udskriv en bcrypt-hash til brugerfilen ($KOMMUNESOEG_USERS_FILE).

    \b
    Eksempel:
      kommunesoeg hash-password --user anna >> brugere.toml
      export KOMMUNESOEG_USERS_FILE=$PWD/brugere.toml
    """
    if not password:
        raise click.ClickException("password: adgangskoden må ikke være tom")
    hashed = hash_password(password)
    click.echo(f'{json.dumps(username)} = "{hashed}"' if username else hashed)


COMMANDS = [hash_password_command]


# ---------------------------------------------------------------------- backoff
FREE_FAILURES = 4  # failures 1-4 cost nothing; the 5th and every later one lock
MAX_LOCK_SECONDS = 15 * 60
# A run of failures is forgotten after a quiet day, so last month's typos cost nothing.
FORGET_AFTER_SECONDS = 24 * 3600
THROTTLE_FILE = "login_forsoeg.sqlite"
_MAX_NAME_CHARS = 100


def lock_seconds(failures: int) -> int:
    """Lockout after the `failures`-th failure in a row: 0 for the first four, then 1, 2,
    4, ... seconds (2^(n-5)), capped at 15 minutes."""
    if failures <= FREE_FAILURES:
        return 0
    return min(MAX_LOCK_SECONDS, 2 ** min(failures - FREE_FAILURES - 1, 20))


class LoginThrottle:
    """Consecutive login failures and lockouts per key, kept in SQLite.

    SQLite gives what the counts need without a server: one file shared by every Streamlit
    session and process, and `BEGIN IMMEDIATE` transactions, so a check and the count it
    leads to are one atomic step (parallel sessions cannot slip guesses in between).
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._connect()
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS failures (key TEXT PRIMARY KEY, count INTEGER NOT"
                " NULL, last REAL NOT NULL, locked_until REAL NOT NULL)"
            )
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        # autocommit; begin_attempt opens its own BEGIN IMMEDIATE transaction
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def begin_attempt(self, keys: Iterable[str]) -> int:
        """Seconds left of a lockout on any of `keys` (the attempt is refused), else 0: the
        attempt is counted as a failure up front, and `succeeded` clears it again."""
        keys = list(dict.fromkeys(keys))
        now = self.clock()
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            # forgotten runs go, so a stream of made-up user names cannot grow the file forever
            db.execute(
                "DELETE FROM failures WHERE last < ? AND locked_until < ?",
                (now - FORGET_AFTER_SECONDS, now),
            )
            rows = {
                key: db.execute(
                    "SELECT count, last, locked_until FROM failures WHERE key = ?", (key,)
                ).fetchone()
                for key in keys
            }
            wait = max((row[2] - now for row in rows.values() if row), default=0.0)
            if wait > 0:
                db.execute("COMMIT")
                return math.ceil(wait)
            for key, row in rows.items():
                count = 1 if not row or now - row[1] > FORGET_AFTER_SECONDS else row[0] + 1
                db.execute(
                    "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)",
                    (key, count, now, now + lock_seconds(count)),
                )
            db.execute("COMMIT")
            return 0
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def succeeded(self, keys: Iterable[str]) -> None:
        """A correct password: the run of failures on these keys is over."""
        db = self._connect()
        try:
            db.executemany("DELETE FROM failures WHERE key = ?", [(k,) for k in keys])
        finally:
            db.close()

    def lockout(self, keys: Iterable[str]) -> int:
        """Seconds until every key in `keys` may try again (0: not locked)."""
        now = self.clock()
        db = self._connect()
        try:
            waits = [
                row[0] - now
                for key in keys
                if (
                    row := db.execute(
                        "SELECT locked_until FROM failures WHERE key = ?", (key,)
                    ).fetchone()
                )
            ]
        finally:
            db.close()
        wait = max(waits, default=0.0)
        return math.ceil(wait) if wait > 0 else 0


@dataclass(frozen=True)
class LoginResult:
    """The outcome of one login attempt; `message` is the Danish line to show."""

    ok: bool
    wait_seconds: int = 0
    message: str = ""


WRONG_TEXT = "Forkert brugernavn eller adgangskode."


def lockout_text(seconds: int) -> str:
    return f"For mange forkerte forsøg – prøv igen om {seconds} sekunder."


def throttle_keys(username: str, client: str) -> list[str]:
    """One key per user name (case-insensitive) and one per client address."""
    return [f"bruger:{username.strip().casefold()[:_MAX_NAME_CHARS]}", f"klient:{client}"]


def attempt_login(
    users: Mapping[str, str],
    username: str,
    password: str,
    *,
    client: str,
    throttle: LoginThrottle,
    audit,
) -> LoginResult:
    """Check a login with backoff; every failure, lockout and success goes to `audit`
    (a retriever.audit.AuditLog). During a lockout the password is not checked at all."""
    keys = throttle_keys(username, client)
    shown_user = username.strip()[:_MAX_NAME_CHARS] or "(tomt)"
    wait = throttle.begin_attempt(keys)
    if wait:
        _audit(audit, shown_user, "login_spaerret", f"klient {client}; spærret {wait} s")
        return LoginResult(False, wait, lockout_text(wait))
    if verify(users, username, password):
        throttle.succeeded(keys)
        _audit(audit, shown_user, "login", f"klient {client}")
        return LoginResult(True)
    _audit(audit, shown_user, "login_fejl", f"klient {client}")
    wait = throttle.lockout(keys)
    if wait:
        _audit(audit, shown_user, "login_spaerring", f"klient {client}; spærret {wait} s")
        return LoginResult(False, wait, lockout_text(wait))
    return LoginResult(False, 0, WRONG_TEXT)


def _audit(audit, user: str, action: str, detail: str) -> None:
    audit.record(user=user, action=action, query=detail, hits=[])
