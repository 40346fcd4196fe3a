"""Champion/challenger routing: a fixed share of users, sticky by a hash of the user id.

A user's bucket is the first 8 bytes of BLAKE2b of the id, as a fraction of 2**64: the
same user lands in the same bucket in every worker, every replica and every restart (unlike
Python's `hash`, which is salted per process), so a user sees one model throughout a test.

>>> serves_challenger(42, 0.0), serves_challenger(42, 1.0)
(False, True)
>>> round(sum(serves_challenger(u, 0.2) for u in range(10_000)) / 10_000, 2)
0.2
"""

from __future__ import annotations

import hashlib

_SCALE = float(2**64)


def bucket(user_id: int) -> float:
    """The user's place in [0, 1)."""
    digest = hashlib.blake2b(str(user_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def serves_challenger(user_id: int, share: float) -> bool:
    """True when `user_id` belongs to the challenger's `share` of users."""
    return bucket(user_id) < share
