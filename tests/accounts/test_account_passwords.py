"""Password hashing (argon2id) and the policy for new passwords."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from app.accounts.passwords import (
    MAX_LENGTH,
    check_new_password,
    hash_password,
    needs_rehash,
    verify_password,
)

EMAIL = "zhang.wei@example.com"


async def test_hashes_are_argon2id_with_the_library_defaults():
    hashed = await hash_password("a long enough passphrase")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert await verify_password(hashed, "a long enough passphrase")
    assert not await verify_password(hashed, "a long enough passphrasE")
    assert not needs_rehash(hashed)


async def test_the_same_password_hashes_differently_each_time():
    assert await hash_password("a long enough passphrase") != await hash_password(
        "a long enough passphrase"
    )


async def test_no_hash_and_garbage_never_match():
    assert not await verify_password(None, "anything at all")
    assert not await verify_password("not a hash", "anything at all")


async def test_a_password_longer_than_allowed_never_matches():
    password = "x" * MAX_LENGTH
    hashed = await hash_password(password)
    assert await verify_password(hashed, password)
    assert not await verify_password(hashed, password + "y")


async def test_full_width_input_matches_the_half_width_password():
    """NFKC: the same password typed through a full-width input method."""
    hashed = await hash_password("Password 2024 abc")
    assert await verify_password(hashed, "Ｐａｓｓｗｏｒｄ　２０２４　ａｂｃ")


def test_hashes_made_with_older_parameters_need_rehashing():
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("a passphrase")
    assert needs_rehash(weak)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "TOO_SHORT"),
        ("九个字符的密码啊啊", "TOO_SHORT"),
        ("x" * (MAX_LENGTH + 1), "TOO_LONG"),
        (EMAIL, "CONTAINS_EMAIL"),
        ("ZHANG.WEI@EXAMPLE.COM", "CONTAINS_EMAIL"),
        ("my zhang.wei password", "CONTAINS_EMAIL"),
        ("Password123", "TOO_COMMON"),
        ("qwertyuiop", "TOO_COMMON"),
        ("aaaaaaaaaaaa", "TOO_COMMON"),
    ],
)
def test_policy_refusals_name_the_field(password, code):
    error = check_new_password("newPassword", password, EMAIL)
    assert error is not None
    assert (error.field, error.code) == ("newPassword", code)


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "十个字符的中文密码好记",
        "xy" * (MAX_LENGTH // 2),
        "no rules about digits or symbols",
    ],
)
def test_policy_accepts_long_passwords_without_composition_rules(password):
    assert check_new_password("newPassword", password, EMAIL) is None


def test_short_local_parts_are_not_forbidden_inside_passwords():
    assert check_new_password("newPassword", "a lighthouse at night", "li@example.com") is None
