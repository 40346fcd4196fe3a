"""Limits on wrong passwords, per account (the email as typed, normalised) and per client
address: moving windows over the failures the store holds (`movierec.store.login_failures`),
so that they hold across every API worker and every replica over one store. The rates are in
the notation of the `limits` library ("5/minute", "20 per hour").

Only failures count; a success clears its account's failures. An email without an account is
limited like one with, so the limit tells nothing about which emails exist. A limited attempt
waits until the failure that fills the window leaves it (`Retry-After`). Checking costs one
indexed query per limit; a failure, one insert. Check and record are not one transaction, so
attempts arriving at the same moment may pass together: a key can overshoot its limit by the
attempts in flight at once, never by the number of workers.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from sqlalchemy import Engine

from movierec.api.errors import TooManyAttemptsError
from movierec.store import login_failures

ACCOUNT = "account"
ADDRESS = "address"


class LoginLimiter:
    def __init__(self, engine: Engine, per_account: str, per_address: str) -> None:
        self._engine = engine
        self._limits: dict[str, RateLimitItem] = {
            ACCOUNT: parse(per_account),
            ADDRESS: parse(per_address),
        }
        self._longest_s = max(limit.get_expiry() for limit in self._limits.values())

    def check(self, email: str, address: str) -> None:
        """`TooManyAttemptsError` with the seconds to wait when either limit is used up."""
        now = time.time()
        free_at = 0.0
        for kind, key in ((ACCOUNT, email), (ADDRESS, address)):
            limit = self._limits[kind]
            window_s = limit.get_expiry()
            filling = login_failures.failing_since(
                self._engine, kind, key, now - window_s, limit.amount
            )
            if filling is not None:
                free_at = max(free_at, filling + window_s)
        if free_at > now:
            wait = max(1, math.ceil(free_at - now))
            raise TooManyAttemptsError(
                f"too many failed sign-ins; try again in {wait} s", retry_after_s=wait
            )

    def failed(self, email: str, address: str) -> None:
        now = time.time()
        login_failures.record(
            self._engine, [(ACCOUNT, email), (ADDRESS, address)], now, now - self._longest_s
        )

    def succeeded(self, email: str) -> None:
        login_failures.clear(self._engine, ACCOUNT, email)
