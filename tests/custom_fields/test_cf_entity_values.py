"""Custom values on contacts, leads and opportunities, as customers have them: every
type on create and update, each rule with the field named and nothing written,
required fields, the audit record, versions, and removed fields."""

from __future__ import annotations

import pytest
from cf_entity_helpers import NEW_KINDS, Records
from custom_field_helpers import REMOVE
from sqlalchemy import func, select

from app.audit.tables import audit_log
from app.custom_fields.tables import custom_field_values
from app.db import tenant_transaction

KINDS = pytest.mark.parametrize("kind", NEW_KINDS, ids=lambda k: k.name)


@pytest.fixture(scope="module")
async def customer_id(api, cf) -> str:
    """The customer contacts and opportunities belong to (the sales rep's)."""
    created = await api.gql(
        "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { "
        "customer { id } userErrors { code } } }",
        {"input": {"name": "自定义字段客户", "ownerId": str(cf.user_ids["sales"])}},
        token=cf.tokens["admin"],
    )
    return created["createCustomer"]["customer"]["id"]


async def _every_type(records: Records, token: str, k: str) -> None:
    await records.ok(token, key=f"{k}t", type="TEXT", validation={"maxLength": 5})
    await records.ok(token, key=f"{k}n", type="NUMBER", validation={"min": "0", "max": "100"})
    await records.ok(token, key=f"{k}d", type="DECIMAL", validation={"max": "10.5"})
    await records.ok(token, key=f"{k}day", type="DATE")
    await records.ok(token, key=f"{k}b", type="BOOLEAN")
    await records.ok(token, key=f"{k}s", type="SELECT", options=["甲", "乙"])
    await records.ok(token, key=f"{k}m", type="MULTISELECT", options=["红", "绿", "蓝"])


def _by_key(record: dict) -> dict:
    return {v["key"]: v for v in record["customFields"]}


async def _value_rows(services, tenant) -> int:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return await conn.scalar(select(func.count()).select_from(custom_field_values))


@KINDS
async def test_every_type_on_create_and_update(api, services, cf, customer_id, k, kind):
    admin = cf.tokens["admin"]
    records = Records(api, kind, customer_id)
    await _every_type(records, admin, k)
    created = await records.create(admin, f"{k}记录", {
        f"{k}t": "华南", f"{k}n": 42, f"{k}d": "3.1415", f"{k}day": "2026-05-01",
        f"{k}b": True, f"{k}s": "乙", f"{k}m": ["蓝", "红", "蓝"],
    })  # fmt: skip
    assert created["userErrors"] == []
    record = created[kind.node]
    values = _by_key(record)
    assert values[f"{k}t"]["value"] == "华南" and values[f"{k}t"]["textValue"] == "华南"
    assert values[f"{k}n"]["value"] == 42 and values[f"{k}n"]["numberValue"] == 42
    assert values[f"{k}d"]["value"] == "3.1415" and values[f"{k}d"]["decimalValue"] == "3.1415"
    assert values[f"{k}day"]["dateValue"] == "2026-05-01"
    assert values[f"{k}b"]["boolValue"] is True and values[f"{k}b"]["type"] == "BOOLEAN"
    assert values[f"{k}s"]["textValue"] == "乙"
    assert values[f"{k}m"]["optionValues"] == ["蓝", "红"]
    assert [v["key"] for v in record["customFields"]] == [  # display order
        f"{k}t", f"{k}n", f"{k}d", f"{k}day", f"{k}b", f"{k}s", f"{k}m",
    ]  # fmt: skip

    # only custom values change: a new version, one audit record with before and after
    updated = await records.update(admin, record, {f"{k}n": 7, f"{k}t": None, f"{k}b": False})
    assert updated["userErrors"] == []
    assert updated[kind.node]["version"] == record["version"] + 1
    values = _by_key(updated[kind.node])
    assert f"{k}t" not in values
    assert values[f"{k}n"]["value"] == 7 and values[f"{k}b"]["value"] is False
    assert values[f"{k}s"]["value"] == "乙"  # not listed: kept
    async with tenant_transaction(services.engine, cf.schema) as conn:
        changes = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.changes)
                .where(audit_log.c.entity_id == record["id"])
                .order_by(audit_log.c.id)
            )
        ).all()
    assert [a for a, _ in changes].count(f"{kind.name}.custom_fields") == 2
    assert changes[-1].changes == {
        f"customFields.{k}n": {"from": 42, "to": 7},
        f"customFields.{k}t": {"from": "华南", "to": None},
        f"customFields.{k}b": {"from": True, "to": False},
    }
    # a stale version conflicts; the same values again change nothing
    stale = await records.update(admin, record, {f"{k}n": 8})
    assert stale["userErrors"][0]["code"] == "CONFLICT"
    same = await records.update(admin, updated[kind.node], {f"{k}n": 7})
    assert same[kind.node]["version"] == updated[kind.node]["version"]
    # a change of the record's own column and of a value: one new version
    both = await records.update(admin, same[kind.node], {f"{k}n": 9}, name=f"{k}改名")
    assert both["userErrors"] == [] and both[kind.node]["version"] == record["version"] + 2
    # read back through the single query
    one = await records.get(admin, record["id"])
    assert _by_key(one)[f"{k}d"]["decimalValue"] == "3.1415"
    assert _by_key(one)[f"{k}n"]["value"] == 9


