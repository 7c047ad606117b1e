"""The company's settings: one row, read by whatever needs the base currency (price
resolution, credit checks), changed by holders of company:manage.

The base currency is fixed once amounts are recorded in it: products' list and cost
prices and customers' credit limits are plain numbers in the base currency, so
changing it would silently re-denominate them. A change is refused (IN_USE) while any
exist; capabilities that later store base-currency amounts add their table to
`_amounts_in_base_currency`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, diff, record
from app.catalog.tables import products
from app.company.currencies import normalise_currency
from app.company.tables import company_settings
from app.customers.tables import customers
from app.errors import UserError, UserErrors, fail
from app.validation import check_decimal

DEFAULT_BASE_CURRENCY = "CNY"


@dataclass(frozen=True)
class CompanySettings:
    base_currency: str
    discount_limit_percent: Decimal
    version: int
    updated_at: dt.datetime | None  # None while the row was never written


DEFAULT_DISCOUNT_LIMIT = Decimal("10.00")
DEFAULTS = CompanySettings(DEFAULT_BASE_CURRENCY, DEFAULT_DISCOUNT_LIMIT, 0, None)


def _from_row(row: Row | None) -> CompanySettings:
    if row is None:
        return DEFAULTS
    return CompanySettings(
        row.base_currency, row.discount_limit_percent, row.version, row.updated_at
    )


def base_currency_sql():
    """The base currency as a scalar subquery, for statements that need it inline."""
    return func.coalesce(
        select(company_settings.c.base_currency)
        .where(company_settings.c.id.is_(True))
        .scalar_subquery(),
        DEFAULT_BASE_CURRENCY,
    )


async def get_settings(conn: AsyncConnection) -> CompanySettings:
    return _from_row((await conn.execute(select(company_settings))).first())


async def base_currency(conn: AsyncConnection) -> str:
    return (await get_settings(conn)).base_currency


def _amounts_in_base_currency():
    return or_(
        exists(select(products.c.id)),
        exists(select(customers.c.id).where(customers.c.credit_limit.is_not(None))),
    )


async def update_settings(
    conn: AsyncConnection, *, actor: Actor, version: int | None, fields: dict[str, Any]
) -> CompanySettings:
    """Change the given fields (a stale `version` is a CONFLICT); audited."""
    values = dict(fields)
    if "base_currency" in values:
        values["base_currency"], error = normalise_currency(values["base_currency"], "baseCurrency")
        if error:
            raise UserErrors([error])
    if "discount_limit_percent" in values:
        limit = values["discount_limit_percent"]
        if problem := check_decimal(
            "discountLimitPercent", limit, places=Decimal("0.01"), below=Decimal("100.01")
        ):
            raise UserErrors([UserError(
                problem.field, problem.code, "discountLimitPercent is from 0 to 100, 2 decimals"
            )])  # fmt: skip
    # The row exists after the migration; recreate it if someone removed it.
    await conn.execute(
        insert(company_settings)
        .values(id=True, base_currency=DEFAULT_BASE_CURRENCY)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    current = (await conn.execute(select(company_settings).with_for_update())).one()
    if version is not None and version != current.version:
        raise fail(
            "version",
            "CONFLICT",
            f"the company settings were changed by someone else (now at version "
            f"{current.version}); reload them and try again",
        )
    changes = diff({k: getattr(current, k) for k in values}, values)
    if not changes:
        return _from_row(current)
    if "base_currency" in changes and await conn.scalar(select(_amounts_in_base_currency())):
        raise fail(
            "baseCurrency",
            "IN_USE",
            f"the base currency stays {current.base_currency}: products' prices and customers' "
            "credit limits are already recorded in it",
        )
    row = (
        await conn.execute(
            update(company_settings)
            .where(company_settings.c.id.is_(True))
            .values(**values, version=company_settings.c.version + 1, updated_at=func.now())
            .returning(company_settings)
        )
    ).one()
    await record(
        conn, actor=actor, action="company_settings.update", entity_type="company_settings",
        entity_id=None, changes=changes,
    )  # fmt: skip
    return _from_row(row)
