"""Order-value targets as plain data (importable as `order_value_model`): customers
owned by the people of target_model's organisation, sales orders in every status
across month boundaries and currencies, targets of both metrics, and the expected
numbers worked out in Python from these lists alone; plus building it all through the
API (orders created, confirmed, closed and cancelled by the admin, each with one line
at a manual tax-inclusive price, so an order's gross total is its price)."""

from __future__ import annotations

import datetime as dt
import sys
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from target_helpers import add_deals, build_org, set_targets
from target_model import PEOPLE, SHANGHAI, TEAMS, subtree, team_of, visible_people

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "orders"))
from order_helpers import (  # noqa: E402
    Goods,
    create_order,
    new_customer,
    new_product,
    new_warehouse,
    ok,
    order_action,
    receive,
)

BOOKED = ("confirmed", "closed")
# Customers by key: the person owning them (None: the public pool).
CUSTOMERS = {
    "c_e1": "rep_e1",
    "c_e2": "rep_e2",
    "c_w": "rep_w",
    "c_mgr": "mgr_east",
    "c_admin": "admin",
    "c_pool": None,
    # Owned by rep_w when its orders are made, then transferred to rep_e1: the orders
    # go with it (credited to the owner when read).
    "c_moved": "rep_e1",
}
FIRST_OWNER = {**CUSTOMERS, "c_moved": "rep_w"}


def day(month: int, d: int, year: int = 2027) -> dt.date:
    return dt.date(year, month, d)


@dataclass(frozen=True)
class Order:
    customer: str
    date: dt.date
    gross: str
    status: (
        str  # confirmed, closed, draft, cancelled (from draft), voided (confirmed, then cancelled)
    )
    currency: str = "CNY"

    @property
    def owner(self) -> str | None:
        return CUSTOMERS[self.customer]

    @property
    def counts(self) -> bool:
        return self.status in BOOKED


ORDERS = [
    Order("c_e1", day(1, 5), "1000.00", "confirmed"),
    Order("c_e1", day(1, 31), "200.00", "closed"),  # last day of January
    Order("c_e1", day(2, 1), "300.00", "confirmed"),  # first day of February
    Order("c_e1", day(12, 31, 2026), "50.00", "confirmed"),  # before the range
    Order("c_e1", day(1, 10), "700.00", "draft"),
    Order("c_e1", day(1, 11), "900.00", "voided"),
    Order("c_e1", day(1, 13), "600.00", "cancelled"),
    Order("c_e1", day(1, 12), "400.00", "confirmed", "USD"),
    Order("c_e1", day(1, 14), "45.00", "closed", "USD"),
    Order("c_e2", day(1, 20), "3000.00", "confirmed"),
    Order("c_e2", day(2, 28), "100.00", "closed"),
    Order("c_e2", day(3, 1), "999.00", "confirmed"),  # after the range
    Order("c_w", day(1, 15), "5000.00", "confirmed"),
    Order("c_w", day(1, 16), "123.45", "closed"),
    Order("c_w", day(1, 17), "88.00", "draft"),
    Order("c_mgr", day(2, 10), "800.00", "confirmed"),
    Order("c_admin", day(1, 3), "100.00", "confirmed"),
    Order("c_pool", day(1, 4), "10000.00", "confirmed"),
    Order("c_moved", day(1, 22), "1500.00", "confirmed"),
]

# Won deals (for the won-amount targets beside them): owner, amount, close instant.
DEALS = [
    ("rep_e1", "777.00", dt.datetime(2027, 1, 5, 12, tzinfo=SHANGHAI)),
    ("rep_w", "2222.00", dt.datetime(2027, 1, 15, 12, tzinfo=SHANGHAI)),
]


@dataclass(frozen=True)
class Target:
    scope: str
    subject: str | None
    month: int
    amount: str
    metric: str = "order_value"
    currency: str = "CNY"

    @property
    def period(self) -> dt.date:
        return dt.date(2027, self.month, 1)


TARGETS = [
    Target("company", None, 1, "30000"),
    Target("company", None, 2, "5000"),
    Target("company", None, 3, "5000"),
    Target("team", "east", 1, "6000"),
    Target("team", "east", 2, "1000"),
    Target("team", "east_sub", 1, "2000"),
    Target("team", "west", 1, "4000"),
    Target("user", "rep_e1", 1, "2000"),
    Target("user", "rep_e1", 2, "1000"),
    Target("user", "rep_e1", 1, "500", currency="USD"),
    Target("user", "rep_e2", 1, "0"),
    Target("user", "rep_w", 1, "5000"),
    Target("user", "mgr_east", 2, "600"),
    # Won-amount targets of the same subjects and months: the metric is in the key.
    Target("company", None, 1, "5000", "won_amount"),
    Target("user", "rep_e1", 1, "1000", "won_amount"),
    Target("user", "rep_w", 1, "2000", "won_amount"),
]