BAD = [
    ("nope", "x", "UNKNOWN_FIELD"),
    ("t", 5, "INVALID_TYPE"),
    ("t", "太长了太长了", "TOO_LONG"),
    ("n", "abc", "INVALID_TYPE"),
    ("n", 1.5, "INVALID_TYPE"),
    ("n", True, "INVALID_TYPE"),
    ("n", 101, "OUT_OF_RANGE"),
    ("n", -1, "OUT_OF_RANGE"),
    ("d", "11", "OUT_OF_RANGE"),
    ("d", "1.23456", "INVALID"),
    ("day", "2026-13-01", "INVALID_TYPE"),
    ("b", "yes", "INVALID_TYPE"),
    ("s", "丙", "NOT_AN_OPTION"),
    ("m", ["红", "紫"], "NOT_AN_OPTION"),
    ("m", "红", "INVALID_TYPE"),
]


@KINDS
async def test_each_rule_names_the_field_and_writes_nothing(api, services, cf, customer_id, k,
                                                            kind):  # fmt: skip
    admin = cf.tokens["admin"]
    records = Records(api, kind, customer_id)
    await _every_type(records, admin, k)
    rows = await _value_rows(services, cf)
    for key, value, code in BAD:
        name = f"{k}错误{key}"
        payload = await records.create(admin, name, {f"{k}s": "甲", f"{k}{key}": value})
        assert payload[kind.node] is None, (key, value)
        assert payload["userErrors"] == [
            {"field": f"customFields.{k}{key}", "code": code,
             "message": payload["userErrors"][0]["message"]}
        ], payload  # fmt: skip
        assert await records.names(admin, {"search": name}) == []
    assert await _value_rows(services, cf) == rows
    # on update: neither the record nor any value changes
    created = await records.create(admin, f"{k}好记录", {f"{k}n": 1})
    record = created[kind.node]
    for key, value, code in BAD:
        payload = await records.update(admin, record, {f"{k}n": 2, f"{k}{key}": value},
                                       name=f"{k}不该改")  # fmt: skip
        assert payload["userErrors"][0]["code"] == code
        assert payload["userErrors"][0]["field"] == f"customFields.{k}{key}"
    duplicate = await records.update(admin, record, None, customFields=[
        {"key": f"{k}n", "value": 2}, {"key": f"{k}n", "value": 3}])  # fmt: skip
    assert duplicate["userErrors"][0] == {
        "field": f"customFields.{k}n", "code": "DUPLICATE",
        "message": "this field is given more than once",
    }  # fmt: skip
    one = await records.get(admin, record["id"])
    assert one["version"] == record["version"]
    assert [(v["key"], v["value"]) for v in one["customFields"]] == [(f"{k}n", 1)]
    assert await records.names(admin, {"search": f"{k}不该改"}) == []
    assert await _value_rows(services, cf) == rows + 1


