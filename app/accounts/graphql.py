"""The signed-in user's own account over GraphQL: changing its password."""

from __future__ import annotations

import strawberry

from app.accounts import service
from app.accounts.membership import account_of_user
from app.api.context import Info
from app.api.errors import UserErrorType, run_mutation
from app.errors import Forbidden, fail


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str = strawberry.field(
        description="At least 10 characters, at most 256; not containing the email address."
    )


@strawberry.type
class ChangePasswordPayload:
    ok: bool = False
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class AccountMutations:
    @strawberry.mutation(
        description="Change the signed-in user's password (one for every tenant they belong"
        " to). Ends the account's sessions everywhere, this one included."
    )
    async def change_password(
        self, info: Info, input: ChangePasswordInput
    ) -> ChangePasswordPayload:
        principal = info.context.principal
        # An API client acts as its run-as user; the user's password is not its to change.
        if principal.client_id is not None:
            raise Forbidden("API clients cannot change a user's password")

        async def change(conn) -> dict:
            account_id = await account_of_user(conn, principal.tenant.id, principal.user_id)
            if account_id is None:
                raise fail(None, "NOT_FOUND", "this user has no sign-in account")
            await service.change_password(
                conn, account_id=account_id, user_id=principal.user_id,
                current_password=input.current_password, new_password=input.new_password,
            )  # fmt: skip
            return {"ok": True}

        return await run_mutation(info, ChangePasswordPayload, change)