def target_input(org, t: Target) -> dict:
    out = {"period": t.period.isoformat(), "scope": t.scope.upper(), "amount": t.amount,
           "currency": t.currency, "metric": t.metric.upper()}  # fmt: skip
    if t.scope == "team":
        out["teamId"] = org.teams[t.subject]
    elif t.scope == "user":
        out["userId"] = str(org.ids[t.subject])
    return out


def _credited(t: Target, owner: str | None) -> bool:
    return (
        t.scope == "company"
        or (t.scope == "user" and owner == t.subject)
        or (t.scope == "team" and owner is not None and team_of(owner) in subtree(t.subject))
    )


def achieved(t: Target) -> Decimal:
    total = Decimal(0)
    if t.metric == "won_amount":
        for owner, amount, closed in DEALS:
            month = closed.astimezone(SHANGHAI).date().replace(day=1)
            if t.currency == "CNY" and month == t.period and _credited(t, owner):
                total += Decimal(amount)
        return total
    for o in ORDERS:
        if o.counts and o.currency == t.currency and o.date.replace(day=1) == t.period:
            if _credited(t, o.owner):
                total += Decimal(o.gross)
    return total


def ranking(person: str, start: dt.date, end: dt.date, currency: str = "CNY") -> list:
    """(rank, name, amount, count) by order value among the orders `person` sees (those
    of the customers of the people they see; the pool's have no rep to rank)."""
    people = visible_people(person)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    count: dict[str, int] = defaultdict(int)
    for o in ORDERS:
        if o.counts and o.currency == currency and o.owner in people and start <= o.date <= end:
            totals[o.owner] += Decimal(o.gross)
            count[o.owner] += 1
    order = sorted(totals, key=lambda name: (-totals[name], name))
    out: list = []
    for i, name in enumerate(order):
        rank = out[-1][0] if out and totals[name] == out[-1][2] else i + 1
        out.append((rank, name, totals[name], count[name]))
    return out


UPDATE_CUSTOMER = """mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id ownerId } userErrors { field code message } } }"""


async def add_order(api, token: str, goods: Goods, o: Order) -> str:
    """One order of `o` through the API, taken to its status; its id."""
    made = await create_order(
        api, token, goods,
        [{"productId": goods.products[0], "quantity": "1", "unitPrice": o.gross}],
        orderDate=o.date.isoformat(), currency=o.currency, pricesIncludeTax=True,
    )  # fmt: skip
    assert Decimal(made["grossTotal"]) == Decimal(o.gross), made
    steps = {"draft": [], "confirmed": ["confirm"], "closed": ["confirm", "close"],
             "cancelled": ["cancel"], "voided": ["confirm", "cancel"]}[o.status]  # fmt: skip
    for step in steps:
        result = await order_action(api, token, step, made["id"])
        assert result["userErrors"] == [], (o, step, result)
    return made["id"]


async def build(api, owner, services, prefix: str = "ordval"):
    org = await build_org(api, owner, services, prefix, TEAMS, PEOPLE)
    admin = org.tokens["admin"]
    warehouse = await new_warehouse(api, admin)
    product = await new_product(api, admin)
    await receive(api, admin, warehouse, product, "1000")
    customers = {}
    for key, first in FIRST_OWNER.items():
        customers[key] = await new_customer(
            api, admin, ownerId=str(org.ids[first]) if first else None
        )
    for o in ORDERS:
        await add_order(api, admin, Goods(warehouse, [product], customers[o.customer]), o)
    for key, first in FIRST_OWNER.items():
        if CUSTOMERS[key] != first:
            await ok(api, UPDATE_CUSTOMER, "updateCustomer",
                     {"id": customers[key], "version": 1, "ownerId": str(org.ids[CUSTOMERS[key]])}, admin)  # fmt: skip
    await add_deals(services, org.tenant, [
        {"owner": org.ids[who], "amount": amount, "closed_at": closed}
        for who, amount, closed in DEALS
    ])  # fmt: skip
    payload = await set_targets(api, admin, [target_input(org, t) for t in TARGETS])
    assert payload["userErrors"] == [], payload
    org.customers = customers
    org.goods = (warehouse, product)
    return org
