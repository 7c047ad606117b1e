"""Sorting customers, contacts, leads and opportunities by a custom field: every
sortable type both ways, ties (the id breaks them, or the entries after the custom
field), records without a value last, keyset pagination forwards and backwards across
pages, with filters and in the data scope, and the orderBy errors."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from cf_entity_helpers import ALL_KINDS, CONTACT, CUSTOMER, LEAD, OPPORTUNITY, Kind, Records
from helpers import make_tenant
from sqlalchemy import select

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.customers import service as customers
from app.db import tenant_transaction
from app.leads import service as leads
from app.pipeline import service as pipeline
from app.pipeline.tables import pipelines

COUNT = 40  # records of each kind
PAGE = 7
# Values that sort the same in Python and under any PostgreSQL collation; many ties.
CHOICES = {
    "n": [1, 2, 2, 3, 10, -5, 2**40, None],
    "t": ["apple", "apple", "banana", "cherry", "b", None],
    "d": ["1.5", "1.50", "2.25", "-3", "1000000.0001", None],
    "day": ["2026-01-01", "2026-01-01", "2025-12-31", "2030-06-30", None],
    "b": [True, False, None],
    "s": ["x", "y", "z", None],
}
TYPES = {"n": "NUMBER", "t": "TEXT", "d": "DECIMAL", "day": "DATE", "b": "BOOLEAN", "s": "SELECT"}


@dataclass
class Rec:
    id: str
    name: str
    amount: Decimal
    visible_to_sales: bool
    values: dict = field(default_factory=dict)

    def sort_value(self, key: str):
        value = self.values.get(key)
        if value is None:
            return None
        if key == "d":
            return Decimal(value)
        if key == "day":
            return dt.date.fromisoformat(value)
        return value


def _values(rng: random.Random) -> dict:
    return {key: rng.choice(choices) for key, choices in CHOICES.items()}


def _items(values: dict) -> list[tuple[str, object]]:
    return [(k, v) for k, v in values.items() if v is not None]


@pytest.fixture(scope="module")
async def data(owner, services, api):
    tenant = await make_tenant(owner, services, "cfsort")
    admin = tenant.tokens["admin"]
    for kind in ALL_KINDS:
        records = Records(api, kind)
        for key, kind_name in TYPES.items():
            options = {"options": ["x", "y", "z"]} if kind_name == "SELECT" else {}
            await records.ok(admin, key=key, type=kind_name, **options)
        await records.ok(admin, key="m", type="MULTISELECT", options=["x", "y"])
    sales, manager = tenant.user_ids["sales"], tenant.user_ids["manager"]
    rng = random.Random(20261)
    made: dict[str, list[Rec]] = {k.name: [] for k in ALL_KINDS}
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        pipeline_id = (await conn.execute(select(pipelines.c.id))).scalar_one()
        for i in range(COUNT):
            values = _values(rng)
            owner_id = [sales, manager, None][i % 3]
            row = await customers.create_customer(
                conn, actor=SYSTEM, who=EVERYTHING, customer_id=None,
                fields={"name": f"c{i:03d}", "owner_id": owner_id},
                custom_fields=_items(values),
            )  # fmt: skip
            made["customer"].append(
                Rec(str(row.id), row.name, Decimal(0), owner_id != manager, values)
            )
        parents = made["customer"]
        for i in range(COUNT):
            parent = parents[i % COUNT]
            values = _values(rng)
            row = await customers.create_contact(
                conn, actor=SYSTEM, who=EVERYTHING, contact_id=None,
                customer_id=uuid.UUID(parent.id),
                fields={"name": f"p{rng.randrange(10):02d}", "is_primary": False},
                custom_fields=_items(values),
            )  # fmt: skip
            made["contact"].append(
                Rec(str(row.id), row.name, Decimal(0), parent.visible_to_sales, values)
            )
        for i in range(COUNT):
            values = _values(rng)
            owner_id = [sales, manager, None][i % 3]
            row = await leads.create_lead(
                conn, actor=SYSTEM, who=EVERYTHING, lead_id=None,
                fields={"name": f"l{rng.randrange(10):02d}", "owner_id": owner_id},
                custom_fields=_items(values),
            )  # fmt: skip
            made["lead"].append(Rec(str(row.id), row.name, Decimal(0), owner_id != manager, values))
        for i in range(COUNT):
            values = _values(rng)
            owner_id = [sales, manager][i % 2]
            amount = Decimal(rng.choice(["0", "10.5", "99"]))
            row = await pipeline.create_opportunity(
                conn, actor=SYSTEM, who=EVERYTHING, opportunity_id=None,
                customer_id=uuid.UUID(parents[i].id), pipeline_id=pipeline_id, stage_id=None,
                fields={"name": f"o{rng.randrange(10):02d}", "amount": amount,
                        "owner_id": owner_id},
                custom_fields=_items(values),
            )  # fmt: skip
            made["opportunity"].append(
                Rec(str(row.id), row.name, amount, owner_id == sales, values)
            )
    return tenant, made


def _expected(recs: list[Rec], key: str, desc: bool, tie: tuple[str, bool] | None) -> list[str]:
    """Records with a value by (value, tie..., id), then those without by (tie..., id);
    the id in the direction of the last entry."""
    last_desc = tie[1] if tie else desc

    def ordered(group: list[Rec], with_value: bool) -> list[Rec]:
        group = sorted(group, key=lambda r: uuid.UUID(r.id), reverse=last_desc)
        if tie:
            column, tie_desc = tie
            group = sorted(group, key=lambda r: getattr(r, column), reverse=tie_desc)
        if with_value:
            group = sorted(group, key=lambda r: r.sort_value(key), reverse=desc)
        return group

    having = [r for r in recs if r.sort_value(key) is not None]
    lacking = [r for r in recs if r.sort_value(key) is None]
    return [r.id for r in ordered(having, True) + ordered(lacking, False)]


async def _walk(api, kind: Kind, token: str, order, filter=None) -> tuple[list, list, int]:
    """Every page forwards, then every page backwards from the end."""
    query = Records(api, kind).list_query()
    forwards, after, total = [], None, None
    while True:
        variables = {"first": PAGE, "after": after, "orderBy": order, "filter": filter}
        page = (await api.gql(query, variables, token=token))[kind.plural]
        total = page["totalCount"]
        forwards += [e["node"]["id"] for e in page["edges"]]
        assert [e["cursor"] for e in page["edges"]][-1:] == [page["pageInfo"]["endCursor"]] or (
            not page["edges"]
        )
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    backwards, before = [], None
    while True:
        variables = {"last": PAGE, "before": before, "orderBy": order, "filter": filter}
        page = (await api.gql(query, variables, token=token))[kind.plural]
        backwards = [e["node"]["id"] for e in page["edges"]] + backwards
        assert page["pageInfo"]["hasNextPage"] is (before is not None)
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    return forwards, backwards, total


def _order(kind: Kind, key: str, desc: bool, tie: tuple[str, bool] | None = None):
    direction = "DESC" if desc else "ASC"
    entry = {"customField": key, "direction": direction}
    if not kind.order_is_list:
        return entry
    order = [entry]
    if tie:
        field = {"name": "NAME", "amount": "AMOUNT"}[tie[0]]
        order.append({"field": field, "direction": "DESC" if tie[1] else "ASC"})
    return order


KINDS = pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.name)


@KINDS
@pytest.mark.parametrize("key", list(TYPES))
@pytest.mark.parametrize("desc", [False, True], ids=["asc", "desc"])
async def test_sort_walks_every_page_both_ways(api, data, kind, key, desc):
    tenant, made = data
    recs = made[kind.name]
    expected = _expected(recs, key, desc, None)
    forwards, backwards, total = await _walk(
        api, kind, tenant.tokens["admin"], _order(kind, key, desc)
    )
    assert forwards == expected
    assert backwards == expected
    assert total == len(recs)
    # records without a value come last, both ways
    lacking = {r.id for r in recs if r.sort_value(key) is None}
    assert lacking and set(forwards[-len(lacking) :]) == lacking


@pytest.mark.parametrize(
    ("kind", "tie"),
    [
        (CUSTOMER, ("name", True)),
        (LEAD, ("name", False)),
        (OPPORTUNITY, ("name", True)),
        (OPPORTUNITY, ("amount", False)),
    ],
    ids=str,
)
@pytest.mark.parametrize("desc", [False, True], ids=["asc", "desc"])
async def test_entries_after_the_custom_field_break_ties(api, data, kind, tie, desc):
    tenant, made = data
    recs = made[kind.name]
    for key in ("s", "b"):
        expected = _expected(recs, key, desc, tie)
        forwards, backwards, _ = await _walk(
            api, kind, tenant.tokens["admin"], _order(kind, key, desc, tie)
        )
        assert forwards == expected == backwards


@KINDS
async def test_sort_with_filters_and_in_the_data_scope(api, data, kind):
    tenant, made = data
    recs = made[kind.name]
    # filtered on the same field and another one
    having = [r for r in recs if r.sort_value("n") is not None and r.values["b"] is True]
    filter = {"customFields": [{"key": "n", "isNull": False}, {"key": "b", "eq": True}]}
    forwards, backwards, total = await _walk(
        api, kind, tenant.tokens["admin"], _order(kind, "n", True), filter
    )
    assert forwards == backwards == _expected(having, "n", True, None)
    assert total == len(having)
    # a rep: only the records they may see, the others' values play no part
    mine = [r for r in recs if r.visible_to_sales]
    assert 0 < len(mine) < len(recs)
    forwards, backwards, total = await _walk(
        api, kind, tenant.tokens["sales"], _order(kind, "d", False)
    )
    assert forwards == backwards == _expected(mine, "d", False, None)
    assert total == len(mine)


@KINDS
async def test_sorted_pages_return_the_values(api, data, kind):
    tenant, made = data
    query = Records(api, kind).list_query("customFields { key value }")
    page = await api.gql(
        query, {"first": 5, "orderBy": _order(kind, "n", True)}, token=tenant.tokens["admin"]
    )
    nodes = [e["node"] for e in page[kind.plural]["edges"]]
    top = [next(v["value"] for v in n["customFields"] if v["key"] == "n") for n in nodes]
    assert top == sorted(top, reverse=True) and top[0] == 2**40


def _bad_orders(kind: Kind) -> list:
    wrong = [
        ({"customField": "nope"}, "no custom field 'nope'"),
        ({"customField": "m"}, "multiselect"),
        ({"customField": "n", "field": "NAME"}, "either field or customField"),
        ({"direction": "ASC"}, "either field or customField"),
    ]
    if kind.order_is_list:
        wrong += [
            ([{"field": "NAME"}, {"customField": "n"}], "must come first"),
            ([{"customField": "n"}, {"customField": "t"}], "one customField"),
        ]
    return wrong


@KINDS
async def test_bad_orders_are_bad_user_input(api, data, kind):
    tenant, _ = data
    records = Records(api, kind)
    for order, message in _bad_orders(kind):
        errors = await records.list_errors(tenant.tokens["admin"], None, order)
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", (order, errors)
        assert message in errors[0]["message"], (order, errors)
        assert errors[0]["message"].startswith("orderBy")


@KINDS
async def test_a_cursor_of_another_order_is_refused(api, data, kind):
    tenant, _ = data
    admin = tenant.tokens["admin"]
    query = Records(api, kind).list_query()
    by_name = {"field": "NAME"} if not kind.order_is_list else [{"field": "NAME"}]
    page = await api.gql(query, {"first": 2, "orderBy": by_name}, token=admin)
    cursor = page[kind.plural]["pageInfo"]["endCursor"]
    errors = await api.errors(
        query, {"first": 2, "after": cursor, "orderBy": _order(kind, "n", False)}, token=admin
    )
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    # a cursor of a text sort used for a number sort
    page = await api.gql(query, {"first": 2, "orderBy": _order(kind, "t", False)}, token=admin)
    cursor = page[kind.plural]["pageInfo"]["endCursor"]
    errors = await api.errors(
        query, {"first": 2, "after": cursor, "orderBy": _order(kind, "day", False)}, token=admin
    )
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_contacts_order_stays_a_single_entry(api, data):
    """contacts(orderBy:) takes one entry (as before), so there is no tie entry."""
    tenant, made = data
    forwards, _, _ = await _walk(api, CONTACT, tenant.tokens["admin"], {"field": "NAME"})
    assert len(forwards) == len(made["contact"])


async def test_customers_opportunities_filter_but_do_not_sort_by_custom_fields(api, data):
    """`Customer.opportunities` (every customer's page in one statement) filters on
    custom fields; sorting by one is for the `opportunities` list."""
    tenant, made = data
    query = """query($f: OpportunityFilter, $o: [OpportunityOrder!]) {
      customers(first: 100) { edges { node { id
        opportunities(first: 100, filter: $f, orderBy: $o) { edges { node { id } } } } } } }"""
    admin = tenant.tokens["admin"]
    page = await api.gql(query, {"f": {"customFields": [{"key": "b", "eq": True}]}}, token=admin)
    found = {o["node"]["id"] for e in page["customers"]["edges"]
             for o in e["node"]["opportunities"]["edges"]}  # fmt: skip
    assert found == {r.id for r in made["opportunity"] if r.values["b"] is True}
    errors = await api.errors(query, {"o": [{"customField": "n"}]}, token=admin)
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert errors[0]["message"].startswith("orderBy")
