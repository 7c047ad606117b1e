"""Every filter and sort of the billing lists (shipments, salesReturns, invoices,
creditNotes, payments) and of receivables can be answered from indexes at a few
thousand documents: with sequential scans disabled, the plan of each statement the API
really ran has none (nested lines and allocations included); counting a selective
filter goes through that filter's own index; each sort reads its index in order, by
the planner's own choice. Rows are made in SQL (respecting every constraint), then
analysed: plans are what is tested, not the documents' arithmetic."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from crowded import BIG, CUSTOMER, DEBTOR, ORDER, TODAY, N


def _walk(plan: dict) -> list[dict]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _walk(child)
    return nodes


def _scans(plan: dict) -> list[str]:
    return [f"{n['Node Type']} on {n.get('Relation Name', '?')}" for n in _walk(plan)]


def _index_names(plan: dict) -> set[str]:
    return {n["Index Name"] for n in _walk(plan) if "Index Name" in n}


async def _plan(services, statement: str, parameters, *, seqscan: bool = False) -> dict:
    async with services.engine.begin() as conn:
        if not seqscan:
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = raw.scalar()
        plan = plan if isinstance(plan, list) else json.loads(plan)
    return plan[0]["Plan"]


async def _statements(api, sql_counter, token, query, variables) -> list[tuple[str, object]]:
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(query, variables, token=token)
    return [
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if s.lstrip().upper().startswith("SELECT") and any(f".{t}" in s for t in BIG)
    ]


def _main(table: str):
    """The page statement of a list of `table` (not its count, not a child's)."""
    return lambda s: f".{table} " in s and "count(" not in s and "LIMIT" in s


def _count(table: str):
    return lambda s: "count(" in s and f".{table}" in s


def _list(field: str, kind: str, children: str) -> str:
    return (f"query($filter: {kind}Filter, $orderBy: [{kind}Order!]) {{ {field}(first: 20, "
            f"filter: $filter, orderBy: $orderBy) {{ totalCount edges {{ node {{ id {children} "
            "} } } }")  # fmt: skip


QUERIES = {
    "shipments": _list("shipments", "Shipment", "lines { id }"),
    "sales_returns": _list("salesReturns", "SalesReturn", "lines { id }"),
    "invoices": _list("invoices", "Invoice", "lines { id } allocations { id }"),
    "credit_notes": _list("creditNotes", "CreditNote", "lines { id } allocations { id }"),
    "payments": _list("payments", "Payment", "allocations { id }"),
}


def _days(days: int) -> dict:
    return {"gte": str(TODAY - dt.timedelta(days=days)), "lte": str(TODAY)}


FILTERS = [
    ("shipments", {"customerId": {"eq": CUSTOMER}}, "ix_shipments_customer_id"),
    ("shipments", {"orderId": {"eq": ORDER}}, "ix_shipments_order_id"),
    ("shipments", {"shipmentDate": _days(3)}, "ix_shipments_shipment_date"),
    ("shipments", {"number": {"eq": "SH-2026-000042"}}, "uq_shipments_number"),
    ("sales_returns", {"customerId": {"eq": CUSTOMER}}, "ix_sales_returns_customer_id"),
    ("sales_returns", {"orderId": {"in": [ORDER]}}, "ix_sales_returns_order_id"),
    ("sales_returns", {"returnDate": _days(3)}, "ix_sales_returns_return_date"),
    ("sales_returns", {"number": {"in": ["RT-2026-000042"]}}, "uq_sales_returns_number"),
    ("invoices", {"customerId": {"eq": CUSTOMER}}, "ix_invoices_customer_id"),
    ("invoices", {"orderId": {"eq": ORDER}}, "ix_invoices_order_id"),
    ("invoices", {"status": {"eq": "VOID"}}, "ix_invoices_status"),
    ("invoices", {"status": {"in": ["PARTIALLY_PAID"]}}, "ix_invoices_status"),
    ("invoices", {"invoiceDate": _days(3)}, "ix_invoices_invoice_date"),
    ("invoices", {"dueDate": {"gte": str(TODAY + dt.timedelta(days=34))}}, "ix_invoices_due_date"),
    ("invoices", {"number": {"eq": "INV-2026-000042"}}, "uq_invoices_number"),
    ("credit_notes", {"customerId": {"eq": CUSTOMER}}, "ix_credit_notes_customer_id"),
    ("credit_notes", {"orderId": {"eq": ORDER}}, "ix_credit_notes_order_id"),
    ("credit_notes", {"status": {"eq": "PARTIALLY_APPLIED"}}, "ix_credit_notes_status"),
    ("credit_notes", {"creditDate": _days(3)}, "ix_credit_notes_credit_date"),
    ("credit_notes", {"number": {"eq": "CN-2026-000042"}}, "uq_credit_notes_number"),
    ("payments", {"customerId": {"eq": CUSTOMER}}, "ix_payments_customer_id"),
    ("payments", {"status": {"eq": "PARTIALLY_ALLOCATED"}}, "ix_payments_status"),
    ("payments", {"receivedOn": _days(3)}, "ix_payments_received_on"),
    ("payments", {"number": {"eq": "PAY-2026-000042"}}, "uq_payments_number"),
]  # fmt: skip
SORTS = [
    ("shipments", None, "ix_shipments_shipment_date"),
    ("shipments", [{"field": "SHIPMENT_DATE"}], "ix_shipments_shipment_date"),
    ("shipments", [{"field": "NUMBER", "direction": "DESC"}], "uq_shipments_number"),
    ("sales_returns", None, "ix_sales_returns_return_date"),
    ("sales_returns", [{"field": "RETURN_DATE"}], "ix_sales_returns_return_date"),
    ("sales_returns", [{"field": "NUMBER"}], "uq_sales_returns_number"),
    ("invoices", None, "ix_invoices_invoice_date"),
    ("invoices", [{"field": "INVOICE_DATE"}], "ix_invoices_invoice_date"),
    ("invoices", [{"field": "DUE_DATE", "direction": "DESC"}], "ix_invoices_due_date"),
    ("invoices", [{"field": "NUMBER"}], "uq_invoices_number"),
    ("invoices", [{"field": "GROSS_TOTAL", "direction": "DESC"}], "ix_invoices_gross_total"),
    ("credit_notes", None, "ix_credit_notes_credit_date"),
    ("credit_notes", [{"field": "CREDIT_DATE"}], "ix_credit_notes_credit_date"),
    ("credit_notes", [{"field": "NUMBER", "direction": "DESC"}], "uq_credit_notes_number"),
    ("payments", None, "ix_payments_received_on"),
    ("payments", [{"field": "RECEIVED_ON"}], "ix_payments_received_on"),
    ("payments", [{"field": "NUMBER"}], "uq_payments_number"),
    ("payments", [{"field": "AMOUNT", "direction": "DESC"}], "ix_payments_amount"),
]  # fmt: skip


def _id(value) -> str:
    return json.dumps(value)[:60]


@pytest.mark.parametrize(("table", "filter_", "index"), FILTERS, ids=_id)
@pytest.mark.parametrize("role", ["admin", "sales"])
async def test_filters_use_their_index(api, services, crowded, sql_counter, table, filter_, index,
                                       role):  # fmt: skip
    statements = await _statements(api, sql_counter, crowded.tokens[role], QUERIES[table],
                                   {"filter": filter_})  # fmt: skip
    assert any(_main(table)(s) for s, _ in statements), [s for s, _ in statements]
    for statement, parameters in statements:
        plan = await _plan(services, statement, parameters)
        assert not [s for s in _scans(plan) if s.startswith("Seq Scan")], (statement, _scans(plan))
    if role == "admin":
        counted = [(s, p) for s, p in statements if _count(table)(s)]
        assert counted, [s for s, _ in statements]
        plan = await _plan(services, *counted[0])
        assert index in _index_names(plan), (index, _index_names(plan))


@pytest.mark.parametrize(("table", "order", "index"), SORTS, ids=_id)
async def test_sorts_read_their_index(api, services, crowded, sql_counter, table, order, index):
    statements = await _statements(api, sql_counter, crowded.tokens["admin"], QUERIES[table],
                                   {"orderBy": order})  # fmt: skip
    (page,) = [(s, p) for s, p in statements if _main(table)(s)]
    plan = await _plan(services, *page, seqscan=True)  # the planner's own choice
    assert index in _index_names(plan), (index, _scans(plan), _index_names(plan))
    assert not [s for s in _scans(plan) if s.startswith("Seq Scan") or s.startswith("Sort")]
    for statement, parameters in statements:  # children too, with seq scans off
        plan = await _plan(services, statement, parameters)
        assert not [s for s in _scans(plan) if s.startswith("Seq Scan")], (statement, _scans(plan))


RECEIVABLES = """query($asOf: Date, $filter: ReceivableFilter) {
  receivables(asOf: $asOf, filter: $filter, first: 20) {
    totalCount edges { node { customerId currency openAmount over90 customer { name } } }
    totals { currency openAmount } } }"""
RECEIVABLE_FILTERS = [
    {"customerId": {"eq": DEBTOR}},
    {"customerId": {"in": [DEBTOR, CUSTOMER]}, "currency": "cny"},
    {"currency": "USD"},
    {},
]
PAST = TODAY - dt.timedelta(days=100)


def _receivable_statements(statements):
    return [(s, p) for s, p in statements if ".invoices" in s]


@pytest.mark.parametrize("filter_", RECEIVABLE_FILTERS, ids=_id)
@pytest.mark.parametrize("role", ["admin", "sales"])
@pytest.mark.parametrize("as_of", [TODAY, PAST], ids=str)
async def test_receivables_read_only_open_invoices(api, services, crowded, sql_counter,
                                                   filter_, role, as_of):  # fmt: skip
    """Page, count and totals each start from the open invoices' partial index (and,
    for paid ones, from what was allocated after as_of), with no sequential scan."""
    statements = await _statements(api, sql_counter, crowded.tokens[role], RECEIVABLES,
                                   {"asOf": str(as_of), "filter": filter_})  # fmt: skip
    reads = _receivable_statements(statements)
    assert len(reads) == 3, [s for s, _ in statements]  # page, totalCount, totals
    for statement, parameters in reads:
        plan = await _plan(services, statement, parameters)
        assert not [s for s in _scans(plan) if s.startswith("Seq Scan")], _scans(plan)
        names = _index_names(plan)
        assert {"ix_invoices_open", "ix_payment_allocations_allocated_on",
                "ix_payment_allocations_invoice_id"} <= names, names  # fmt: skip
        # The paid history only through one customer's own invoices, when filtered.
        history = {"ix_invoices_status", "ix_invoices_invoice_date"}
        if "customerId" not in filter_:
            history.add("ix_invoices_customer_id")
        assert not names & history, (names, _scans(plan))


@pytest.mark.parametrize("filter_", RECEIVABLE_FILTERS, ids=_id)
async def test_receivables_planner_prefers_the_open_index(api, services, crowded, sql_counter,
                                                          filter_):  # fmt: skip
    """By the planner's own choice (sequential scans allowed), as of today: never every
    invoice nor every allocation."""
    statements = await _statements(api, sql_counter, crowded.tokens["admin"], RECEIVABLES,
                                   {"asOf": str(TODAY), "filter": filter_})  # fmt: skip
    for statement, parameters in _receivable_statements(statements):
        natural = await _plan(services, statement, parameters, seqscan=True)
        assert "ix_invoices_open" in _index_names(natural), _scans(natural)
        assert "Seq Scan on invoices" not in _scans(natural), _scans(natural)
        assert "Seq Scan on payment_allocations" not in _scans(natural), _scans(natural)


async def test_the_fill_is_what_the_cases_assume(api, crowded):
    token = crowded.tokens["admin"]
    for field in ("shipments", "salesReturns", "invoices", "creditNotes", "payments"):
        data = await api.gql(f"{{ {field}(first: 1) {{ totalCount }} }}", token=token)
        assert data[field]["totalCount"] == N
    data = await api.gql(QUERIES["invoices"], {"filter": {"customerId": {"eq": CUSTOMER}}},
                         token=token)  # fmt: skip
    assert data["invoices"]["totalCount"] > 5
    data = await api.gql(QUERIES["invoices"], {"filter": {"status": {"eq": "VOID"}}}, token=token)
    assert 0 < data["invoices"]["totalCount"] < N / 20
    owed = (await api.gql(RECEIVABLES, {"asOf": str(TODAY)}, token=token))["receivables"]
    assert {t["currency"] for t in owed["totals"]} == {"CNY", "USD"}
    assert 20 < owed["totalCount"] < N / 10  # more than a page, far fewer than the invoices
    data = await api.gql(QUERIES["invoices"], {"filter": {"status": {"in": ["ISSUED",
                         "PARTIALLY_PAID"]}}}, token=token)  # fmt: skip
    assert 0 < data["invoices"]["totalCount"] < N / 5
