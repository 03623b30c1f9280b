"""Sidebar login for internal users; the role it sets is passed to every Searcher call.

Logins go through `auth.attempt_login`, which slows password guessing down per user name and
per client address (state in a SQLite file next to the audit log, so it holds across
sessions, reruns and app processes) and writes every failure and lockout to the audit log.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import streamlit as st

from kommunesoeg import auth
from kommunesoeg.core.errors import KommunesoegError
from kommunesoeg.ui.common import index_dir

log = logging.getLogger("kommunesoeg.app")
UNKNOWN_CLIENT = "ukendt"
_LOGIN_BROKEN = (
    "Login kan ikke gennemføres lige nu, fordi serveren ikke kan skrive sin log over "
    "loginforsøg. Kontakt den, der driver Kommunesøg."
)


def _configured_users() -> dict[str, str]:
    users = auth.load_users()
    if users:
        return users
    try:
        return auth.users_from_secrets(st.secrets)
    except Exception:  # noqa: BLE001 - no secrets.toml simply means no secrets users
        return {}


def _logout() -> None:
    st.session_state["role"] = "public"
    st.session_state.pop("user", None)


def client_address() -> str:
    """The browser's address. Behind a reverse proxy on the same machine Streamlit sees
    127.0.0.1 (reported as None), and then the proxy's `X-Real-IP` header names the client
    (docs/deploy.md sets it); a header from a remote peer is ignored, it could be forged."""
    try:
        direct = st.context.ip_address
        forwarded = None if direct else st.context.headers.get("X-Real-IP")
    except Exception:  # noqa: BLE001 - no request context (bare mode, tests)
        return UNKNOWN_CLIENT
    return (direct or (forwarded or "").strip() or UNKNOWN_CLIENT)[:64]


def _now() -> float:
    """The throttle's clock (a module function, so a test can freeze it)."""
    return time.time()


def _check(users: dict[str, str], username: str, password: str) -> auth.LoginResult:
    """The login throttle is kept beside the audit log file, or (an index in PostgreSQL,
    audited in the database) in the working directory's kommunesoeg-state/."""
    from retriever.audit import AuditLog
    from retriever.search import default_audit_log

    audit = default_audit_log(index_dir())
    state = audit.path.parent if isinstance(audit, AuditLog) else Path("kommunesoeg-state")
    return auth.attempt_login(
        users,
        username,
        password,
        client=client_address(),
        throttle=auth.LoginThrottle(state / auth.THROTTLE_FILE, clock=_now),
        audit=audit,
    )


def render_sidebar() -> None:
    st.sidebar.subheader("Adgang")
    if st.session_state.get("role") == "internal":
        st.sidebar.success(f"Logget ind som {st.session_state.get('user')} (intern)")
        st.sidebar.button("Log ud", on_click=_logout, key="logout")
        return
    st.sidebar.caption(
        "Du ser de offentlige dokumenter. Medarbejdere kan logge ind og se lukkede punkter."
    )
    try:
        users = _configured_users()
    except auth.UsersFileError as exc:
        # the message names the server's file: for the log, not for a public visitor
        log.error("brugerfilen kan ikke bruges: %s", exc)
        st.sidebar.error("Login er ikke sat op korrekt. Kontakt den, der driver Kommunesøg.")
        return
    with st.sidebar.expander("Intern login"):
        if not users:
            st.caption(
                "Ingen brugere er sat op. Se README: `kommunesoeg hash-password` og "
                f"`{auth.USERS_FILE_ENV}`."
            )
            return
        with st.form("login_form", border=False):
            username = st.text_input("Brugernavn", key="login_user")
            password = st.text_input("Adgangskode", type="password", key="login_password")
            submitted = st.form_submit_button("Log ind")
        if not submitted:
            return
        try:
            result = _check(users, username, password)
        except (OSError, sqlite3.Error, KommunesoegError) as exc:  # e.g. AuditLogError
            log.error("login: loginforsøget kan ikke registreres: %s", exc)
            st.error(_LOGIN_BROKEN)
            return
        if result.ok:
            st.session_state["role"] = "internal"
            st.session_state["user"] = username.strip()
            st.rerun()
        else:
            st.error(result.message)
