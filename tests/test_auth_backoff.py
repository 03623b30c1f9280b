"""Password guessing is slowed down per user and per client, and audited (issue 9, finding 7).

Real bcrypt hashes, a real SQLite throttle file and the real audit log; only the clock is a
test clock, so lockouts of minutes are checked without waiting for them.
"""

from __future__ import annotations

import json
from pathlib import Path

import bcrypt
import pytest

from kommunesoeg import auth
from kommunesoeg.auth import LoginThrottle, attempt_login, lock_seconds
from retriever.audit import AuditLog

PASSWORD = "korrekt hest batteri"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def users() -> dict[str, str]:
    # the lowest bcrypt cost keeps the many attempts below fast; verify() is the real one
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    return {"anna": hashed, "bo": hashed}


@pytest.fixture
def env(tmp_path):
    clock = Clock()
    audit_path = tmp_path / "audit.jsonl"
    throttle = LoginThrottle(tmp_path / auth.THROTTLE_FILE, clock=clock)
    return clock, throttle, AuditLog(audit_path), audit_path


def login(users, env, username, password, client="10.0.0.1"):
    _, throttle, audit, _ = env
    return attempt_login(users, username, password, client=client, throttle=throttle, audit=audit)


def audit_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_lock_schedule_doubles_from_the_fifth_failure_and_is_capped():
    assert [lock_seconds(n) for n in range(1, 11)] == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32]
    assert lock_seconds(15) == 900 and lock_seconds(10_000) == 15 * 60


def test_five_failures_lock_the_user_with_a_danish_message(users, env):
    clock, *_ = env
    results = [login(users, env, "anna", f"gæt {i}") for i in range(4)]
    assert [r.message for r in results] == ["Forkert brugernavn eller adgangskode."] * 4
    fifth = login(users, env, "anna", "gæt 5")
    assert not fifth.ok and fifth.wait_seconds == 1
    assert fifth.message == "For mange forkerte forsøg – prøv igen om 1 sekunder."
    # while locked, even the correct password is refused (and not checked)
    locked = login(users, env, "anna", PASSWORD)
    assert not locked.ok and locked.message.startswith("For mange forkerte forsøg")
    clock.now += 1.5
    sixth = login(users, env, "anna", "gæt 6")
    assert sixth.wait_seconds == 2  # doubled
    clock.now += 2.5
    assert login(users, env, "anna", PASSWORD).ok  # after the wait the right password works
    # a success ends the run: the next typo costs nothing
    assert login(users, env, "anna", "tastefejl").message == "Forkert brugernavn eller adgangskode."


def test_lockout_is_per_user_across_clients(users, env):
    for i in range(5):
        login(users, env, "anna", f"gæt {i}", client=f"10.0.1.{i}")
    # a sixth address gets no fresh start for the same user (user names are case-insensitive)
    result = login(users, env, " ANNA ", PASSWORD, client="10.0.1.99")
    assert not result.ok and result.wait_seconds >= 1
    # another user from another address is not affected
    assert login(users, env, "bo", PASSWORD, client="10.0.2.1").ok


def test_lockout_is_per_client_across_user_names(users, env):
    for i in range(5):
        login(users, env, f"bruger{i}", "gæt", client="10.9.9.9")
    result = login(users, env, "bo", PASSWORD, client="10.9.9.9")
    assert not result.ok and "prøv igen om" in result.message
    assert login(users, env, "bo", PASSWORD, client="10.9.9.10").ok


def test_lockouts_grow_to_fifteen_minutes_and_hold_across_throttle_objects(users, env, tmp_path):
    clock, *_ = env
    for _ in range(20):
        result = login(users, env, "anna", "gæt")
        clock.now += result.wait_seconds + 0.1
    assert result.wait_seconds == 900
    # another session/process opens the same file: the lock holds
    other = LoginThrottle(tmp_path / auth.THROTTLE_FILE, clock=clock)
    clock.now -= 10
    assert other.lockout(auth.throttle_keys("anna", "10.0.0.1")) > 0


def test_failures_and_lockouts_are_audited(users, env):
    *_, audit_path = env
    for i in range(5):
        login(users, env, "anna", f"gæt {i}", client="192.0.2.7")
    login(users, env, "anna", PASSWORD, client="192.0.2.7")
    lines = audit_lines(audit_path)
    actions = [line["action"] for line in lines]
    assert actions == ["login_fejl"] * 5 + ["login_spaerring", "login_spaerret"]
    assert all(line["user"] == "anna" and "192.0.2.7" in line["query"] for line in lines)
    assert "spærret 1 s" in lines[-1]["query"]
    assert PASSWORD not in audit_path.read_text(encoding="utf-8")


def test_a_forgotten_run_starts_again(users, env):
    clock, *_ = env
    for i in range(4):
        login(users, env, "anna", f"gæt {i}")
    clock.now += auth.FORGET_AFTER_SECONDS + 1
    assert login(users, env, "anna", "gæt").message == "Forkert brugernavn eller adgangskode."
