"""Filtering contacts, leads and opportunities by custom fields as customers are
filtered: every type and operator, and/or, wrong filters naming the key, and the data
scope: a rep sees, filters and reads values only of the records they may see."""

from __future__ import annotations

import pytest
from cf_entity_helpers import CONTACT, LEAD, NEW_KINDS, OPPORTUNITY, Records
from custom_field_helpers import VALUES

KEYS = ("f_text", "f_num", "f_dec", "f_day", "f_bool", "f_sel", "f_multi")
ROWS = {
    # name: (text, number, decimal, date, bool, select, multiselect)
    "A": ("华南", 10, "1.5", "2026-01-10", True, "甲", ["红", "绿"]),
    "B": ("华北", 20, "2.25", "2026-02-10", False, "乙", ["绿"]),
    "C": ("华南", 30, "3", "2026-03-10", True, "乙", ["红", "绿", "蓝"]),
    "D": None,  # no values at all
}
CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id } userErrors { code } } }"""


@pytest.fixture(scope="module")
async def data(cf, api):
    """A and B are the sales rep's (contacts: of the rep's customer), C and D the
    manager's; the same values on every kind."""
    admin = cf.tokens["admin"]
    parents = {}
    for role in ("sales", "manager"):
        created = await api.gql(
            CREATE_CUSTOMER,
            {"input": {"name": f"筛选客户{role}", "ownerId": str(cf.user_ids[role])}},
            token=admin,
        )
        parents[role] = created["createCustomer"]["customer"]["id"]
    made = {}
    for kind in NEW_KINDS:
        records = Records(api, kind)
        await records.ok(admin, key="f_text", type="TEXT")
        await records.ok(admin, key="f_num", type="NUMBER")
        await records.ok(admin, key="f_dec", type="DECIMAL")
        await records.ok(admin, key="f_day", type="DATE")
        await records.ok(admin, key="f_bool", type="BOOLEAN")
        await records.ok(admin, key="f_sel", type="SELECT", options=["甲", "乙"])
        await records.ok(admin, key="f_multi", type="MULTISELECT", options=["红", "绿", "蓝"])
        made[kind.name] = {}
        for name, row in ROWS.items():
            role = "sales" if name in "AB" else "manager"
            values = dict(zip(KEYS, row, strict=True)) if row else None
            extra = {"customerId": parents[role]} if kind.needs_customer else {}
            if kind is not CONTACT:
                extra["ownerId"] = str(cf.user_ids[role])
            created = await records.create(admin, f"筛选{name}", values, **extra)
            assert created["userErrors"] == [], created
            made[kind.name][name] = created[kind.node]["id"]
    return made


CASES = [
    ({"key": "f_text", "eq": "华南"}, "AC"),
    ({"key": "f_text", "in": ["华北", "西北"]}, "B"),
    ({"key": "f_text", "isNull": True}, "D"),
    ({"key": "f_num", "gte": 15, "lte": 30}, "BC"),
    ({"key": "f_num", "in": [10, 30]}, "AC"),
    ({"key": "f_dec", "gte": "2.25"}, "BC"),
    ({"key": "f_dec", "lte": 2}, "A"),
    ({"key": "f_day", "gte": "2026-02-01", "lte": "2026-02-28"}, "B"),
    ({"key": "f_day", "isNull": False}, "ABC"),
    ({"key": "f_bool", "eq": False}, "B"),
    ({"key": "f_sel", "in": ["乙"]}, "BC"),
    ({"key": "f_multi", "contains": ["红", "绿"]}, "AC"),
    ({"key": "f_multi", "in": ["红", "蓝"]}, "AC"),
    ({"key": "f_multi", "isNull": True}, "D"),
]
KINDS = pytest.mark.parametrize("kind", NEW_KINDS, ids=lambda k: k.name)


@KINDS
@pytest.mark.parametrize(("condition", "expected"), CASES, ids=str)
async def test_filter(api, cf, data, kind, condition, expected):
    names = await Records(api, kind).names(
        cf.tokens["admin"], {"search": "筛选", "customFields": [condition]}
    )
    assert names == [f"筛选{n}" for n in expected]


