"""The store's tables, as SQLAlchemy Core metadata (one `Table` per kind of record).

`request_logs` holds the spec's columns, one row per served request (`movierec.api.logger`
writes them, monitoring reads them). Conventions: `timestamp` is UTC without a time zone (on
SQLite the text `YYYY-MM-DD HH:MM:SS.ffffff`, which sorts like time); `user_id` is NULL for
/similar and /popular; `recommendations` and `scores` are JSON arrays as text (movie ids,
floats; the scores exactly as answered); `fallback_reason` is NULL unless `is_fallback`.

`request_id` is a UUID4 drawn as the row is written (native `uuid` on PostgreSQL, canonical
text on SQLite). It is not indexed: a random key would scatter every insert across the
B-tree (about 3x the cost of an append, measured on SQLite); reports read by time, which is.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)

metadata = MetaData()

request_logs = Table(
    "request_logs",
    metadata,
    Column(
        "request_id",
        Uuid(as_uuid=False).with_variant(String(36), "sqlite"),
        nullable=False,
    ),
    Column("timestamp", DateTime, nullable=False),
    Column("user_id", BigInteger),
    Column("endpoint", Text, nullable=False),
    Column("model_version", Text),
    Column("recommendations", Text, nullable=False),
    Column("scores", Text, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("is_fallback", Boolean, nullable=False, default=False),
    Column("fallback_reason", Text),
    Index("idx_request_logs_timestamp", "timestamp"),
)

feedback_events = Table(
    "feedback_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("movie_id", BigInteger, nullable=False),
    Column("event", Text, nullable=False),
    Column("value", Float),
    Column("request_id", Text),
    Column("request_known", Boolean, nullable=False),
    Column("model_version", Text),
    Column("created_at", Float, nullable=False),
    Index("idx_feedback_events_user", "user_id", "event_id"),
)
