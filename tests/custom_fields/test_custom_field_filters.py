"""Filtering customers by custom fields: every type and operator, validation, data
scope, and statements per page."""

from __future__ import annotations

import pytest
from custom_field_helpers import VALUES

ROWS = {
    # name: (text, number, decimal, date, bool, select, multiselect)
    "A": ("华南", 10, "1.5", "2026-01-10", True, "甲", ["红", "绿"]),
    "B": ("华北", 20, "2.25", "2026-02-10", False, "乙", ["绿"]),
    "C": ("华南", 30, "3", "2026-03-10", True, "乙", ["红", "绿", "蓝"]),
    "D": None,  # no values at all
}


@pytest.fixture(scope="module")
async def data(cf, api):
    from custom_field_helpers import Fields

    fields = Fields(api)
    admin = cf.tokens["admin"]
    await fields.ok(admin, key="f_text", type="TEXT")
    await fields.ok(admin, key="f_num", type="NUMBER")
    await fields.ok(admin, key="f_dec", type="DECIMAL")
    await fields.ok(admin, key="f_day", type="DATE")
    await fields.ok(admin, key="f_bool", type="BOOLEAN")
    await fields.ok(admin, key="f_sel", type="SELECT", options=["甲", "乙"])
    await fields.ok(admin, key="f_multi", type="MULTISELECT", options=["红", "绿", "蓝"])
    keys = ("f_text", "f_num", "f_dec", "f_day", "f_bool", "f_sel", "f_multi")
    for name, row in ROWS.items():
        values = dict(zip(keys, row, strict=True)) if row else None
        # A and B belong to the sales rep, C and D to the manager
        owner = cf.user_ids["sales" if name in "AB" else "manager"]
        created = await fields.create(admin, f"筛选{name}", values, ownerId=str(owner))
        assert created["userErrors"] == []
    return fields


CASES = [
    ({"key": "f_text", "eq": "华南"}, "AC"),
    ({"key": "f_text", "in": ["华北", "西北"]}, "B"),
    ({"key": "f_text", "isNull": True}, "D"),
    ({"key": "f_num", "gte": 15, "lte": 30}, "BC"),
    ({"key": "f_num", "eq": 10}, "A"),
    ({"key": "f_num", "in": [10, 30]}, "AC"),
    ({"key": "f_dec", "gte": "2.25"}, "BC"),
    ({"key": "f_dec", "lte": 2}, "A"),
    ({"key": "f_day", "gte": "2026-02-01", "lte": "2026-02-28"}, "B"),
    ({"key": "f_day", "isNull": False}, "ABC"),
    ({"key": "f_bool", "eq": True}, "AC"),
    ({"key": "f_bool", "eq": False}, "B"),
    ({"key": "f_sel", "in": ["乙"]}, "BC"),
    ({"key": "f_multi", "contains": ["红", "绿"]}, "AC"),
    ({"key": "f_multi", "contains": ["蓝"]}, "C"),
    ({"key": "f_multi", "in": ["红", "蓝"]}, "AC"),
    ({"key": "f_multi", "isNull": True}, "D"),
]


@pytest.mark.parametrize(("condition", "expected"), CASES, ids=lambda v: str(v))
async def test_filter(cf, data, condition, expected):
    names = await data.names(cf.tokens["admin"], {"search": "筛选", "customFields": [condition]})
    assert names == [f"筛选{n}" for n in expected]


async def test_conditions_are_anded_and_nest(cf, data):
    admin = cf.tokens["admin"]
    both = [{"key": "f_text", "eq": "华南"}, {"key": "f_num", "gte": 20}]
    assert await data.names(admin, {"search": "筛选", "customFields": both}) == ["筛选C"]
    either = {"search": "筛选", "or": [{"customFields": [{"key": "f_num", "eq": 10}]},
                                       {"customFields": [{"key": "f_bool", "eq": False}]}]}  # fmt: skip
    assert await data.names(admin, either) == ["筛选A", "筛选B"]


@pytest.mark.parametrize(
    "condition",
    [
        {"key": "nope", "eq": 1},
        {"key": "f_num", "contains": ["1"]},
        {"key": "f_num", "eq": "ten"},
        {"key": "f_bool", "gte": True},
        {"key": "f_text", "gte": "a"},
        {"key": "f_sel", "eq": "丙"},
        {"key": "f_day", "eq": "yesterday"},
        {"key": "f_multi", "eq": "红"},
    ],
    ids=str,
)
async def test_bad_filters_name_the_key(api, cf, data, condition):
    errors = await api.errors(
        "query($f: CustomerFilter) { customers(filter: $f) { totalCount } }",
        {"f": {"customFields": [condition]}}, token=cf.tokens["admin"],
    )  # fmt: skip
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"customFields.{condition['key']}" in errors[0]["message"]


async def test_filters_never_widen_the_data_scope(cf, data):
    condition = {"search": "筛选", "customFields": [{"key": "f_text", "eq": "华南"}]}
    assert await data.names(cf.tokens["sales"], condition) == ["筛选A"]  # C is the manager's
    nothing = {"search": "筛选", "customFields": [{"key": "f_num", "gte": 25}]}
    assert await data.names(cf.tokens["sales"], nothing) == []
    anyone = {"search": "筛选", "or": [{"customFields": [{"key": "f_num", "gte": 0}]},
                                       {"customFields": [{"key": "f_num", "isNull": True}]}]}  # fmt: skip
    assert await data.names(cf.tokens["sales"], anyone) == ["筛选A", "筛选B"]


WARM = "{ me { user { id } } }"
PAGE = """query($first: Int!, $f: CustomerFilter) { customers(first: $first, filter: $f) {
  edges { node { id VALUES_HERE } } } }""".replace("VALUES_HERE", VALUES)


async def test_values_load_in_one_statement_per_page(api, services, cf, data, sql_counter):
    admin = cf.tokens["admin"]
    for i in range(50):
        await data.create(admin, f"计数{i:02d}", {"f_num": i, "f_multi": ["红"]})
    counts = {}
    for first in (10, 50):
        await api.gql(WARM, token=admin)
        sql_counter.statements.clear()
        page = await api.gql(
            PAGE, {"first": first, "f": {"search": "计数", "customFields": [
                {"key": "f_num", "gte": 0}]}}, token=admin,
        )  # fmt: skip
        edges = page["customers"]["edges"]
        assert len(edges) == first
        assert all(len(e["node"]["customFields"]) == 2 for e in edges)
        counts[first] = sql_counter.count
    # definitions (for the filter) + page + values
    assert counts[10] == counts[50] <= 3, counts
