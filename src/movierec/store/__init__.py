"""The store: the system's database behind SQLAlchemy Core.

`database` opens it from a URL (SQLite by default, PostgreSQL by `store.url`); `tables` declares
the tables and `schema` migrates a database to them (Alembic, `migrations/`); `writer` is the
one batching writer every table's appends go through; `accounts` and `api_keys` read and write
who may use the API, `login_failures` the wrong passwords every API process counts alike.
Readers (monitoring) query it through the same modules, so both backends answer alike.
"""