@KINDS
async def test_conditions_are_anded_and_nest(api, cf, data, kind):
    records = Records(api, kind)
    admin = cf.tokens["admin"]
    both = [{"key": "f_text", "eq": "华南"}, {"key": "f_num", "gte": 20}]
    assert await records.names(admin, {"search": "筛选", "customFields": both}) == ["筛选C"]
    if kind is CONTACT:
        return  # the contacts' filter has no and/or
    either = {"search": "筛选", "or": [{"customFields": [{"key": "f_num", "eq": 10}]},
                                       {"customFields": [{"key": "f_bool", "eq": False}]}]}  # fmt: skip
    assert await records.names(admin, either) == ["筛选A", "筛选B"]
    deep = {"and": [{"and": [{"customFields": [{"key": "f_sel", "eq": "乙"}]}]},
                    {"customFields": [{"key": "f_text", "eq": "华南"}]}]}  # fmt: skip
    assert await records.names(admin, deep) == ["筛选C"]


@KINDS
@pytest.mark.parametrize(
    "condition",
    [
        {"key": "nope", "eq": 1},
        {"key": "f_num", "contains": ["1"]},
        {"key": "f_num", "eq": "ten"},
        {"key": "f_bool", "gte": True},
        {"key": "f_sel", "eq": "丙"},
        {"key": "f_multi", "eq": "红"},
    ],
    ids=str,
)
async def test_bad_filters_name_the_key(api, cf, data, kind, condition):
    errors = await Records(api, kind).list_errors(cf.tokens["admin"], {"customFields": [condition]})
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"customFields.{condition['key']}" in errors[0]["message"]


@KINDS
async def test_a_rep_filters_and_reads_only_what_they_may_see(api, cf, data, kind):
    records = Records(api, kind)
    sales = cf.tokens["sales"]
    south = {"search": "筛选", "customFields": [{"key": "f_text", "eq": "华南"}]}
    assert await records.names(sales, south) == ["筛选A"]  # C is the manager's
    assert await records.names(sales, {"search": "筛选", "customFields": [
        {"key": "f_num", "gte": 25}]}) == []  # fmt: skip
    anyone = {"search": "筛选", "or": [{"customFields": [{"key": "f_num", "gte": 0}]},
                                       {"customFields": [{"key": "f_num", "isNull": True}]}]}  # fmt: skip
    if kind is not CONTACT:
        assert await records.names(sales, anyone) == ["筛选A", "筛选B"]
    # values come only with the records the rep sees
    query = records.list_query(f"name {VALUES}")
    page = await api.gql(query, {"first": 50, "filter": {"search": "筛选"}}, token=sales)
    nodes = {e["node"]["name"]: e["node"] for e in page[kind.plural]["edges"]}
    assert set(nodes) == {"筛选A", "筛选B"}
    assert {v["key"]: v["value"] for v in nodes["筛选A"]["customFields"]}["f_num"] == 10
    assert await records.get(sales, data[kind.name]["C"]) is None
    assert (await records.get(cf.tokens["admin"], data[kind.name]["C"]))["customFields"]


async def test_nested_values_follow_the_nested_records_scope(api, cf, data):
    """Contacts in customers, a lead's contact and an opportunity's customer carry
    their values, each only where the record itself is visible."""
    sales, admin = cf.tokens["sales"], cf.tokens["admin"]
    query = f"""{{ customers(first: 50, filter: {{search: "筛选客户"}}) {{ edges {{ node {{
      name contacts {{ name {VALUES} }} }} }} }} }}"""
    by_admin = await api.gql(query, token=admin)
    contacts = {c["name"]: c for e in by_admin["customers"]["edges"]
                for c in e["node"]["contacts"]}  # fmt: skip
    assert {v["key"]: v["value"] for v in contacts["筛选C"]["customFields"]}["f_num"] == 30
    assert contacts["筛选D"]["customFields"] == []
    by_sales = await api.gql(query, token=sales)
    names = {c["name"] for e in by_sales["customers"]["edges"] for c in e["node"]["contacts"]}
    assert names == {"筛选A", "筛选B"}
    # an opportunity of the manager's whose customer is the rep's: the manager sees it
    opportunity = f"""query($id: ID!) {{ opportunity(id: $id) {{ name {VALUES}
      customer {{ id {VALUES} }} }} }}"""
    seen = await api.gql(opportunity, {"id": data[OPPORTUNITY.name]["C"]}, token=admin)
    assert [v["value"] for v in seen["opportunity"]["customFields"] if v["key"] == "f_num"] == [30]
    hidden = await api.gql(opportunity, {"id": data[OPPORTUNITY.name]["C"]}, token=sales)
    assert hidden["opportunity"] is None
    lead = f"""query($id: ID!) {{ lead(id: $id) {{ name {VALUES} }} }}"""
    assert (await api.gql(lead, {"id": data[LEAD.name]["D"]}, token=sales))["lead"] is None
