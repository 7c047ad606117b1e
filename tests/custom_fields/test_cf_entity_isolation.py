"""Custom fields of contacts, leads and opportunities are their tenant's own: another
tenant cannot list them, write to them, filter or sort on them, nor tell a key that
exists elsewhere from one that exists nowhere."""

from __future__ import annotations

import pytest
from cf_entity_helpers import ALL_KINDS, NEW_KINDS, Kind, Records
from helpers import make_tenant

DEFINITIONS = "query($e: CustomFieldEntity!) { customFieldDefinitions(entity: $e) { key type } }"
CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id } userErrors { code } } }"""


@pytest.fixture(scope="module")
async def two(owner, services, api):
    a = await make_tenant(owner, services, "cfia")
    b = await make_tenant(owner, services, "cfib")
    parents = {}
    for tenant in (a, b):
        created = await api.gql(
            CREATE_CUSTOMER, {"input": {"name": "隔离客户"}}, token=tenant.tokens["admin"]
        )
        parents[tenant.slug] = created["createCustomer"]["customer"]["id"]
    return a, b, parents


def _order(kind: Kind, key: str):
    entry = {"customField": key}
    return [entry] if kind.order_is_list else entry


@pytest.mark.parametrize("kind", NEW_KINDS, ids=lambda k: k.name)
async def test_tenants_do_not_share_fields_or_values(api, two, kind):
    a, b, parents = two
    in_a = Records(api, kind, parents[a.slug])
    in_b = Records(api, kind, parents[b.slug])
    await in_a.ok(a.tokens["admin"], key="grade", type="SELECT", options=["金", "银"])
    await in_b.ok(b.tokens["admin"], key="grade", type="NUMBER")  # same key, own field
    await in_a.ok(a.tokens["admin"], key="secret_a", type="TEXT")
    created = await in_a.create(a.tokens["admin"], "甲方记录", {"grade": "金", "secret_a": "机密"})
    assert created["userErrors"] == []
    secret_id = created[kind.node]["id"]

    listed = await api.gql(DEFINITIONS, {"e": kind.enum}, token=b.tokens["admin"])
    assert [(f["key"], f["type"]) for f in listed["customFieldDefinitions"]] == [
        ("grade", "NUMBER")
    ]
    # b's values follow b's definitions only
    wrong = await in_b.create(b.tokens["admin"], "乙方记录", {"grade": "金"})
    assert wrong["userErrors"][0]["code"] == "INVALID_TYPE"
    unknown = await in_b.create(b.tokens["admin"], "乙方记录", {"secret_a": "x"})
    assert unknown["userErrors"][0] == {
        "field": "customFields.secret_a", "code": "UNKNOWN_FIELD",
        "message": "no custom field 'secret_a'",
    }  # fmt: skip
    ok = await in_b.create(b.tokens["admin"], "乙方记录", {"grade": 5})
    assert [v["value"] for v in ok[kind.node]["customFields"]] == [5]
    # b cannot read a's record, nor filter or sort on a's field; the errors are those of
    # a key no tenant has
    assert await in_b.get(b.tokens["admin"], secret_id) is None
    for key in ("secret_a", "never_defined"):
        filtered = await in_b.list_errors(
            b.tokens["admin"], {"customFields": [{"key": key, "eq": "机密"}]}
        )
        sorted_ = await in_b.list_errors(b.tokens["admin"], None, _order(kind, key))
        codes = {filtered[0]["extensions"]["code"], sorted_[0]["extensions"]["code"]}
        assert codes == {"BAD_USER_INPUT"}
        assert filtered[0]["message"] == f"customFields.{key}: no custom field {key!r}"
        assert sorted_[0]["message"] == f"orderBy: no custom field {key!r}"
    assert await in_b.names(b.tokens["admin"], {"customFields": [
        {"key": "grade", "isNull": False}]}) == ["乙方记录"]  # fmt: skip
    # a's record and value are untouched, found by a's filter and sort
    assert await in_a.names(a.tokens["admin"], {"customFields": [
        {"key": "secret_a", "eq": "机密"}]}) == ["甲方记录"]  # fmt: skip
    assert await in_a.names(a.tokens["admin"], {}, _order(kind, "secret_a")) == ["甲方记录"]


async def test_sorting_reads_only_the_own_tenants_values(api, two):
    """The same key sorted in both tenants: each sees its own records in its own order."""
    a, b, parents = two
    for tenant, numbers in ((a, [3, 1, 2]), (b, [20, 30, 10])):
        for kind in ALL_KINDS:
            records = Records(api, kind, parents[tenant.slug])
            await records.ok(tenant.tokens["admin"], key="rank", type="NUMBER")
            for i, n in enumerate(numbers):
                created = await records.create(tenant.tokens["admin"], f"排序{i}", {"rank": n})
                assert created["userErrors"] == []
    for tenant, expected in ((a, ["排序1", "排序2", "排序0"]), (b, ["排序2", "排序0", "排序1"])):
        for kind in ALL_KINDS:
            names = await Records(api, kind).names(
                tenant.tokens["admin"], {"search": "排序"}, _order(kind, "rank")
            )
            assert names == expected, (tenant.slug, kind.name)
