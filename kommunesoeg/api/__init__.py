"""`kommunesoeg serve`: the HTTP API (FastAPI on uvicorn) over the same `Searcher` as the CLI
and the app. See README.md ("HTTP API") and docs/json-schema.md for the response schema.

- `app.create_app`: the FastAPI application (endpoints, errors as JSON, limits, metrics);
- `holder.SearcherHolder`: one loaded Searcher per index generation, swapped atomically;
- `keys.ApiKeys`: API keys for internal users, stored only as hashes;
- `models`: the response schema as Pydantic models (mirrors docs/json-schema.md);
- `cli`: `kommunesoeg serve`, `create-api-key`, `revoke-api-key`, `list-api-keys`.
"""
