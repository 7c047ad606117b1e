"""Defining, changing and removing custom fields; who may."""

from __future__ import annotations

from custom_field_helpers import DEFINITIONS, REMOVE, UPDATE


async def test_define_list_update_remove(api, cf, fields, k):
    admin = cf.tokens["admin"]
    first = await fields.ok(admin, key=f"{k}region", label="大区", type="TEXT",
                            validation={"maxLength": 20})  # fmt: skip
    second = await fields.ok(admin, key=f"{k}level", label="级别", type="SELECT",
                             options=["高", "中", "低"], required=False)  # fmt: skip
    assert first["validation"]["maxLength"] == 20
    assert second["position"] > first["position"]
    # viewers read definitions (customers:read)
    listed = (await api.gql(DEFINITIONS, token=cf.tokens["viewer"]))["customFieldDefinitions"]
    assert [f["key"] for f in listed if f["key"].startswith(k)] == [f"{k}region", f"{k}level"]

    changed = (
        await api.gql(
            UPDATE,
            {
                "input": {
                    "id": second["id"],
                    "version": 1,
                    "label": "客户级别",
                    "options": ["高", "中", "低", "无"],
                    "position": 0,
                }
            },
            token=admin,
        )  # fmt: skip
    )["updateCustomField"]
    assert changed["userErrors"] == []
    assert changed["customField"]["label"] == "客户级别"
    assert changed["customField"]["version"] == 2
    stale = (
        await api.gql(
            UPDATE, {"input": {"id": second["id"], "version": 1, "label": "x"}}, token=admin
        )  # fmt: skip
    )["updateCustomField"]
    assert stale["userErrors"][0]["code"] == "CONFLICT"
    retype = (
        await api.gql(
            UPDATE, {"input": {"id": second["id"], "version": 2, "type": "TEXT"}}, token=admin
        )  # fmt: skip
    )["updateCustomField"]
    assert retype["userErrors"][0] == {
        "field": "type", "code": "IMMUTABLE",
        "message": "a field's type cannot change; define a new field",
    }  # fmt: skip

    removed = (await api.gql(REMOVE, {"input": {"id": first["id"]}}, token=admin))[
        "removeCustomField"
    ]
    assert removed["customField"]["deletedAt"]
    again = (await api.gql(REMOVE, {"input": {"id": first["id"]}}, token=admin))[
        "removeCustomField"
    ]
    assert again["userErrors"][0]["code"] == "NOT_FOUND"
    listed = (await api.gql(DEFINITIONS, token=admin))["customFieldDefinitions"]
    assert f"{k}region" not in [f["key"] for f in listed]
    # the key is free again: a new field (a new id), of another type even
    reborn = await fields.ok(admin, key=f"{k}region", type="NUMBER")
    assert reborn["id"] != first["id"]


async def test_definition_rules(cf, fields, k):
    admin = cf.tokens["admin"]
    cases = [
        ({"key": "Bad Key", "type": "TEXT"}, "key", "INVALID"),
        ({"key": "9lives", "type": "TEXT"}, "key", "INVALID"),
        ({"key": "x" * 41, "type": "TEXT"}, "key", "INVALID"),
        ({"key": f"{k}a", "type": "SELECT"}, "options", "INVALID"),
        ({"key": f"{k}b", "type": "SELECT", "options": ["a", "a"]}, "options", "INVALID"),
        ({"key": f"{k}c", "type": "TEXT", "options": ["a"]}, "options", "INVALID"),
        ({"key": f"{k}d", "type": "NUMBER", "validation": {"maxLength": 3}},
         "validation.maxLength", "INVALID"),
        ({"key": f"{k}e", "type": "DATE", "validation": {"min": "1"}}, "validation", "INVALID"),
        ({"key": f"{k}f", "type": "DECIMAL", "validation": {"min": "5", "max": "1"}},
         "validation.min", "INVALID"),
        ({"key": f"{k}g", "type": "TEXT", "label": "  "}, "label", "INVALID"),
    ]  # fmt: skip
    for input, field, code in cases:
        payload = await fields.define(admin, **input)
        assert payload["customField"] is None, input
        assert (field, code) in [(e["field"], e["code"]) for e in payload["userErrors"]], (
            input, payload,
        )  # fmt: skip
    await fields.ok(admin, key=f"{k}dup", type="TEXT")
    taken = await fields.define(admin, key=f"{k}dup", type="NUMBER")
    assert taken["userErrors"][0]["code"] == "TAKEN"


async def test_only_fields_manage_defines(api, cf, fields, k):
    from custom_field_helpers import DEFINE

    for role in ("manager", "sales", "viewer"):
        errors = await api.errors(
            DEFINE, {"input": {"entity": "CUSTOMER", "key": f"{k}x", "label": "x",
                               "type": "TEXT"}}, token=cf.tokens[role],
        )  # fmt: skip
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_options_in_use_cannot_be_removed(api, cf, fields, k):
    admin = cf.tokens["admin"]
    field = await fields.ok(admin, key=f"{k}s", type="MULTISELECT", options=["a", "b", "c"])
    created = await fields.create(admin, f"{k}客户", {f"{k}s": ["b"]})
    assert created["userErrors"] == []
    refused = (
        await api.gql(
            UPDATE, {"input": {"id": field["id"], "version": 1, "options": ["a"]}}, token=admin
        )  # fmt: skip
    )["updateCustomField"]
    assert refused["userErrors"][0]["code"] == "IN_USE"
    fine = (
        await api.gql(
            UPDATE, {"input": {"id": field["id"], "version": 1, "options": ["b"]}}, token=admin
        )  # fmt: skip
    )["updateCustomField"]
    assert fine["userErrors"] == [] and fine["customField"]["options"] == ["b"]
