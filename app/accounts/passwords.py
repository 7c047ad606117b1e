"""Passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's low-memory profile)
and the policy a new password must meet.

The policy follows NIST SP 800-63B: length, not the account's own address, not one of
the most common passwords; no composition rules (they make passwords harder to
remember, not to guess). Passwords are NFKC-normalised before hashing, so the same
password typed through a different input method (full-width vs half-width
characters) still matches.
"""

from __future__ import annotations

import asyncio
import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import UserError

MIN_LENGTH = 10
MAX_LENGTH = 256
# A floor, not a breach corpus: the commonest passwords long enough to pass the length
# rule. Compared case-insensitively.
COMMON = frozenset(
    {
        "1234567890",
        "12345678910",
        "123456789a",
        "0123456789",
        "1111111111",
        "abcdefghij",
        "password12",
        "password123",
        "password1234",
        "qwertyuiop",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "qwerty1234",
        "qwerty123456",
        "iloveyou123",
        "woaini1314",
        "woaini520",
        "a123456789",
        "aa123456789",
        "abc1234567",
        "abcd123456",
        "admin12345",
        "administrator",
    }
)

_hasher = PasswordHasher()
# Each hash takes ~100 ms of CPU and 64 MiB: a pool of its own keeps them off the
# event loop, bounds the memory they take at once, and leaves the default executor
# (DNS lookups and the like) free while a burst of sign-ins is hashed.
_hashing = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2")


def _normalised(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


async def _off_loop(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(_hashing, fn, *args)


async def hash_password(password: str) -> str:
    return await _off_loop(_hasher.hash, _normalised(password))


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        matches = _hasher.verify(password_hash or dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and password_hash is not None


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches. Without a hash (an account with no password), or
    with a password no policy allows, the dummy hash is checked instead and the answer
    is False, so the time taken tells nothing about the account."""
    if len(password) > MAX_LENGTH:
        password_hash, password = None, password[:MAX_LENGTH]
    return await _off_loop(_verify, password_hash, _normalised(password))


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with other parameters than today's: rehash on the next
    successful sign-in, when the password is at hand."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash nobody's password matches, to verify against when there is no account
    (or no password): unknown addresses take as long as wrong passwords."""
    return _hasher.hash(os.urandom(16).hex())


def _local_part(email: str) -> str:
    return email.strip().rsplit("@", 1)[0].casefold()


def check_new_password(field: str, password: str, email: str) -> UserError | None:
    """Whether `password` may become the password of the account with `email`."""
    normalised = _normalised(password)
    if len(normalised) < MIN_LENGTH:
        return UserError(field, "TOO_SHORT", f"{field} must be at least {MIN_LENGTH} characters")
    if len(normalised) > MAX_LENGTH:
        return UserError(field, "TOO_LONG", f"{field} must be at most {MAX_LENGTH} characters")
    folded = normalised.casefold()
    local = _local_part(email)
    # Short local parts ("li@...") would forbid half the dictionary; they guess nothing.
    if folded == email.strip().casefold() or (len(local) >= 3 and local in folded):
        return UserError(field, "CONTAINS_EMAIL", f"{field} must not contain your email address")
    if folded in COMMON or len(set(folded)) == 1:
        return UserError(field, "TOO_COMMON", f"{field} is too easy to guess")
    return None
