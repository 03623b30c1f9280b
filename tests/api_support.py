"""Shared helpers for the API tests: an app over an index, an internal key, a free port."""

from __future__ import annotations

import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_app(index: Path, tmp: Path, embedder=None, **overrides):
    from kommunesoeg.api.app import Settings, create_app

    settings = Settings(index_dir=index, corpus_dir=ROOT / "corpus", keys_file=tmp / "keys.sqlite",
                        audit_log=tmp / "audit.jsonl", rate_limit=None, embedder=embedder,
                        check_seconds=0.0)
    for key, value in overrides.items():
        setattr(settings, key, value)
    return create_app(settings)


def new_key(tmp: Path, user: str = "anna") -> str:
    from kommunesoeg.api.keys import ApiKeys

    return ApiKeys(tmp / "keys.sqlite").create(user)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
