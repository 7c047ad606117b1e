"""The company's settings over GraphQL: `companySettings` and `updateCompanySettings`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry

from app.api.context import Info
from app.api.errors import UserErrorType, run_mutation
from app.api.permissions import requires
from app.company import service
from app.company.service import CompanySettings as Settings

UNSET: Any = strawberry.UNSET


@strawberry.type
class CompanySettings:
    base_currency: str = strawberry.field(
        description="ISO 4217. Products' list and cost prices and customers' credit limits "
        "are in it."
    )
    discount_limit_percent: Decimal = strawberry.field(
        description="Line discounts above this percentage need the prices:override permission "
        "(default 10)."
    )
    version: int = strawberry.field(description="Pass it back on update; a stale one conflicts.")
    updated_at: dt.datetime | None

    @classmethod
    def from_settings(cls, settings: Settings) -> CompanySettings:
        return cls(
            base_currency=settings.base_currency,
            discount_limit_percent=settings.discount_limit_percent,
            version=settings.version,
            updated_at=settings.updated_at,
        )


@strawberry.input
class UpdateCompanySettingsInput:
    version: int | None = strawberry.field(
        default=None, description="The version you loaded; stale ones conflict."
    )
    base_currency: str | None = strawberry.field(
        default=UNSET,
        description="An ISO 4217 code. Refused (IN_USE) once products or credit limits exist: "
        "their amounts are in the base currency and would be re-denominated.",
    )
    discount_limit_percent: Decimal | None = strawberry.field(
        default=UNSET,
        description="From 0 to 100: the largest line discount given without prices:override.",
    )


@strawberry.type
class UpdateCompanySettingsPayload:
    company_settings: CompanySettings | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CompanyQueries:
    @strawberry.field(
        description="The company's settings, such as its base currency. Any signed-in user "
        "of the tenant may read them."
    )
    async def company_settings(self, info: Info) -> CompanySettings:
        async with info.context.db.read() as conn:
            return CompanySettings.from_settings(await service.get_settings(conn))


@strawberry.type
class CompanyMutations:
    @strawberry.mutation(
        extensions=requires("company:manage"),
        description="Change the company's settings (fields left out stay).",
    )
    async def update_company_settings(
        self, info: Info, input: UpdateCompanySettingsInput
    ) -> UpdateCompanySettingsPayload:
        fields = {}
        if input.base_currency is not UNSET:
            fields["base_currency"] = input.base_currency
        if input.discount_limit_percent is not UNSET:
            fields["discount_limit_percent"] = input.discount_limit_percent

        async def write(conn) -> dict:
            settings = await service.update_settings(
                conn, actor=info.context.actor, version=input.version, fields=fields
            )
            return {"company_settings": CompanySettings.from_settings(settings)}

        return await run_mutation(info, UpdateCompanySettingsPayload, write)
