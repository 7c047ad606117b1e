"""Custom values on createCustomer/updateCustomer: every type, every rule, required
fields, nothing written on any error, audited, and removed fields."""

from __future__ import annotations

import pytest
from custom_field_helpers import CUSTOMER, REMOVE
from sqlalchemy import func, select

from app.audit.tables import audit_log
from app.custom_fields.tables import custom_field_values
from app.db import tenant_transaction


async def _every_type(fields, token: str, k: str) -> None:
    await fields.ok(token, key=f"{k}t", type="TEXT", validation={"maxLength": 5})
    await fields.ok(token, key=f"{k}n", type="NUMBER", validation={"min": "0", "max": "100"})
    await fields.ok(token, key=f"{k}d", type="DECIMAL", validation={"max": "10.5"})
    await fields.ok(token, key=f"{k}day", type="DATE")
    await fields.ok(token, key=f"{k}b", type="BOOLEAN")
    await fields.ok(token, key=f"{k}s", type="SELECT", options=["甲", "乙"])
    await fields.ok(token, key=f"{k}m", type="MULTISELECT", options=["红", "绿", "蓝"])


def _by_key(customer: dict) -> dict:
    return {v["key"]: v for v in customer["customFields"]}


async def _value_rows(services, tenant) -> int:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return await conn.scalar(select(func.count()).select_from(custom_field_values))


async def test_every_type_on_create_and_update(api, services, cf, fields, k):
    admin = cf.tokens["admin"]
    await _every_type(fields, admin, k)
    created = await fields.create(admin, f"{k}甲公司", {
        f"{k}t": "华南", f"{k}n": 42, f"{k}d": "3.1415", f"{k}day": "2026-05-01",
        f"{k}b": True, f"{k}s": "乙", f"{k}m": ["蓝", "红", "蓝"],
    })  # fmt: skip
    assert created["userErrors"] == []
    values = _by_key(created["customer"])
    assert values[f"{k}t"]["value"] == "华南" and values[f"{k}t"]["textValue"] == "华南"
    assert values[f"{k}n"]["value"] == 42 and values[f"{k}n"]["numberValue"] == 42
    assert values[f"{k}d"]["value"] == "3.1415" and values[f"{k}d"]["decimalValue"] == "3.1415"
    assert values[f"{k}day"]["dateValue"] == "2026-05-01"
    assert values[f"{k}b"]["boolValue"] is True and values[f"{k}b"]["type"] == "BOOLEAN"
    assert values[f"{k}s"]["textValue"] == "乙"
    assert values[f"{k}m"]["optionValues"] == ["蓝", "红"]  # deduplicated, order kept
    customer = created["customer"]

    # only custom values change: a new version, one audit record with before/after
    updated = await fields.update(admin, customer, {f"{k}n": 7, f"{k}t": None, f"{k}b": False})
    assert updated["userErrors"] == []
    assert updated["customer"]["version"] == customer["version"] + 1
    values = _by_key(updated["customer"])
    assert f"{k}t" not in values
    assert values[f"{k}n"]["value"] == 7 and values[f"{k}b"]["value"] is False
    assert values[f"{k}s"]["value"] == "乙"  # not listed: kept
    async with tenant_transaction(services.engine, cf.schema) as conn:
        changes = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.changes)
                .where(audit_log.c.entity_id == customer["id"])
                .order_by(audit_log.c.id)
            )
        ).all()
    actions = [a for a, _ in changes]
    assert actions.count("customer.custom_fields") == 2
    last = changes[-1].changes
    assert last == {
        f"customFields.{k}n": {"from": 42, "to": 7},
        f"customFields.{k}t": {"from": "华南", "to": None},
        f"customFields.{k}b": {"from": True, "to": False},
    }
    # the stale version conflicts, custom values or not
    stale = await fields.update(admin, customer, {f"{k}n": 8})
    assert stale["userErrors"][0]["code"] == "CONFLICT"
    # the same values again: nothing changes
    same = await fields.update(admin, updated["customer"], {f"{k}n": 7})
    assert same["customer"]["version"] == updated["customer"]["version"]
    # read back through customer(id)
    one = (await api.gql(CUSTOMER, {"id": customer["id"]}, token=admin))["customer"]
    assert _by_key(one)[f"{k}d"]["decimalValue"] == "3.1415"


BAD = [
    ("nope", "x", "UNKNOWN_FIELD"),
    ("t", 5, "INVALID_TYPE"),
    ("t", "太长了太长了", "TOO_LONG"),
    ("n", "abc", "INVALID_TYPE"),
    ("n", 1.5, "INVALID_TYPE"),
    ("n", True, "INVALID_TYPE"),
    ("n", 101, "OUT_OF_RANGE"),
    ("n", -1, "OUT_OF_RANGE"),
    ("n", 2**60, "OUT_OF_RANGE"),
    ("d", "11", "OUT_OF_RANGE"),
    ("d", "1.23456", "INVALID"),
    ("d", "abc", "INVALID_TYPE"),
    ("day", "2026-13-01", "INVALID_TYPE"),
    ("b", "yes", "INVALID_TYPE"),
    ("s", "丙", "NOT_AN_OPTION"),
    ("m", ["红", "紫"], "NOT_AN_OPTION"),
    ("m", "红", "INVALID_TYPE"),
]


