"""Validation and normalisation of pipeline, stage and opportunity fields (no database
access). Field names in errors are the API's (camelCase): what the client sent."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from app.errors import UserError
from app.pipeline.tables import STAGE_KINDS
from app.validation import check_decimal, check_length, check_required, clean

MAX_AMOUNT = Decimal("1e16")  # numeric(18, 2)
CENT = Decimal("0.01")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_STAGES = 20
MAX_COMPETITORS = 20
CLOSE_DATES = (dt.date(1900, 1, 1), dt.date(2999, 12, 31))
API_NAMES = {"expected_close_date": "expectedCloseDate", "owner_id": "ownerId"}


def check_amount(field: str, value: Decimal | None) -> UserError | None:
    """Money: finite, 0 or more, below 10^16, at most two decimal places."""
    return check_decimal(field, value, places=CENT, below=MAX_AMOUNT)


def check_probability(field: str, value: Decimal | None) -> UserError | None:
    if value is None or not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        return UserError(field, "INVALID", "probability must be between 0 and 100")
    if value != value.quantize(CENT):
        return UserError(field, "INVALID", "probability has at most 2 decimal places")
    return None


def normalise_currency(value: str | None) -> tuple[str | None, UserError | None]:
    """An ISO 4217 code: three letters, stored upper-case ("usd" becomes "USD")."""
    code = (value or "").strip().upper()
    if not CURRENCY.match(code):
        return None, UserError(
            "currency", "INVALID", "currency must be an ISO 4217 code of three letters"
        )
    return code, None


def _competitors(value: list[str] | None) -> tuple[list[str], UserError | None]:
    names: list[str] = []
    for name in value or []:
        name = (name or "").strip()
        if not name:
            continue
        if len(name) > 200:
            return [], UserError(
                "competitors", "TOO_LONG", "each competitor is at most 200 characters"
            )
        if name not in names:
            names.append(name)
    if len(names) > MAX_COMPETITORS:
        return [], UserError("competitors", "TOO_MANY", f"at most {MAX_COMPETITORS} competitors")
    return names, None


def normalise_opportunity(fields: dict[str, Any], *, creating: bool) -> list[UserError]:
    """Clean `fields` in place (only the keys present) and return what is wrong."""
    errors: list[UserError] = []
    if creating:
        fields.setdefault("name", None)
        fields.setdefault("amount", Decimal(0))
        fields.setdefault("currency", "CNY")
        fields.setdefault("competitors", [])
    if "name" in fields:
        fields["name"] = clean(fields["name"])
        if error := check_required("name", fields["name"]):
            errors.append(error)
    if "amount" in fields:
        if (error := check_amount("amount", fields["amount"])) is None:
            fields["amount"] = fields["amount"].quantize(CENT)
        else:
            errors.append(error)
    if "currency" in fields:
        fields["currency"], error = normalise_currency(fields["currency"])
        if error:
            errors.append(error)
    if "competitors" in fields:
        fields["competitors"], error = _competitors(fields["competitors"])
        if error:
            errors.append(error)
    close = fields.get("expected_close_date")
    if close is not None and not CLOSE_DATES[0] <= close <= CLOSE_DATES[1]:
        errors.append(
            UserError("expectedCloseDate", "INVALID", "expectedCloseDate must be in 1900-2999")
        )
    return errors


def check_reason(reason: str | None, *, lost: bool) -> tuple[str | None, UserError | None]:
    reason = clean(reason)
    if not lost:
        if reason is not None:
            return None, UserError("reason", "INVALID", "only a lost opportunity takes a reason")
        return None, None
    return reason, check_required("reason", reason, max_length=1000)


def normalise_pipeline(fields: dict[str, Any], *, creating: bool) -> list[UserError]:
    errors: list[UserError] = []
    if creating:
        fields.setdefault("name", None)
        fields.setdefault("description", "")
        fields.setdefault("is_default", False)
    if "name" in fields:
        fields["name"] = clean(fields["name"])
        if error := check_required("name", fields["name"], max_length=100):
            errors.append(error)
    if "description" in fields:
        fields["description"] = clean(fields["description"]) or ""
        if error := check_length("description", fields["description"], max_length=2000):
            errors.append(error)
    if "is_default" in fields and fields["is_default"] is None:
        fields["is_default"] = False
    return errors


def normalise_stages(stages: list[dict[str, Any]]) -> list[UserError]:
    """A pipeline's stages, in order: named (uniquely), probabilities 0-100, at least
    one open stage, exactly one won and one lost. Errors name `stages`."""
    errors: list[UserError] = []
    if len(stages) > MAX_STAGES:
        return [UserError("stages", "TOO_MANY", f"at most {MAX_STAGES} stages")]
    names: set[str] = set()
    for index, stage in enumerate(stages):
        field = f"stages.{index}"
        stage["name"] = clean(stage.get("name"))
        if error := check_required(f"{field}.name", stage["name"], max_length=100):
            errors.append(error)
        elif stage["name"] in names:
            errors.append(UserError(f"{field}.name", "TAKEN", "stage names must be unique"))
        names.add(stage["name"])
        if error := check_probability(f"{field}.probability", stage.get("probability")):
            errors.append(error)
        if stage.get("kind") not in STAGE_KINDS:
            errors.append(UserError(f"{field}.kind", "INVALID", "kind is open, won or lost"))
    kinds = [s.get("kind") for s in stages]
    if kinds.count("open") < 1 or kinds.count("won") != 1 or kinds.count("lost") != 1:
        errors.append(
            UserError(
                "stages",
                "INVALID",
                "a pipeline needs open stages, one won stage and one lost stage",
            )
        )
    return errors
