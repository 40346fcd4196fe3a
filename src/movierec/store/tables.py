"""The store's tables, as SQLAlchemy Core metadata (one `Table` per kind of record).

`request_logs` holds the spec's columns, one row per served request (`movierec.api.logger`
writes them, monitoring reads them). Conventions: `timestamp` is UTC without a time zone (on
SQLite the text `YYYY-MM-DD HH:MM:SS.ffffff`, which sorts like time); `user_id` is NULL for
/similar and /popular; `recommendations` and `scores` are JSON arrays as text (movie ids,
floats; the scores exactly as answered); `fallback_reason` is NULL unless `is_fallback`.

`request_id` is the UUID4 the answer gave (`movierec.api.request_ids`; native `uuid` on
PostgreSQL, canonical text on SQLite), so feedback can name the answer it responds to. It is
not indexed: a random key would scatter every insert across the B-tree (about 3x the cost of
an append, measured on SQLite); reports read by time, which is.

`feedback_events` holds what users tell the service (`movierec.api.feedback` writes them):
`event` is 'rating' (with `value` 0.5..5), 'click', 'watch' or 'dislike'; `request_id` the
logged answer the event responds to, with `request_known` false when the service never
issued that id; `model_version` the model serving when the event arrived; `created_at` unix
seconds. `event_id` is minted by the API as it accepts the event (so a 202 can name it): it
grows with time (`movierec.store.feedback`), which is what every worker's reader follows.
`feedback_sources` hands each API process its part of the event ids; `feedback_erasures`
records each `DELETE /users/{id}/feedback` (events up to `up_to_event_id`), so that every
worker forgets them. `app_users` are the users created through the API, with ids above the
dataset's largest.

Accounts: `accounts` holds who may sign in (the email normalised and unique, the password as
an argon2id hash) and the recommender `user_id` the account acts for: a fresh id above the
dataset's, or in demo mode a MovieLens id it claimed (`claimed`). `refresh_tokens` holds the
SHA-256 of each refresh token (never the token); the tokens of one sign-in share a
`session_id`, which the access tokens carry, so revoking a session ends them all. `api_keys`
holds service keys: the public `key_id`, the SHA-256 of the secret part and the
space-separated scopes. `login_failures` holds each wrong password of the last window, twice:
under the account's key (`kind` 'account': the email as typed, normalised) and the client
address's ('address'), each as its SHA-256 (a password typed into the email field is not kept);
every API process counts the same rows (`movierec.store.login_failures`). Times of these tables
are unix seconds.

Every change to these tables needs a migration (`movierec.store.migrations`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
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

# SQLite numbers rows itself only for an INTEGER PRIMARY KEY (a BIGINT key would stay NULL).
RowId = BigInteger().with_variant(Integer, "sqlite")

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", RowId, primary_key=True, autoincrement=True),
    Column("email", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("user_id", BigInteger, nullable=False, unique=True),
    Column("claimed", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("session_id", String(32), nullable=False),
    Column("account_id", RowId, ForeignKey("accounts.account_id"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked_at", Float),
    Index("idx_refresh_tokens_session", "session_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("name", Text, nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("failure_id", RowId, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("failed_at", Float, nullable=False),
    Index("idx_login_failures_key", "kind", "key_hash", "failed_at"),
    Index("idx_login_failures_time", "failed_at"),
)


feedback_events = Table(
    "feedback_events",
    metadata,
    Column("event_id", RowId, primary_key=True, autoincrement=True),
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

feedback_sources = Table(
    "feedback_sources",
    metadata,
    Column("source_id", RowId, primary_key=True, autoincrement=True),
    Column("created_at", Float, nullable=False),
)

feedback_erasures = Table(
    "feedback_erasures",
    metadata,
    Column("erasure_id", RowId, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("up_to_event_id", BigInteger, nullable=False),
    Column("deleted", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
)

app_users = Table(
    "app_users",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("created_at", Float, nullable=False),
)