async def test_each_rule_writes_nothing(services, cf, fields, k):
    admin = cf.tokens["admin"]
    await _every_type(fields, admin, k)
    rows = await _value_rows(services, cf)
    for key, value, code in BAD:
        name = f"{k}错误{key}"
        # a valid value beside the bad one: still nothing is written
        payload = await fields.create(admin, name, {f"{k}s": "甲", f"{k}{key}": value})
        assert payload["customer"] is None, (key, value)
        assert payload["userErrors"][0]["field"] == f"customFields.{k}{key}", payload
        assert payload["userErrors"][0]["code"] == code, (key, value, payload)
        assert await fields.names(admin, {"search": name}) == []
    assert await _value_rows(services, cf) == rows
    # and on update: neither the customer nor any value changes
    created = await fields.create(admin, f"{k}好公司", {f"{k}n": 1})
    customer = created["customer"]
    for key, value, code in BAD:
        payload = await fields.update(admin, customer, {f"{k}n": 2, f"{k}{key}": value},
                                      region="华东")  # fmt: skip
        assert payload["userErrors"][0]["code"] == code
    duplicate = await fields.update(admin, customer, {f"{k}n": 2}, customFields=[
        {"key": f"{k}n", "value": 2}, {"key": f"{k}n", "value": 3}])  # fmt: skip
    assert duplicate["userErrors"][0]["code"] == "DUPLICATE"
    assert await _value_rows(services, cf) == rows + 1


async def test_customer_and_custom_errors_come_together(cf, fields, k):
    admin = cf.tokens["admin"]
    await fields.ok(admin, key=f"{k}n", type="NUMBER")
    payload = await fields.create(admin, "", {f"{k}n": "x"})
    assert {e["field"] for e in payload["userErrors"]} == {"name", f"customFields.{k}n"}


@pytest.fixture
async def required(api, cf, fields, k):
    """A required field, removed afterwards (the module's tenant is shared)."""
    field = await fields.ok(cf.tokens["admin"], key=f"{k}must", type="TEXT", required=True,
                            label="必填")  # fmt: skip
    yield f"{k}must"
    await api.gql(REMOVE, {"input": {"id": field["id"]}}, token=cf.tokens["admin"])


async def test_required(cf, fields, k, required):
    admin = cf.tokens["admin"]
    missing = await fields.create(admin, f"{k}无")
    assert missing["userErrors"] == [
        {"field": f"customFields.{required}", "code": "REQUIRED", "message": "必填 is required"}
    ]
    blank = await fields.create(admin, f"{k}空", {required: "  "})
    assert blank["userErrors"][0]["code"] == "REQUIRED"
    created = await fields.create(admin, f"{k}有", {required: "ok"})
    assert created["userErrors"] == []
    customer = created["customer"]
    cleared = await fields.update(admin, customer, {required: None})
    assert cleared["userErrors"][0] == {
        "field": f"customFields.{required}",
        "code": "REQUIRED",
        "message": "必填 is required",
    }
    other = await fields.update(admin, customer, {}, region="华北")  # not mentioned: fine
    assert other["userErrors"] == []


async def test_removed_field_is_gone_but_customers_stay(api, services, cf, fields, k):
    admin = cf.tokens["admin"]
    kept = await fields.ok(admin, key=f"{k}kept", type="NUMBER")
    gone = await fields.ok(admin, key=f"{k}gone", type="NUMBER")
    created = await fields.create(admin, f"{k}留", {f"{k}kept": 1, f"{k}gone": 2})
    customer = created["customer"]
    assert len(customer["customFields"]) == 2
    await api.gql(REMOVE, {"input": {"id": gone["id"]}}, token=admin)
    one = (await api.gql(CUSTOMER, {"id": customer["id"]}, token=admin))["customer"]
    assert [v["key"] for v in one["customFields"]] == [kept["key"]]
    errors = await api.errors(
        "query($f: CustomerFilter) { customers(filter: $f) { totalCount } }",
        {"f": {"customFields": [{"key": f"{k}gone", "eq": 2}]}}, token=admin,
    )  # fmt: skip
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"customFields.{k}gone" in errors[0]["message"]
    assert await fields.names(admin, {"search": f"{k}留"}) == [f"{k}留"]
    write = await fields.update(admin, one, {f"{k}gone": 3})
    assert write["userErrors"][0]["code"] == "UNKNOWN_FIELD"
    # a new field with the old key starts empty
    await fields.ok(admin, key=f"{k}gone", type="NUMBER")
    one = (await api.gql(CUSTOMER, {"id": customer["id"]}, token=admin))["customer"]
    assert [v["key"] for v in one["customFields"]] == [kept["key"]]
