"""Login limits over the store, on both backends: two limiters on one store stand for two API
workers (or replicas), and must count the same failures. Windows are seconds long, from the
settings' notation, so that expiry is seen without long sleeps."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from movierec.api.errors import TooManyAttemptsError
from movierec.api.login_limits import LoginLimiter
from movierec.config import AuthSettings
from movierec.store.database import Database, create_engine
from movierec.store.schema import upgrade
from movierec.store.tables import login_failures
from tests.databases import row_count, table_rows

EMAIL = "person@example.org"
ADDRESS = "192.0.2.7"


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:
    upgrade(database)
    engine = create_engine(database)
    yield engine
    engine.dispose()


def limiter(engine: Engine, per_account: str, per_address: str = "1000/minute") -> LoginLimiter:
    settings = AuthSettings(
        failed_logins_per_account=per_account, failed_logins_per_address=per_address
    )
    return LoginLimiter(
        engine, settings.failed_logins_per_account, settings.failed_logins_per_address
    )


def retry_after(worker: LoginLimiter, email: str = EMAIL, address: str = ADDRESS) -> int:
    with pytest.raises(TooManyAttemptsError) as refused:
        worker.check(email, address)
    return refused.value.retry_after_s


def test_failures_through_one_worker_count_on_another(engine: Engine) -> None:
    first, second = limiter(engine, "3/minute"), limiter(engine, "3/minute")
    started = time.time()
    first.failed(EMAIL, ADDRESS)
    second.failed(EMAIL, ADDRESS)
    first.check(EMAIL, ADDRESS)  # two of three
    first.failed(EMAIL, ADDRESS)
    wait = retry_after(second)
    assert 60 - math.ceil(time.time() - started) <= wait <= 60
    second.check("other@example.org", "192.0.2.8")  # other keys are free


def test_the_address_limit_counts_every_email_on_every_worker(engine: Engine) -> None:
    first, second = (limiter(engine, "100/minute", per_address="2/minute") for _ in range(2))
    first.failed("one@example.org", ADDRESS)
    second.failed("two@example.org", ADDRESS)
    assert 1 <= retry_after(first, "three@example.org") <= 60
    first.check("three@example.org", "192.0.2.8")


def test_a_success_on_one_worker_clears_the_account_on_all(engine: Engine) -> None:
    first, second = limiter(engine, "2/minute"), limiter(engine, "2/minute")
    first.failed(EMAIL, ADDRESS)
    first.failed(EMAIL, ADDRESS)
    retry_after(second)
    second.succeeded(EMAIL)
    first.check(EMAIL, ADDRESS)
    second.failed(EMAIL, ADDRESS)
    first.check(EMAIL, ADDRESS)  # one failure since the success


def test_a_moving_window_frees_a_key_when_its_oldest_failure_leaves(engine: Engine) -> None:
    worker = limiter(engine, "2 per 2 seconds")
    worker.failed(EMAIL, ADDRESS)
    first_done = time.time()
    time.sleep(1.1)
    worker.failed(EMAIL, ADDRESS)
    checked = time.time()
    wait = retry_after(worker)
    # The wait runs to the oldest failure's leaving (about 1 s), not the newest's (2 s).
    assert 1 <= wait <= math.ceil(first_done + 2 - checked)
    time.sleep(max(0.0, first_done + 2 - time.time()) + 0.05)
    worker.check(EMAIL, ADDRESS)  # the oldest has left; the newest still counts:
    worker.failed(EMAIL, ADDRESS)
    retry_after(worker)


def test_the_store_keeps_digests_and_prunes_failures_older_than_every_window(
    database: Database, engine: Engine
) -> None:
    worker = limiter(engine, "5 per 1 second", per_address="5 per 1 second")
    worker.failed(EMAIL, ADDRESS)
    rows = table_rows(database, login_failures)
    assert {row["kind"] for row in rows} == {"account", "address"}  # one row per key
    assert not {EMAIL, ADDRESS} & {row["key_hash"] for row in rows}
    time.sleep(1.05)
    worker.failed("other@example.org", ADDRESS)
    assert row_count(database, login_failures) == 2
