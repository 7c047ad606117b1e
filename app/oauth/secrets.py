"""Random secrets handed out once (client secrets, codes, refresh and reset tokens)
and the hashes kept in their place."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, stored: bytes | None) -> bool:
    return stored is not None and hmac.compare_digest(hash_secret(secret), stored)
