"""The GraphQL side of errors: the `UserError` payload type and the masking rule."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.extensions import MaskErrors

from app import errors
from graphql import GraphQLError

logger = logging.getLogger("kehu.graphql")


@strawberry.type(name="UserError")
class UserErrorType:
    field: str | None = strawberry.field(description="The input field at fault, if one is.")
    code: str
    message: str


def user_errors(exc: errors.UserErrors) -> list[UserErrorType]:
    return [UserErrorType(field=e.field, code=e.code, message=e.message) for e in exc.errors]


def should_mask(error: GraphQLError) -> bool:
    """Unexpected exceptions become INTERNAL_SERVER_ERROR without details; our own
    errors and GraphQL validation errors pass through."""
    original = error.original_error
    if original is None or isinstance(original, (errors.ApiError, GraphQLError)):
        return False
    return True


P = TypeVar("P")


async def run_mutation(
    info: Any, payload: Callable[..., P], change: Callable[[AsyncConnection], Awaitable[dict]]
) -> P:
    """A mutation's one transaction: `change` writes and returns the payload's fields.
    User-fixable errors roll everything back and come back as the payload's
    userErrors; any other error rolls back and surfaces as a top-level error."""
    try:
        async with info.context.db.write() as conn:
            fields = await change(conn)
    except errors.UserErrors as exc:
        return payload(user_errors=user_errors(exc))
    return payload(**fields)


class MaskUnexpectedErrors(MaskErrors):
    """Masks what `should_mask` says, and gives the masked error its code."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask, error_message="Internal server error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Strawberry logs every error; only the unexpected ones deserve a traceback."""
    for error in errors:
        if should_mask(error):
            logger.error("unexpected error in %s", error.path, exc_info=error.original_error)
