"""The condition language of tier rules: a handful of typed tests, all of which must
hold (AND), stored as a JSON object and validated on every write. Never free SQL:
app/tiers/evaluate.py compiles each known key to a fixed SQL predicate with the
values as bound parameters.

| key | meaning |
|---|---|
| `won_amount_gte` | won opportunities' amount in `won_amount_currency`, closed in the last `period_days` days, is at least this (revenue, until orders exist) |
| `won_amount_currency` | the ISO 4217 code of both amount tests (default CNY); deals in other currencies are ignored, never converted |
| `period_days` | the window of both won tests (default 365) |
| `won_count_gte` | at least this many opportunities won in the window (any currency) |
| `open_pipeline_gte` | open opportunities' amount in `won_amount_currency` is at least this |
| `category_in` | the customer's category is one of these |

An empty object holds for every customer: a catch-all rule (e.g. "otherwise C")
goes last.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from app.customers.tables import CATEGORIES
from app.errors import UserError
from app.pipeline.rules import check_amount

DEFAULT_CURRENCY = "CNY"
DEFAULT_PERIOD_DAYS = 365
MAX_PERIOD_DAYS = 3660
MAX_COUNT = 1_000_000
CURRENCY = re.compile(r"^[A-Z]{3}$")
CENT = Decimal("0.01")

API_NAMES = {
    "won_amount_gte": "wonAmountGte",
    "won_amount_currency": "wonAmountCurrency",
    "period_days": "periodDays",
    "won_count_gte": "wonCountGte",
    "open_pipeline_gte": "openPipelineGte",
    "category_in": "categoryIn",
}


@dataclass(frozen=True)
class Conditions:
    won_amount_gte: Decimal | None = None
    won_amount_currency: str | None = None
    period_days: int | None = None
    won_count_gte: int | None = None
    open_pipeline_gte: Decimal | None = None
    category_in: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored form: only the keys in use; amounts as exact decimal strings."""
        out: dict[str, Any] = {}
        for key in API_NAMES:
            value = getattr(self, key)
            if value is None:
                continue
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[key] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Conditions:
        """Stored conditions (validated when written)."""
        conditions, errors = parse(data, "conditions")
        if errors or conditions is None:
            raise ValueError(f"invalid stored tier conditions: {errors}")
        return conditions


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, str)):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _integer(value: Any, field: str, low: int, high: int) -> tuple[int | None, UserError | None]:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None, UserError(
            field, "INVALID", f"{field} must be a whole number from {low} to {high}"
        )
    return value, None


def parse(raw: Any, field: str) -> tuple[Conditions | None, list[UserError]]:
    """Validate and normalise a conditions object (keys as stored, snake_case);
    errors name `field`.<apiName>, e.g. `rules[2].conditions.wonAmountGte`."""
    if not isinstance(raw, Mapping):
        return None, [UserError(field, "INVALID", f"{field} must be an object")]
    errors: list[UserError] = []

    def name(key: str) -> str:
        return f"{field}.{API_NAMES.get(key, key)}"

    for key in raw:
        if key not in API_NAMES:
            errors.append(UserError(name(key), "UNKNOWN", f"{key!r} is not a tier condition"))
    values = {k: raw.get(k) for k in API_NAMES}

    amounts: dict[str, Decimal | None] = {}
    for key in ("won_amount_gte", "open_pipeline_gte"):
        if values[key] is None:
            amounts[key] = None
            continue
        amount = _decimal(values[key])
        error = (
            check_amount(name(key), amount)
            if amount is not None
            else UserError(name(key), "INVALID", f"{name(key)} must be a decimal amount")
        )
        if error:
            errors.append(error)
            amounts[key] = None
        else:
            amounts[key] = amount.quantize(CENT)

    count = None
    if values["won_count_gte"] is not None:
        count, error = _integer(values["won_count_gte"], name("won_count_gte"), 0, MAX_COUNT)
        if error:
            errors.append(error)

    any_amount = values["won_amount_gte"] is not None or values["open_pipeline_gte"] is not None
    any_won = values["won_amount_gte"] is not None or values["won_count_gte"] is not None

    currency = None
    raw_currency = values["won_amount_currency"]
    if raw_currency is not None:
        currency = raw_currency.strip().upper() if isinstance(raw_currency, str) else ""
        if not CURRENCY.match(currency):
            errors.append(UserError(name("won_amount_currency"), "INVALID",
                                    "currency must be an ISO 4217 code of three letters"))  # fmt: skip
        elif not any_amount:
            errors.append(UserError(name("won_amount_currency"), "INVALID",
                                    "a currency needs wonAmountGte or openPipelineGte"))  # fmt: skip
    elif any_amount:
        currency = DEFAULT_CURRENCY

    period = None
    if values["period_days"] is not None:
        period, error = _integer(values["period_days"], name("period_days"), 1, MAX_PERIOD_DAYS)
        if error:
            errors.append(error)
        elif not any_won:
            errors.append(UserError(name("period_days"), "INVALID",
                                    "periodDays needs wonAmountGte or wonCountGte"))  # fmt: skip
    elif any_won:
        period = DEFAULT_PERIOD_DAYS

    categories = None
    raw_categories = values["category_in"]
    if raw_categories is not None:
        if isinstance(raw_categories, str) or not isinstance(raw_categories, (list, tuple)):
            errors.append(UserError(name("category_in"), "INVALID", "categoryIn must be a list"))
        elif not raw_categories:
            errors.append(UserError(name("category_in"), "REQUIRED",
                                    "categoryIn needs at least one category (or leave it out)"))  # fmt: skip
        elif bad := [c for c in raw_categories if c not in CATEGORIES]:
            errors.append(UserError(name("category_in"), "INVALID",
                                    f"unknown categories {bad}: use {', '.join(CATEGORIES)}"))  # fmt: skip
        else:
            categories = tuple(dict.fromkeys(raw_categories))

    if errors:
        return None, errors
    return Conditions(
        won_amount_gte=amounts["won_amount_gte"],
        won_amount_currency=currency,
        period_days=period,
        won_count_gte=count,
        open_pipeline_gte=amounts["open_pipeline_gte"],
        category_in=categories,
    ), []
