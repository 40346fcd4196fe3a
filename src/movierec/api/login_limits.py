"""Limits on wrong passwords, per account (the email as typed, normalised) and per client
address, with the `limits` library's moving windows.

Only failures count; a success clears its account's count. An email without an account is
limited like one with, so the limit tells nothing about which emails exist. The counts live
in the worker's memory: with N workers an address gets up to N times the limit.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from movierec.api.errors import TooManyAttemptsError


class LoginLimiter:
    def __init__(self, per_account: str, per_address: str) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._limits: list[tuple[RateLimitItem, str]] = [
            (parse(per_account), "account"),
            (parse(per_address), "address"),
        ]

    def check(self, email: str, address: str) -> None:
        """`TooManyAttemptsError` with the seconds to wait when either limit is used up."""
        for (limit, kind), key in zip(self._limits, (email, address), strict=True):
            if not self._limiter.test(limit, kind, key):
                reset = self._limiter.get_window_stats(limit, kind, key).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise TooManyAttemptsError(
                    f"too many failed sign-ins; try again in {wait} s", retry_after_s=wait
                )

    def failed(self, email: str, address: str) -> None:
        for (limit, kind), key in zip(self._limits, (email, address), strict=True):
            self._limiter.hit(limit, kind, key)

    def succeeded(self, email: str) -> None:
        limit, kind = self._limits[0]
        self._limiter.clear(limit, kind, email)
