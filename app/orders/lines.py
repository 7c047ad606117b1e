"""Pricing the lines of a quote or an order, the same way for both.

A line names a product and a quantity, and optionally a discount (0-100 %) and a unit
price. Without a unit price the price is resolved from the price lists
(app/catalog/prices.resolve_prices: the customer's list, their tier's, an all-customers
list, then the list price in the base currency), at the document's date and in its
currency. A unit price given by hand is taken as it is and recorded with price source
`manual`; only holders of `prices:override` may give one (others get FORBIDDEN on
`lines[i].unitPrice`). Discounts up to the company's `discount_limit_percent` (default
10 %) are open to anyone who may write the document; above it they need
`prices:override` too (FORBIDDEN on `lines[i].discountPercent`), or a rep or a
distributor's user could give goods away at a price-list "source".

A document has one tax basis (`prices_include_tax`): the one asked for, else the one
of the first line priced from a price list, else tax-exclusive (list prices are).
A line priced on the other basis is converted to the document's: a tax-exclusive
price times (1 + tax rate), a tax-inclusive one divided by it, rounded half-up to the
4 places unit prices have. A manual price is on the document's basis.

Amounts per line and the document's totals follow app/catalog/pricing.py (rounded
per line, then summed). Errors name the line's field: `lines[2].quantity`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Row, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor
from app.auth.principal import Scoped
from app.catalog.prices import PriceLine, resolve_prices
from app.catalog.pricing import LineAmounts, line_amounts, total
from app.catalog.tables import products
from app.company.service import DEFAULT_DISCOUNT_LIMIT as DISCOUNT_LIMIT
from app.company.tables import company_settings
from app.errors import UserError, UserErrors
from app.records import new_id
from app.validation import check_decimal

MAX_LINES = 500
QUANTITY_PLACES = Decimal("0.001")  # numeric(18, 3), like the stock ledger
PRICE_PLACES = Decimal("0.0001")  # numeric(18, 4)
DISCOUNT_PLACES = Decimal("0.01")  # numeric(5, 2)
BELOW = Decimal("1e14")
MAX_AMOUNT = Decimal("1e16")  # numeric(18, 2)
OVERRIDE = "prices:override"
LIST_SOURCES = ("customer", "tier", "all")


@dataclass(frozen=True)
class LineInput:
    product_id: uuid.UUID | None  # None: a malformed id, which names no product
    quantity: Decimal | None
    unit_price: Decimal | None = None  # given by hand: price source "manual"
    discount_percent: Decimal | None = None


@dataclass(frozen=True)
class PricedLine:
    position: int
    product_id: uuid.UUID
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate: Decimal
    price_source: str
    price_list_id: uuid.UUID | None
    amounts: LineAmounts

    def values(self) -> dict:
        return {
            "position": self.position, "product_id": self.product_id, "quantity": self.quantity,
            "unit_price": self.unit_price, "discount_percent": self.discount_percent,
            "tax_rate": self.tax_rate, "price_source": self.price_source,
            "price_list_id": self.price_list_id, "net_amount": self.amounts.net,
            "tax_amount": self.amounts.tax, "gross_amount": self.amounts.gross,
        }  # fmt: skip


@dataclass(frozen=True)
class PricedLines:
    lines: list[PricedLine]
    prices_include_tax: bool
    totals: LineAmounts

    def total_values(self) -> dict:
        return {
            "net_total": self.totals.net,
            "tax_total": self.totals.tax,
            "gross_total": self.totals.gross,
        }


def at(index: int, name: str | None = None) -> str:
    return f"lines[{index}]" + (f".{name}" if name else "")


def _check_inputs(lines: Sequence[LineInput], may_override: bool) -> list[UserError]:
    if not lines:
        return [UserError("lines", "REQUIRED", "a document needs at least one line")]
    if len(lines) > MAX_LINES:
        return [UserError("lines", "TOO_MANY", f"at most {MAX_LINES} lines")]
    errors = []
    for i, line in enumerate(lines):
        if line.product_id is None:
            errors.append(UserError(at(i, "productId"), "NOT_FOUND", "no such product"))
        problem = check_decimal(
            at(i, "quantity"), line.quantity, places=QUANTITY_PLACES, below=BELOW, positive=True
        )
        if problem:
            errors.append(problem)
        if line.unit_price is not None:
            if not may_override:
                errors.append(UserError(
                    at(i, "unitPrice"), "FORBIDDEN",
                    f"setting a unit price by hand needs the {OVERRIDE} permission; leave it "
                    "out to use the price list",
                ))  # fmt: skip
            elif problem := check_decimal(
                at(i, "unitPrice"), line.unit_price, places=PRICE_PLACES, below=BELOW
            ):
                errors.append(problem)
        if line.discount_percent is not None:
            problem = check_decimal(
                at(i, "discountPercent"), line.discount_percent, places=DISCOUNT_PLACES,
                below=Decimal("100.01"),
            )  # fmt: skip
            if problem:
                errors.append(UserError(
                    problem.field, problem.code, "discountPercent is from 0 to 100, 2 decimals"
                ))  # fmt: skip
    return errors


def _over_limit(discount: Decimal | None, limit: Decimal | None) -> bool:
    # No settings row (it was removed by hand): the default limit still applies.
    return discount is not None and discount > (limit if limit is not None else DISCOUNT_LIMIT)


def convert(
    price: Decimal, tax_rate: Decimal, *, from_inclusive: bool, to_inclusive: bool
) -> Decimal:
    """A unit price on one tax basis expressed on the other (4 places, half-up)."""
    if from_inclusive == to_inclusive:
        return price
    factor = 1 + tax_rate
    converted = price * factor if to_inclusive else price / factor
    return converted.quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)


def _line_error(index: int, error: UserError) -> UserError:
    """resolve_prices names a line `lines.<i>[.field]` by its index in the request."""
    field = error.field or ""
    suffix = field.split(".", 2)[2] if field.count(".") >= 2 else None
    return UserError(at(index, suffix), error.code, error.message)


async def price_lines(
    conn: AsyncConnection,
    *,
    who: Scoped,
    customer_id: uuid.UUID,
    currency: str,
    on_date: dt.date,
    lines: Sequence[LineInput],
    prices_include_tax: bool | None,
    may_override: bool,
) -> PricedLines:
    """Price every line (see the module's docstring); UserErrors naming each line at
    fault, all at once. Two statements: the products, and one price resolution."""
    errors = _check_inputs(lines, may_override)
    if errors:
        raise UserErrors(errors)
    limit = select(company_settings.c.discount_limit_percent).scalar_subquery()
    found = {
        row.id: row
        for row in await conn.execute(
            select(
                products.c.id, products.c.code, products.c.active, products.c.tax_rate,
                limit.label("discount_limit"),
            ).where(products.c.id.in_({line.product_id for line in lines}))
        )
    }  # fmt: skip
    for i, line in enumerate(lines):
        product = found.get(line.product_id)
        if product is None:
            errors.append(UserError(at(i, "productId"), "NOT_FOUND", "no such product"))
        elif not product.active:
            errors.append(UserError(at(i, "productId"), "INACTIVE",
                                    f"{product.code} is deactivated: it is no longer sold"))  # fmt: skip
        elif not may_override and _over_limit(line.discount_percent, product.discount_limit):
            errors.append(UserError(
                at(i, "discountPercent"), "FORBIDDEN",
                f"a discount above {product.discount_limit} % needs the {OVERRIDE} permission",
            ))  # fmt: skip
    if errors:
        raise UserErrors(errors)
    wanted = [i for i, line in enumerate(lines) if line.unit_price is None]
    resolved = {}
    if wanted:
        prices = await resolve_prices(
            conn, customer_id=customer_id, currency=currency, on_date=on_date, who=who,
            lines=[PriceLine(lines[i].product_id, lines[i].quantity) for i in wanted],
        )  # fmt: skip
        for i, price in zip(wanted, prices, strict=True):
            if price.error is not None:
                errors.append(_line_error(i, price.error))
            resolved[i] = price
    if errors:
        raise UserErrors(errors)
    basis = prices_include_tax
    if basis is None:
        basis = next(
            (bool(resolved[i].tax_inclusive) for i in wanted if resolved[i].source in LIST_SOURCES),
            False,
        )
    priced = []
    for i, line in enumerate(lines):
        tax_rate = found[line.product_id].tax_rate
        discount = line.discount_percent if line.discount_percent is not None else Decimal(0)
        if line.unit_price is not None:
            unit_price, source, price_list_id = line.unit_price, "manual", None
        else:
            price = resolved[i]
            unit_price = convert(price.unit_price, tax_rate,
                                 from_inclusive=bool(price.tax_inclusive), to_inclusive=basis)  # fmt: skip
            source, price_list_id = price.source, price.price_list_id
        amounts = line_amounts(
            line.quantity, unit_price, tax_rate=tax_rate, tax_inclusive=basis,
            discount_percent=discount,
        )  # fmt: skip
        if amounts.gross >= MAX_AMOUNT or amounts.net >= MAX_AMOUNT:
            errors.append(UserError(at(i), "TOO_LARGE", "this line's amount is too large"))
        priced.append(PricedLine(
            i, line.product_id, line.quantity, unit_price, discount, tax_rate, source,
            price_list_id, amounts,
        ))  # fmt: skip
    totals = total(p.amounts for p in priced)
    if not errors and totals.gross >= MAX_AMOUNT:
        errors.append(UserError("lines", "TOO_LARGE", "the document's total is too large"))
    if errors:
        raise UserErrors(errors)
    return PricedLines(priced, basis, totals)


async def write_lines(
    conn: AsyncConnection, table: Table, parent: str, parent_id: uuid.UUID, actor: Actor,
    lines: Sequence[dict],
) -> list[Row]:  # fmt: skip
    """Insert a document's lines (values as `PricedLine.values()`), in position order."""
    rows = [{"id": new_id(), parent: parent_id, "created_by": actor.id, **line} for line in lines]
    result = await conn.execute(insert(table).returning(table), rows)
    return sorted(result.all(), key=lambda r: r.position)


async def replace_lines(
    conn: AsyncConnection, table: Table, parent: str, parent_id: uuid.UUID, actor: Actor,
    priced: PricedLines,
) -> int:  # fmt: skip
    """Delete a document's lines and write the priced ones; how many there were."""
    removed = (await conn.execute(delete(table).where(table.c[parent] == parent_id))).rowcount
    await write_lines(conn, table, parent, parent_id, actor,
                      [line.values() for line in priced.lines])  # fmt: skip
    return removed


def amounts_of(line: Row) -> LineAmounts:
    return LineAmounts(line.net_amount, line.tax_amount, line.gross_amount)
