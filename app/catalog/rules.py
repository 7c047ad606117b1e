"""Validation and normalisation of products, categories, price lists and their items
(no database access). Field names in errors are the API's (camelCase): what the client
sent."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from app.catalog.tables import PRICE_LIST_TARGETS
from app.company.currencies import normalise_currency
from app.customers.tables import TIERS
from app.errors import UserError
from app.validation import check_decimal, check_required, clean

PRICE_PLACES = Decimal("0.0001")  # numeric(18, 4)
MAX_PRICE = Decimal("1e14")
MAX_QUANTITY = Decimal("1e14")
RATE_PLACES = Decimal("0.0001")  # numeric(5, 4)
MAX_ITEMS = 1000  # per setPriceListItems
DATES = (dt.date(1900, 1, 1), dt.date(2999, 12, 31))
CODE = re.compile(r"^[^\s\x00-\x1f\x7f]{1,64}$")

API_NAMES = {
    "list_price": "listPrice", "cost_price": "costPrice", "tax_rate": "taxRate",
    "batch_tracked": "batchTracked", "category_id": "categoryId", "parent_id": "parentId",
    "tax_inclusive": "taxInclusive", "valid_from": "validFrom", "valid_to": "validTo",
    "customer_id": "customerId", "min_quantity": "minQuantity", "unit_price": "unitPrice",
}  # fmt: skip


def api_name(field: str) -> str:
    return API_NAMES.get(field, field)


def check_price(field: str, value: Decimal | None, *, positive: bool = False) -> UserError | None:
    return check_decimal(field, value, places=PRICE_PLACES, below=MAX_PRICE, positive=positive)


def check_quantity(field: str, value: Decimal | None, *, positive: bool) -> UserError | None:
    return check_decimal(field, value, places=PRICE_PLACES, below=MAX_QUANTITY, positive=positive)


def check_tax_rate(field: str, value: Any) -> UserError | None:
    """A tax rate as a fraction (0.13 is 13 %), from 0 to below 1, at most 4 decimals:
    a product's, or one given on a line."""
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value < 1:
        return UserError(
            field, "INVALID", f"{field} is a fraction from 0 to below 1 (0.13 is 13 %)"
        )
    if value != value.quantize(RATE_PLACES):
        return UserError(field, "INVALID", f"{field} has at most 4 decimal places")
    return None


def normalise_product(fields: dict[str, Any], *, creating: bool) -> list[UserError]:
    """Clean `fields` in place (only the keys present) and return what is wrong."""
    errors: list[UserError] = []
    if creating:
        for key in ("code", "name", "unit", "list_price"):
            fields.setdefault(key, None)
        fields.setdefault("tax_rate", Decimal(0))
    if "code" in fields:
        fields["code"] = clean(fields["code"])
        if fields["code"] is None:
            errors.append(UserError("code", "REQUIRED", "code is required"))
        elif not CODE.match(fields["code"]):
            errors.append(UserError("code", "INVALID", "code is 1 to 64 characters without spaces"))
    for key, limit in (("name", 200), ("unit", 20)):
        if key in fields:
            fields[key] = clean(fields[key])
            if error := check_required(key, fields[key], max_length=limit):
                errors.append(error)
    if "list_price" in fields and (error := check_price("listPrice", fields["list_price"])):
        errors.append(error)
    if fields.get("cost_price") is not None and (
        error := check_price("costPrice", fields["cost_price"])
    ):
        errors.append(error)
    if "tax_rate" in fields and (error := check_tax_rate("taxRate", fields["tax_rate"])):
        errors.append(error)
    for flag in ("batch_tracked", "active"):
        if flag in fields and fields[flag] is None:
            errors.append(
                UserError(api_name(flag), "REQUIRED", f"{api_name(flag)} is true or false")
            )
    return errors


def normalise_category_name(name: str | None) -> tuple[str | None, UserError | None]:
    name = clean(name)
    return name, check_required("name", name, max_length=100)


def normalise_price_list(fields: dict[str, Any], *, creating: bool) -> list[UserError]:
    """Clean `fields` in place and return what is wrong with them on their own; the
    consistency of target, tier and customer is `check_target`'s, on the merged row."""
    errors: list[UserError] = []
    if creating:
        fields.setdefault("name", None)
        fields.setdefault("currency", None)
        fields.setdefault("target", None)
    if "name" in fields:
        fields["name"] = clean(fields["name"])
        if error := check_required("name", fields["name"], max_length=200):
            errors.append(error)
    if "currency" in fields:
        fields["currency"], error = normalise_currency(fields["currency"])
        if error:
            errors.append(error)
    if "target" in fields and fields["target"] not in PRICE_LIST_TARGETS:
        errors.append(UserError("target", "REQUIRED", "target is ALL_CUSTOMERS, TIER or CUSTOMER"))
    if fields.get("tier") is not None and fields["tier"] not in TIERS:
        errors.append(UserError("tier", "INVALID", "tier is A, B or C"))
    for key in ("valid_from", "valid_to"):
        day = fields.get(key)
        if day is not None and not DATES[0] <= day <= DATES[1]:
            errors.append(
                UserError(api_name(key), "INVALID", f"{api_name(key)} must be in 1900-2999")
            )
    for flag in ("tax_inclusive", "active"):
        if flag in fields and fields[flag] is None:
            errors.append(
                UserError(api_name(flag), "REQUIRED", f"{api_name(flag)} is true or false")
            )
    return errors


def check_target(row: dict[str, Any]) -> list[UserError]:
    """The merged list: a tier list names a tier, a customer list a customer, an
    all-customers list neither; validity runs forwards."""
    errors: list[UserError] = []
    target = row.get("target")
    if target == "tier" and row.get("tier") is None:
        errors.append(UserError("tier", "REQUIRED", "a TIER list names its tier"))
    if target == "customer" and row.get("customer_id") is None:
        errors.append(UserError("customerId", "REQUIRED", "a CUSTOMER list names its customer"))
    start, end = row.get("valid_from"), row.get("valid_to")
    if start is not None and end is not None and start > end:
        errors.append(UserError("validTo", "INVALID", "validTo must not be before validFrom"))
    return errors


def normalise_items(items: list[dict[str, Any]], field: str = "items") -> list[UserError]:
    """Quantity breaks: positive unit prices, minimum quantities 0 or more, at most one
    break per product and minimum quantity. Errors name `items.<index>.<field>`."""
    errors: list[UserError] = []
    if len(items) > MAX_ITEMS:
        return [UserError(field, "TOO_MANY", f"at most {MAX_ITEMS} items at once")]
    seen: set[tuple[Any, Decimal]] = set()
    for index, item in enumerate(items):
        at = f"{field}.{index}"
        if item.get("min_quantity") is None:
            item["min_quantity"] = Decimal(0)
        quantity_error = check_quantity(f"{at}.minQuantity", item["min_quantity"], positive=False)
        if quantity_error:
            errors.append(quantity_error)
        if error := check_price(f"{at}.unitPrice", item.get("unit_price"), positive=True):
            errors.append(error)
        if quantity_error is None and item.get("product_id") is not None:
            key = (item["product_id"], item["min_quantity"].normalize())
            if key in seen:
                errors.append(
                    UserError(
                        f"{at}.minQuantity",
                        "DUPLICATE",
                        "another item has the same product and minQuantity",
                    )
                )
            seen.add(key)
    return errors
