"""Error shapes, once: top-level GraphQL errors carry `extensions.code`; anything a
user can fix is a `UserError` in the mutation payload."""

from __future__ import annotations

from dataclasses import dataclass


class ApiError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = {"code": self.code}


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class NotFound(ApiError):
    code = "NOT_FOUND"


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class Conflict(ApiError):
    code = "CONFLICT"


@dataclass(frozen=True)
class UserError:
    field: str | None
    code: str
    message: str


class UserErrors(Exception):
    """Raised inside a write to roll it back and report what the user can fix."""

    def __init__(self, errors: list[UserError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def fail(field: str | None, code: str, message: str) -> UserErrors:
    return UserErrors([UserError(field, code, message)])
