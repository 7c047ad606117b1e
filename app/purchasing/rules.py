"""Validation and normalisation of suppliers, purchase orders and receipts (no database
access). Errors name the API's fields (camelCase), lines by index: `lines[1].quantity`."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.catalog.pricing import LineAmounts, line_amounts
from app.catalog.rules import check_price, check_tax_rate
from app.company.currencies import normalise_currency
from app.errors import UserError
from app.stock.rules import MAX_LINES, check_quantity, quantity
from app.validation import check_email, check_length, check_phone, check_required, clean

# Purchase prices are readable only with it (app/purchasing/types.py), so only its
# holders may type them: nobody sets a price they could never read back.
READ_COST = "purchasing:read_cost"
CODE = re.compile(r"^[^\s\x00-\x1f\x7f]{1,64}$")
DATES = (dt.date(1900, 1, 1), dt.date(2999, 12, 31))
MAX_TERMS = 365
TEXT_LIMITS = {"name": 200, "contact_name": 100, "address": 500, "notes": 2000}

API_NAMES = {
    "contact_name": "contactName", "payment_terms_days": "paymentTermsDays",
    "supplier_id": "supplierId", "warehouse_id": "warehouseId", "order_date": "orderDate",
    "expected_date": "expectedDate", "prices_include_tax": "pricesIncludeTax",
}  # fmt: skip


def api_name(field: str) -> str:
    return API_NAMES.get(field, field)


def normalise_supplier(fields: dict[str, Any], *, creating: bool) -> list[UserError]:
    """Clean `fields` in place (only the keys present) and return what is wrong."""
    errors: list[UserError] = []
    if creating:
        fields.setdefault("code", None)
        fields.setdefault("name", None)
    if "code" in fields:
        fields["code"] = clean(fields["code"])
        if fields["code"] is None:
            errors.append(UserError("code", "REQUIRED", "code is required"))
        elif not CODE.match(fields["code"]):
            errors.append(UserError("code", "INVALID", "code is 1 to 64 characters without spaces"))
    if "name" in fields:
        fields["name"] = clean(fields["name"])
        if error := check_required("name", fields["name"], max_length=TEXT_LIMITS["name"]):
            errors.append(error)
    for key in ("contact_name", "email", "phone", "address", "notes"):
        if key in fields:
            fields[key] = clean(fields[key])
    for key in ("contact_name", "address", "notes"):
        if key in fields and (
            error := check_length(api_name(key), fields[key], max_length=TEXT_LIMITS[key])
        ):
            errors.append(error)
    if "email" in fields:
        if fields["email"] is not None:
            fields["email"] = fields["email"].lower()
        if error := check_email("email", fields["email"]):
            errors.append(error)
    if "phone" in fields and (error := check_phone("phone", fields["phone"])):
        errors.append(error)
    if "payment_terms_days" in fields:
        days = fields["payment_terms_days"]
        if days is None or isinstance(days, bool) or not 0 <= days <= MAX_TERMS:
            errors.append(UserError("paymentTermsDays", "INVALID",
                                    f"paymentTermsDays is a number of days from 0 to {MAX_TERMS}"))  # fmt: skip
    if "currency" in fields:
        fields["currency"], error = normalise_currency(fields["currency"])
        if error:
            errors.append(error)
    if "active" in fields and fields["active"] is None:
        errors.append(UserError("active", "REQUIRED", "active is true or false"))
    return errors


def normalise_order(fields: dict[str, Any]) -> list[UserError]:
    """Header fields of a purchase order, cleaned in place (only the keys present)."""
    errors: list[UserError] = []
    if "currency" in fields:
        fields["currency"], error = normalise_currency(fields["currency"])
        if error:
            errors.append(error)
    for key in ("order_date", "expected_date"):
        if key in fields:
            day = fields[key]
            if day is None:
                errors.append(UserError(api_name(key), "REQUIRED", f"{api_name(key)} is required"))
            elif not DATES[0] <= day <= DATES[1]:
                errors.append(UserError(api_name(key), "INVALID",
                                        f"{api_name(key)} must be in 1900-2999"))  # fmt: skip
    if "notes" in fields:
        fields["notes"] = clean(fields["notes"])
        if error := check_length("notes", fields["notes"], max_length=TEXT_LIMITS["notes"]):
            errors.append(error)
    if "prices_include_tax" in fields and fields["prices_include_tax"] is None:
        errors.append(
            UserError("pricesIncludeTax", "REQUIRED", "pricesIncludeTax is true or false")
        )
    return errors


def check_dates(order_date: dt.date | None, expected_date: dt.date | None) -> list[UserError]:
    if order_date and expected_date and expected_date < order_date:
        return [UserError("expectedDate", "INVALID", "expectedDate must not be before orderDate")]
    return []


def cost_forbidden(field: str, what: str) -> UserError:
    return UserError(field, "FORBIDDEN", f"{what} needs the {READ_COST} permission")


def cost_basis_errors(values: dict[str, Any], current: Any) -> list[UserError]:
    """For someone without READ_COST: the currency and the tax basis (pricesIncludeTax)
    say what the stored unit costs mean, so changing either reprices the order blind
    (FORBIDDEN); giving the value it already has is fine."""
    return [
        cost_forbidden(api_name(key), f"changing {api_name(key)}, which says what costs mean,")
        for key in ("currency", "prices_include_tax")
        if key in values and values[key] != getattr(current, key)
    ]


@dataclass
class OrderLine:
    """A line as asked (`tax_rate` None: the product's), then as stored."""

    product_id: Any
    quantity: Any
    unit_cost: Any
    tax_rate: Any = None


def check_lines(
    lines: list[OrderLine], field: str = "lines", *, may_set_costs: bool
) -> list[UserError]:
    """Quantities (more than 0, 3 decimals) and unit costs (0 or more, 4 decimals) of
    the lines, at least one and at most MAX_LINES; tax rates when given. Without
    `may_set_costs` (READ_COST) every unit cost is FORBIDDEN."""
    if not lines:
        return [UserError(field, "REQUIRED", "a purchase order has at least one line")]
    if len(lines) > MAX_LINES:
        return [UserError(field, "TOO_MANY", f"at most {MAX_LINES} lines")]
    errors: list[UserError] = []
    for index, line in enumerate(lines):
        at = f"{field}[{index}]"
        if line.product_id is None:
            errors.append(UserError(f"{at}.productId", "NOT_FOUND", "no such product"))
        if error := check_quantity(f"{at}.quantity", line.quantity):
            errors.append(error)
        if not may_set_costs:
            errors.append(cost_forbidden(f"{at}.unitCost", "setting a unit cost"))
        elif error := check_price(f"{at}.unitCost", line.unit_cost):
            errors.append(error)
        if line.tax_rate is not None and (error := check_tax_rate(f"{at}.taxRate", line.tax_rate)):
            errors.append(error)
    return errors


def amounts(line: OrderLine, *, prices_include_tax: bool) -> LineAmounts:
    return line_amounts(
        quantity(line.quantity), Decimal(line.unit_cost), tax_rate=Decimal(line.tax_rate),
        tax_inclusive=prices_include_tax,
    )  # fmt: skip


@dataclass
class ReceiptLine:
    """What arrived for one order line; the batch for batch-tracked products."""

    order_line_id: Any
    quantity: Any
    batch_id: Any = None
    batch_code: str | None = None
    expires_on: dt.date | None = None
    produced_on: dt.date | None = None


def over_receipt(field: str, number: int, ordered: Decimal, received: Decimal) -> UserError:
    remaining = ordered - received
    return UserError(
        field, "OVER_RECEIPT",
        f"line {number} has {remaining.normalize():f} left to receive (ordered "
        f"{ordered.normalize():f}, received {received.normalize():f}); over-receipt is not allowed",
    )  # fmt: skip
