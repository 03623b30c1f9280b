"""Internal login: usernames and bcrypt hashes come from configuration, never from the repo.

The users file is named by `KOMMUNESOEG_USERS_FILE` (TOML or JSON: `username = "<bcrypt
hash>"`, optionally under a `[users]` table); Streamlit secrets (`[users]` in
`.streamlit/secrets.toml`) are the fallback. Only hashes are stored, so a leaked file does
not leak passwords, and `kommunesoeg hash-password` makes the hash to put there.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import bcrypt
import click

from indexer.errors import KommunesoegError

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
