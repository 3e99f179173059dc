"""The boundaries: every conversation with the world outside the process goes through here.

- ``storage``: the lake (Parquet + blobs), the DuckDB catalog and its named SQL, the review
  database (SQLite). The only importer of ``duckdb``, ``s3fs`` and ``sqlite3``.
- ``llm``: the gateway to OpenAI-compatible endpoints and the agent template. The only importer
  of ``openai``.
- ``validate``: the Great Expectations gate. The only importer of ``great_expectations`` (with
  ``expectations/``).
- ``runs``: the run lifecycle (start, record, fail, finish, publish) and stage results.
- ``memo``: skip-if-unchanged, keyed on a step's inputs and the source of its code.
- ``ratelimit``: platform-wide rate limits held by the Prefect server.

Imports ``tasks.core`` only (and one another).
"""
