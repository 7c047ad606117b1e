"""Tenants' custom fields are their own: definitions, values and filters never cross."""

from __future__ import annotations

import pytest
from custom_field_helpers import DEFINITIONS, REMOVE, UPDATE, Fields
from helpers import make_tenant


@pytest.fixture(scope="module")
async def two(owner, services):
    return await make_tenant(owner, services, "cfa"), await make_tenant(owner, services, "cfb")


async def test_tenants_do_not_share_fields_or_values(api, two):
    a, b = two
    fields = Fields(api)
    in_a = await fields.ok(a.tokens["admin"], key="grade", type="SELECT", options=["金", "银"])
    in_b = await fields.ok(b.tokens["admin"], key="grade", type="NUMBER")  # same key, own field
    secret = await fields.ok(a.tokens["admin"], key="secret_a", type="TEXT")
    created = await fields.create(
        a.tokens["admin"], "甲方客户", {"grade": "金", "secret_a": "机密"}
    )
    assert created["userErrors"] == []

    listed = (await api.gql(DEFINITIONS, token=b.tokens["admin"]))["customFieldDefinitions"]
    assert [(f["key"], f["type"]) for f in listed] == [("grade", "NUMBER")]
    # b's values follow b's definition only
    wrong = await fields.create(b.tokens["admin"], "乙方客户", {"grade": "金"})
    assert wrong["userErrors"][0]["code"] == "INVALID_TYPE"
    unknown = await fields.create(b.tokens["admin"], "乙方客户", {"secret_a": "x"})
    assert unknown["userErrors"][0]["code"] == "UNKNOWN_FIELD"
    ok = await fields.create(b.tokens["admin"], "乙方客户", {"grade": 5})
    assert [v["value"] for v in ok["customer"]["customFields"]] == [5]
    # b cannot filter on a's field, nor find a's values through its own key
    errors = await api.errors(
        "query($f: CustomerFilter) { customers(filter: $f) { totalCount } }",
        {"f": {"customFields": [{"key": "secret_a", "eq": "机密"}]}}, token=b.tokens["admin"],
    )  # fmt: skip
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await fields.names(b.tokens["admin"], {"customFields": [{"key": "grade",
                                                                    "isNull": False}]}) == [
        "乙方客户"
    ]  # fmt: skip
    # b cannot change or remove a's definitions by id
    for operation, input, name in (
        (UPDATE, {"id": in_a["id"], "version": 1, "label": "x"}, "updateCustomField"),
        (REMOVE, {"id": secret["id"]}, "removeCustomField"),
    ):
        payload = (await api.gql(operation, {"input": input}, token=b.tokens["admin"]))[name]
        assert payload["userErrors"][0]["code"] == "NOT_FOUND"
    # a's field and value are untouched
    listed = (await api.gql(DEFINITIONS, token=a.tokens["admin"]))["customFieldDefinitions"]
    assert {f["key"] for f in listed} == {"grade", "secret_a"}
    assert await fields.names(a.tokens["admin"], {"customFields": [{"key": "secret_a",
                                                                    "eq": "机密"}]}) == [
        "甲方客户"
    ]  # fmt: skip
    assert in_b["id"] != in_a["id"]
