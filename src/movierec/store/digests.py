"""Random secrets and the form the store keeps of them: their SHA-256, never the secret.

Refresh tokens and API keys are 256 random bits, so a plain SHA-256 is enough to make a
stolen table useless (there is nothing to guess); passwords, which people choose, are hashed
with argon2id instead (`movierec.api.passwords`).
"""

from __future__ import annotations

import hashlib
import secrets


def new_secret() -> str:
    """32 random bytes as URL-safe text (43 characters)."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The SHA-256 of `secret` as 64 hex digits: what the store keeps."""
    return hashlib.sha256(secret.encode()).hexdigest()
