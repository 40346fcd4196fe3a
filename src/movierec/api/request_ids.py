"""Request ids: minted by the API for each answer it logs, and recognised when they come back.

An id is a UUID4 whose last 48 bits are a keyed BLAKE2b digest of the rest, so any worker
of any replica can tell, without a lookup, whether this service issued an id that a feedback
event names (`request_known`): a made-up or mistyped id passes with odds of 2^-48. The key
is the project's, not a secret: this marks ids the service issued, it does not authenticate.

    >>> issued(mint()), issued("7f3c1e0a-2b4d-4c6e-8f10-123456789abc")
    (True, False)
"""

from __future__ import annotations

import hashlib
import os
import uuid

KEY = b"movierec request ids"
TAG_BYTES = 6


def _tag(head: bytes) -> bytes:
    return hashlib.blake2b(head, digest_size=TAG_BYTES, key=KEY).digest()


def mint() -> str:
    """A new request id (canonical UUID text)."""
    head = bytearray(os.urandom(16 - TAG_BYTES))
    head[6] = (head[6] & 0x0F) | 0x40  # version 4
    head[8] = (head[8] & 0x3F) | 0x80  # RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(head) + _tag(bytes(head))))


def issued(request_id: str) -> bool:
    """Whether `request_id` is one that `mint` made."""
    try:
        raw = uuid.UUID(request_id).bytes
    except ValueError:
        return False
    return raw[-TAG_BYTES:] == _tag(raw[:-TAG_BYTES])
