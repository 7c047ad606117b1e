"""Statements per page with customFields selected: one for the whole page's values,
whatever the page size, on every list (filtered and sorted by a custom field too),
and for records nested in other records."""

from __future__ import annotations

import pytest
from cf_entity_helpers import ALL_KINDS, CONTACT, Kind, Records
from custom_field_helpers import VALUES
from helpers import make_tenant

COUNT = 60
WARM = "{ me { user { id } } }"


@pytest.fixture(scope="module")
async def listed(owner, services, api):
    tenant = await make_tenant(owner, services, "cflist")
    admin = tenant.tokens["admin"]
    customer = None
    for kind in ALL_KINDS:
        records = Records(api, kind, customer)
        await records.ok(admin, key="rank", type="NUMBER")
        await records.ok(admin, key="tags", type="MULTISELECT", options=["a", "b"])
        for i in range(COUNT):
            values = {"rank": i % 7, "tags": ["a"]} if i % 5 else None
            created = await records.create(admin, f"计数{i:02d}", values)
            assert created["userErrors"] == [], created
            if kind.name == "customer" and customer is None:
                customer = created["customer"]["id"]
    return tenant


def _order(kind: Kind, custom: bool):
    entry = {"customField": "rank", "direction": "DESC"} if custom else {"field": "NAME"}
    return [entry] if kind.order_is_list else entry


async def _count(api, sql_counter, token: str, query: str, variables: dict) -> tuple[int, dict]:
    """Statements of the query alone (principal lookups are not counted)."""
    sql_counter.statements.clear()
    data = await api.gql(query, variables, token=token)
    return sql_counter.count, data


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.name)
@pytest.mark.parametrize(
    ("filtered", "custom_sort", "expected"),
    [
        # page + values
        (False, False, 2),
        # definitions (for the filter) + page + values
        (True, False, 3),
        # definitions (for the sort) + page + values: the records with a value fill
        # both page sizes, so the page is one statement
        (False, True, 3),
        (True, True, 3),
    ],
    ids=["plain", "filtered", "sorted", "filtered-sorted"],
)
async def test_values_load_in_one_statement_per_page(api, listed, sql_counter, kind, filtered,
                                                     custom_sort, expected):  # fmt: skip
    token = listed.tokens["admin"]
    query = Records(api, kind).list_query(VALUES).replace("totalCount ", "")
    filter = {"search": "计数"}
    if filtered:
        filter["customFields"] = [{"key": "tags", "contains": ["a"]}]
    counts = {}
    for first in (10, 40):
        variables = {"first": first, "filter": filter, "orderBy": _order(kind, custom_sort)}
        counts[first], data = await _count(api, sql_counter, token, query, variables)
        edges = data[kind.plural]["edges"]
        assert len(edges) == first
        if filtered or custom_sort:
            assert all(len(e["node"]["customFields"]) == 2 for e in edges)
    assert counts[10] == counts[40] == expected, (counts, sql_counter.statements)


async def test_a_page_crossing_to_the_records_without_a_value(api, listed, sql_counter):
    """Past the records with a value, a sorted page reads the ones without: one more
    statement, still not one per record."""
    token = listed.tokens["admin"]
    records = Records(api, CONTACT)
    query = records.list_query(VALUES)
    variables = {"first": 50, "filter": {"search": "计数"}, "orderBy": _order(CONTACT, True)}
    count, data = await _count(api, sql_counter, token, query, variables)
    edges = data["contacts"]["edges"]
    assert [len(e["node"]["customFields"]) for e in edges] == [2] * 48 + [0] * 2
    # definitions + records with a value + records without + count + values
    assert count == 5, sql_counter.statements


NESTED = [
    ("customers", f"contacts {{ name {VALUES} }}", 4),  # page, contacts, their values
    ("contacts", f"customer {{ name {VALUES} }}", 4),  # page, customers, their values
    ("opportunities", f"customer {{ name {VALUES} }}", 4),
]


@pytest.mark.parametrize(("plural", "selection", "expected"), NESTED, ids=lambda v: str(v)[:20])
async def test_nested_records_values_per_page(api, listed, sql_counter, plural, selection,
                                              expected):  # fmt: skip
    token = listed.tokens["admin"]
    query = f"""query($first: Int!) {{ {plural}(first: $first) {{ edges {{ node {{ id {VALUES}
      {selection} }} }} }} }}"""
    counts = {}
    for first in (10, 40):
        counts[first], _ = await _count(api, sql_counter, token, query, {"first": first})
    assert counts[10] == counts[40] <= expected, (counts, sql_counter.statements)
