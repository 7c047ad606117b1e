"""receivables as a connection: as of a day (money allocated later still owed then),
pages that walk every row once in both directions in customer-name order, a page cap,
totals over the whole filtered set, each row's customer in one statement per page,
data scope and tenant isolation. Page shapes run on the SQL-filled `crowded` tenant;
the as-of arithmetic on documents made through the API."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal

import pytest
from billing_helpers import (
    VOID_INVOICE,
    confirmed_order,
    goods,
    invoice,
    money,
    pay,
    payload,
    ship,
)
from crowded import DEBTOR, TODAY
from helpers import make_tenant
from sqlalchemy import select

from app.customers.tables import customers
from app.db import tenant_transaction

BUCKETS = ("current", "days1To30", "days31To60", "days61To90", "over90")
AMOUNTS = ("openAmount", *BUCKETS)
PAGE = """query($asOf: Date, $filter: ReceivableFilter, $first: Int, $after: String, $last: Int,
  $before: String) {
  receivables(asOf: $asOf, filter: $filter, first: $first, after: $after, last: $last,
              before: $before) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { customerId currency openAmount openInvoices current days1To30
                          days31To60 days61To90 over90 customer { id name } } } } }"""
WITH_CONTACTS = """query($first: Int, $asOf: Date, $filter: ReceivableFilter) {
  receivables(first: $first, asOf: $asOf, filter: $filter) { totalCount
    edges { node { customerId openAmount customer { id name owner { id } contacts { id } } } }
    totals { currency openAmount over90 } } }"""


@pytest.fixture(scope="module")
async def ledger(owner, services):
    return await make_tenant(owner, services, "brecv")


async def _page(api, token: str, **variables) -> dict:
    variables.setdefault("asOf", str(TODAY))
    return (await api.gql(PAGE, variables, token=token))["receivables"]


async def _walk(api, token: str, size: int, *, backwards: bool = False, **variables) -> list:
    nodes, cursor = [], None
    while True:
        if backwards:
            page = await _page(api, token, last=size, before=cursor, **variables)
            nodes = [e["node"] for e in page["edges"]] + nodes
            more, cursor = page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["startCursor"]
        else:
            page = await _page(api, token, first=size, after=cursor, **variables)
            nodes += [e["node"] for e in page["edges"]]
            more, cursor = page["pageInfo"]["hasNextPage"], page["pageInfo"]["endCursor"]
        assert len(page["edges"]) <= size
        if not more:
            return nodes


def _sums(nodes: list[dict]) -> dict[str, dict[str, Decimal]]:
    sums: dict = defaultdict(lambda: defaultdict(Decimal))
    for node in nodes:
        for field in (*AMOUNTS, "openInvoices"):
            sums[node["currency"]][field] += money(node[field])
        sums[node["currency"]]["customers"] += 1
    return {currency: dict(fields) for currency, fields in sums.items()}


def _totals(totals: list[dict]) -> dict[str, dict[str, Decimal]]:
    return {t["currency"]: {k: money(v) for k, v in t.items() if k != "currency"} for t in totals}


async def _names_in_order(services, tenant) -> list[uuid.UUID]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        query = select(customers.c.id).order_by(customers.c.name, customers.c.id)
        return list(await conn.scalars(query))


async def test_pages_walk_every_row_once_in_customer_name_order(api, services, crowded):
    token = crowded.tokens["admin"]
    rows = await _walk(api, token, 100)
    assert (await _page(api, token, first=1))["totalCount"] == len(rows) > 100
    assert await _walk(api, token, 7) == rows
    assert await _walk(api, token, 7, backwards=True) == rows
    keys = [(r["customerId"], r["currency"]) for r in rows]
    assert len(set(keys)) == len(keys)
    position = {str(c): i for i, c in enumerate(await _names_in_order(services, crowded))}
    assert keys == sorted(keys, key=lambda k: (position[k[0]], k[1]))
    assert all(r["customer"]["id"] == r["customerId"] for r in rows)
    assert all(money(r["openAmount"]) == sum(money(r[b]) for b in BUCKETS) for r in rows)


async def test_totals_sum_every_row_not_one_page(api, crowded):
    token = crowded.tokens["admin"]
    for filter_ in ({}, {"currency": "usd"}, {"customerId": {"eq": DEBTOR}}):
        page = (await api.gql(WITH_CONTACTS, {"first": 2, "asOf": str(TODAY), "filter": filter_},
                              token=token))["receivables"]  # fmt: skip
        nodes = await _walk(api, token, 50, filter=filter_)
        assert page["totalCount"] == len(nodes) and len(page["edges"]) == min(2, len(nodes))
        whole = {c: {k: v for k, v in f.items() if k in ("openAmount", "over90")}
                 for c, f in _sums(nodes).items()}  # fmt: skip
        assert _totals(page["totals"]) == whole, filter_
    usd = await _walk(api, token, 50, filter={"currency": "USD"})
    assert usd and {n["currency"] for n in usd} == {"USD"}
    debtor = await _walk(api, token, 50, filter={"customerId": {"eq": DEBTOR}})
    assert debtor and {n["customerId"] for n in debtor} == {DEBTOR}


async def test_pages_are_capped(api, crowded):
    errors = await api.errors(PAGE, {"first": 101}, token=crowded.tokens["admin"])
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    default = await _page(api, crowded.tokens["admin"])
    assert len(default["edges"]) == 20 and default["pageInfo"]["hasNextPage"]


async def test_a_page_of_20_costs_what_a_page_of_2_costs(api, crowded, sql_counter):
    token = crowded.tokens["admin"]
    counts = []
    for first in (2, 20):
        sql_counter.statements.clear()
        page = (await api.gql(WITH_CONTACTS, {"first": first, "asOf": str(TODAY)},
                              token=token))["receivables"]  # fmt: skip
        assert len(page["edges"]) == first
        assert all(e["node"]["customer"]["id"] == e["node"]["customerId"] for e in page["edges"])
        counts.append(sql_counter.count)
    # page, totalCount, totals, customers, their owners, their contacts
    assert counts[0] == counts[1] == 6, counts


async def test_data_scope_shows_only_your_customers(api, crowded):
    everyone = await _walk(api, crowded.tokens["admin"], 100)
    mine = await _walk(api, crowded.tokens["sales"], 100)
    # The fill gives customer n to the rep (n % 3 == 1), the pool (0) or the admin (2).
    owned = [n for n in everyone if int(n["customerId"][-12:]) % 3 != 2]
    assert mine == owned and 0 < len(mine) < len(everyone)
    page = await _page(api, crowded.tokens["sales"], first=1)
    totals = (await api.gql(WITH_CONTACTS, {"first": 1, "asOf": str(TODAY)},
                            token=crowded.tokens["sales"]))["receivables"]  # fmt: skip
    assert page["totalCount"] == totals["totalCount"] == len(owned)
    assert _totals(totals["totals"]) == {
        c: {k: v for k, v in f.items() if k in ("openAmount", "over90")}
        for c, f in _sums(owned).items()
    }
    # Filtering for someone else's customer neither lists nor counts nor sums it.
    assert any(n["customerId"] == DEBTOR for n in everyone)
    hidden = (await api.gql(WITH_CONTACTS, {"asOf": str(TODAY),
                            "filter": {"customerId": {"eq": DEBTOR}}},
                            token=crowded.tokens["sales"]))["receivables"]  # fmt: skip
    assert (hidden["edges"], hidden["totalCount"], hidden["totals"]) == ([], 0, [])


async def test_another_tenant_cannot_read_count_or_infer(api, crowded, ledger):
    admin = ledger.tokens["admin"]
    _, made, customer = await _invoiced(api, ledger, invoiceDate="2026-05-01",
                                        dueDate="2026-05-31")  # fmt: skip
    own = await _walk(api, admin, 100)
    assert [(n["customerId"], n["openAmount"]) for n in own] == [(customer, made["grossTotal"])]
    for token, customer_id in ((admin, DEBTOR), (crowded.tokens["admin"], customer)):
        seen = await _page(api, token, filter={"customerId": {"eq": customer_id}})
        assert (seen["edges"], seen["totalCount"]) == ([], 0)
    # A cursor of the crowded tenant pages only over this tenant's own rows.
    cursor = (await _page(api, crowded.tokens["admin"], first=1))["pageInfo"]["endCursor"]
    after = await _page(api, admin, first=100, after=cursor)
    assert {n["node"]["customerId"] for n in after["edges"]} <= {customer}


async def _invoiced(api, tenant, **fields) -> tuple[dict, dict, str]:
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="100")
    order = await confirmed_order(api, tenant, g, ["4"])
    line = order["lines"][0]["id"]
    assert (await ship(api, admin, order["id"], [(line, "4")]))["userErrors"] == []
    made = await invoice(api, admin, order["id"], **fields)
    assert made["userErrors"] == [], made
    return order, made["invoice"], g.customer


async def _owed(api, token: str, customer: str, as_of: dt.date) -> list[dict]:
    return await _walk(api, token, 10, asOf=str(as_of), filter={"customerId": {"eq": customer}})


async def test_money_allocated_after_as_of_was_still_owed_then(api, ledger):
    """An invoice paid in full later is read although it is paid now (the history of
    paid invoices is skipped only when nothing reached them after as_of)."""
    admin = ledger.tokens["admin"]
    _, made, customer = await _invoiced(api, ledger, invoiceDate="2026-02-01",
                                        dueDate="2026-03-01")  # fmt: skip
    gross = money(made["grossTotal"])
    half = (gross / 2).quantize(Decimal("0.01"))
    await pay(api, admin, customer, str(half), [(made["id"], str(half))], receivedOn="2026-03-10")
    rest = str(gross - half)
    await pay(api, admin, customer, rest, [(made["id"], rest)], receivedOn="2026-04-20")
    expected = {
        dt.date(2026, 1, 31): None,  # not yet invoiced
        dt.date(2026, 3, 5): (gross, "days1To30"),
        dt.date(2026, 3, 10): (gross - half, "days1To30"),
        dt.date(2026, 4, 19): (gross - half, "days31To60"),
        dt.date(2026, 4, 20): None,  # paid in full that day
    }
    for as_of, owed in expected.items():
        rows = await _owed(api, admin, customer, as_of)
        if owed is None:
            assert rows == [], as_of
            continue
        (row,) = rows
        assert money(row["openAmount"]) == money(row[owed[1]]) == owed[0], (as_of, row)
        assert row["openInvoices"] == 1


async def test_void_invoices_are_never_owed(api, ledger):
    admin = ledger.tokens["admin"]
    _, made, customer = await _invoiced(api, ledger)
    assert len(await _owed(api, admin, customer, dt.date(2999, 1, 1))) == 1
    voided = await payload(api, VOID_INVOICE, "voidInvoice", {"id": made["id"],
                           "version": made["version"], "reason": "wrong"}, admin)  # fmt: skip
    assert voided["userErrors"] == [] and voided["invoice"]["status"] == "VOID"
    assert await _owed(api, admin, customer, dt.date(2999, 1, 1)) == []