@KINDS
async def test_record_and_custom_errors_come_together(api, cf, customer_id, k, kind):
    records = Records(api, kind, customer_id)
    await records.ok(cf.tokens["admin"], key=f"{k}n", type="NUMBER")
    payload = await records.create(cf.tokens["admin"], "", {f"{k}n": "x"})
    assert {e["field"] for e in payload["userErrors"]} == {"name", f"customFields.{k}n"}


@KINDS
async def test_required(api, cf, customer_id, k, kind):
    admin = cf.tokens["admin"]
    records = Records(api, kind, customer_id)
    field = await records.ok(admin, key=f"{k}must", type="TEXT", required=True, label="必填")
    required = f"{k}must"
    try:
        missing = await records.create(admin, f"{k}无")
        assert missing["userErrors"] == [
            {"field": f"customFields.{required}", "code": "REQUIRED",
             "message": "必填 is required"}
        ]  # fmt: skip
        blank = await records.create(admin, f"{k}空", {required: "  "})
        assert blank["userErrors"][0]["code"] == "REQUIRED"
        created = await records.create(admin, f"{k}有", {required: "ok"})
        assert created["userErrors"] == []
        record = created[kind.node]
        cleared = await records.update(admin, record, {required: None})
        assert cleared["userErrors"][0]["field"] == f"customFields.{required}"
        assert cleared["userErrors"][0]["code"] == "REQUIRED"
        other = await records.update(admin, record, None, name=f"{k}有改")  # not mentioned: fine
        assert other["userErrors"] == []
    finally:
        await api.gql(REMOVE, {"input": {"id": field["id"]}}, token=admin)
    # a required field of another entity asks nothing of this one
    await Records(api, next(o for o in NEW_KINDS if o != kind)).ok(
        admin, key=f"{k}other", type="TEXT", required=True
    )
    try:
        assert (await records.create(admin, f"{k}别的"))["userErrors"] == []
    finally:
        listed = await api.gql(
            "query($e: CustomFieldEntity!) { customFieldDefinitions(entity: $e) { id key } }",
            {"e": next(o for o in NEW_KINDS if o != kind).enum}, token=admin,
        )  # fmt: skip
        for f in listed["customFieldDefinitions"]:
            if f["key"] == f"{k}other":
                await api.gql(REMOVE, {"input": {"id": f["id"]}}, token=admin)


@KINDS
async def test_removed_field_is_gone_but_records_stay(api, cf, customer_id, k, kind):
    admin = cf.tokens["admin"]
    records = Records(api, kind, customer_id)
    kept = await records.ok(admin, key=f"{k}kept", type="NUMBER")
    gone = await records.ok(admin, key=f"{k}gone", type="NUMBER")
    created = await records.create(admin, f"{k}留", {f"{k}kept": 1, f"{k}gone": 2})
    record = created[kind.node]
    assert len(record["customFields"]) == 2
    await api.gql(REMOVE, {"input": {"id": gone["id"]}}, token=admin)
    one = await records.get(admin, record["id"])
    assert [v["key"] for v in one["customFields"]] == [kept["key"]]
    for filter, order in (
        ({"customFields": [{"key": f"{k}gone", "eq": 2}]}, None),
        (None, {"customField": f"{k}gone"}),
    ):
        errors = await records.list_errors(admin, filter, order)
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert f"{k}gone" in errors[0]["message"]
    write = await records.update(admin, one, {f"{k}gone": 3})
    assert write["userErrors"][0]["code"] == "UNKNOWN_FIELD"


async def test_definitions_are_listed_per_entity(api, cf, k):
    admin = cf.tokens["admin"]
    for kind in NEW_KINDS:
        await Records(api, kind).ok(admin, key=f"{k}{kind.name}", type="TEXT")
    query = "query($e: CustomFieldEntity!) { customFieldDefinitions(entity: $e) { key } }"
    for kind in NEW_KINDS:
        listed = await api.gql(query, {"e": kind.enum}, token=cf.tokens["viewer"])
        keys = {f["key"] for f in listed["customFieldDefinitions"] if f["key"].startswith(k)}
        assert keys == {f"{k}{kind.name}"}
    # the same key on two entities is two fields
    again = await Records(api, NEW_KINDS[0]).define(admin, key=f"{k}{NEW_KINDS[1].name}",
                                                    type="NUMBER")  # fmt: skip
    assert again["userErrors"] == []
