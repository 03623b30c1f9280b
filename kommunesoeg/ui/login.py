"""Sidebar login for internal users; the role it sets is passed to every Searcher call."""

from __future__ import annotations

import streamlit as st

from kommunesoeg import auth


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
        st.sidebar.error(f"Login er ikke sat op korrekt: {exc}")
        return
    with st.sidebar.expander("Intern login"):
        if not users:
            st.caption(
                "Ingen brugere er sat op. Se README: `kommunesoeg hash-password` og "
                "`KOMMUNESOEG_USERS_FILE`."
            )
            return
        with st.form("login_form", border=False):
            username = st.text_input("Brugernavn", key="login_user")
            password = st.text_input("Adgangskode", type="password", key="login_password")
            submitted = st.form_submit_button("Log ind")
        if submitted:
            if auth.verify(users, username, password):
                st.session_state["role"] = "internal"
                st.session_state["user"] = username.strip()
                st.rerun()
            else:
                st.error("Forkert brugernavn eller adgangskode.")
