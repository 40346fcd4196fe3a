"""The store: the system's database behind SQLAlchemy Core.

`database` opens it from a URL (SQLite by default, PostgreSQL by `store.url`) and creates the
tables of `tables`; `writer` is the one batching writer every table's appends go through.
Readers (monitoring) query it through the same modules, so both backends answer alike.
"""
