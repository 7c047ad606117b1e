"""Order confirmation under contention: `make bench`'s orders step, or on its own:

    .venv/bin/python tests/bench/orders.py [--orders 1000] [--clients 16] [--hot-products 3]

Data (in the data tenant, deterministic): `--hot-products` products (list price 100,
13 % tax) and one warehouse, 200 customers (half of them with a generous credit limit,
so the credit check runs for those), and `--orders` draft orders made through the
orders service (app/orders/service.create_sales_order: priced, numbered and audited as
the API does it), each for one of the customers, with 1 to 3 lines of the hot products,
1 to 3 of each. The warehouse receives (through the stock service) about 80 % of what
the orders ask for in all, so towards the end confirmations are refused
(INSUFFICIENT_STOCK): the refusal path is part of the load, as in real contention.

Measured: `--clients` concurrent HTTP clients (asyncio + httpx, one keep-alive
connection each, in this process) take the next order from one shared queue and send
`confirmSalesOrder` (graphql/operations/confirmSalesOrder.graphql) to the running
`kehu serve` until none is left; a few confirmations first warm up (not measured).
Reported: confirmations/s (every answer, and the confirmed ones), latency p50/p95/p99
per outcome, server and PostgreSQL CPU per confirmation.

Checked: every answer is 200 without errors, either confirmed or refused with
INSUFFICIENT_STOCK only; afterwards, in the database, each hot product's reserved
quantity equals what the confirmed orders hold, never more than on hand (available
never negative), and every refused order is still a draft holding nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import bench_db
import bench_procs
import httpx
import loadgen
from sqlalchemy import func, insert, select, text

from app.audit.service import Actor
from app.auth.keys import KeyRing
from app.auth.scope import EVERYTHING
from app.auth.tokens import issue_access_token
from app.catalog.tables import products
from app.customers.tables import customers
from app.db import create_engine, tenant_transaction
from app.orders import service as orders
from app.orders.lines import LineInput
from app.orders.tables import sales_order_lines, sales_orders
from app.settings import Settings
from app.stock import service as stock
from app.stock.tables import stock_levels, stock_reservations, warehouses

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / ".bench"
CONFIRM = (ROOT / "graphql" / "operations" / "confirmSalesOrder.graphql").read_text()
CUSTOMERS = 200
SUPPLY = Decimal("0.8")  # of the total demand, per product
PER_TRANSACTION = 100  # orders made per transaction in the fill


class CheckFailed(Exception):
    pass


@dataclass
class OrdersData:
    schema: str
    warehouse: uuid.UUID
    products: list[uuid.UUID]
    orders: list[uuid.UUID]  # in the order they are confirmed; the first `warmup` warm up
    warmup: int
    demand: dict[uuid.UUID, Decimal]
    supply: dict[uuid.UUID, Decimal]
    seconds: dict[str, float] = field(default_factory=dict)


async def fill(settings: Settings, schema: str, user_id: uuid.UUID, count: int, hot: int,
               warmup: int, seed: int = 20261124) -> OrdersData:  # fmt: skip
    """Products, a warehouse, customers, drafts and stock; see the module's docstring."""
    rng = random.Random(seed)
    actor = Actor("user", user_id)
    engine = create_engine(settings, owner=True, pool_size=2)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    try:
        marker = uuid.uuid4().hex[:6]
        product_ids = [uuid.uuid4() for _ in range(hot)]
        warehouse_id = uuid.uuid4()
        customer_ids = [uuid.uuid4() for _ in range(CUSTOMERS)]
        async with tenant_transaction(engine, schema) as conn:
            await conn.execute(insert(products), [
                {"id": p, "code": f"HOT-{marker}-{i}", "name": f"抢手货{i}", "unit": "件",
                 "list_price": Decimal(100), "tax_rate": Decimal("0.13")}
                for i, p in enumerate(product_ids)
            ])  # fmt: skip
            await conn.execute(insert(warehouses).values(
                id=warehouse_id, code=f"HOT-{marker}", name="抢购仓"))  # fmt: skip
            await conn.execute(insert(customers), [
                {"id": c, "name": f"抢购客户{marker}-{i}",
                 "credit_limit": Decimal(10_000_000) if i % 2 else None}
                for i, c in enumerate(customer_ids)
            ])  # fmt: skip
        seconds["setup"] = time.perf_counter() - started
        made: list[uuid.UUID] = []
        demand = {p: Decimal(0) for p in product_ids}
        today = dt.date.today()
        mark = time.perf_counter()
        total = count + warmup
        for start in range(0, total, PER_TRANSACTION):
            async with tenant_transaction(engine, schema) as conn:
                for _ in range(min(PER_TRANSACTION, total - start)):
                    chosen = rng.sample(product_ids, rng.randint(1, min(3, hot)))
                    lines = [LineInput(p, Decimal(rng.randint(1, 3))) for p in chosen]
                    row = await orders.create_sales_order(
                        conn, actor=actor, who=EVERYTHING, order_id=None,
                        customer_id=rng.choice(customer_ids), warehouse_id=warehouse_id,
                        lines=lines, today=today, may_override=False,
                    )  # fmt: skip
                    made.append(row.id)
                    for line in lines:
                        demand[line.product_id] += line.quantity
        seconds["orders"] = time.perf_counter() - mark
        mark = time.perf_counter()
        supply = {p: (demand[p] * SUPPLY).to_integral_value() for p in product_ids}
        async with tenant_transaction(engine, schema) as conn:
            await stock.receive(
                conn, actor=actor, warehouse_id=warehouse_id, reason="bench",
                lines=[stock.StockLine(p, q) for p, q in supply.items()],
            )  # fmt: skip
        async with engine.connect() as raw:
            raw = await raw.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("sales_orders", "sales_order_lines", "customers", "stock_levels"):
                await raw.execute(text(f'VACUUM ANALYZE "{schema}".{table}'))
        seconds["stock"] = time.perf_counter() - mark
    finally:
        await engine.dispose()
    seconds["total"] = time.perf_counter() - started
    return OrdersData(schema, warehouse_id, product_ids, made, warmup, demand, supply, seconds)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def distribution(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "mean": statistics.fmean(ms), "p50": percentile(ms, 50),
            "p95": percentile(ms, 95), "p99": percentile(ms, 99), "max": max(ms)}  # fmt: skip


async def _confirm_all(url: str, token: str, ids: list[uuid.UUID], clients: int) -> dict:
    """`clients` connections confirming `ids` from one queue; each answer's outcome."""
    queue: asyncio.Queue = asyncio.Queue()
    for order_id in ids:
        queue.put_nowait(order_id)
    outcomes: dict[str, list[float]] = {"confirmed": [], "refused": []}
    failures: list[str] = []
    refused_ids: list[str] = []

    async def client() -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(limits=limits, headers=headers, timeout=60) as http:
            while True:
                try:
                    order_id = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body = {"query": CONFIRM, "variables": {"input": {"id": str(order_id)}}}
                started = time.perf_counter()
                response = await http.post(url, json=body)
                elapsed = (time.perf_counter() - started) * 1000
                document = response.json() if response.status_code == 200 else {}
                result = (document.get("data") or {}).get("confirmSalesOrder")
                if response.status_code != 200 or document.get("errors") or result is None:
                    failures.append(f"{response.status_code}: {response.text[:300]}")
                    continue
                codes = {e["code"] for e in result["userErrors"]}
                if not codes and result["salesOrder"]["status"] == "CONFIRMED":
                    outcomes["confirmed"].append(elapsed)
                elif codes == {"INSUFFICIENT_STOCK"}:
                    outcomes["refused"].append(elapsed)
                    refused_ids.append(str(order_id))
                else:
                    failures.append(json.dumps(result["userErrors"], ensure_ascii=False)[:300])

    await asyncio.gather(*(client() for _ in range(clients)))
    return {"outcomes": outcomes, "failures": failures, "refused_ids": refused_ids}


async def _check(settings: Settings, data: OrdersData, refused: set[str]) -> dict:
    """Reserved per product = what confirmed orders hold <= on hand; refused = drafts
    holding nothing."""
    engine = create_engine(settings, owner=True, pool_size=1)
    try:
        async with tenant_transaction(engine, data.schema) as conn:
            o, line, r = sales_orders.c, sales_order_lines.c, stock_reservations.c
            held = dict((await conn.execute(
                select(line.product_id, func.sum(line.quantity))
                .join(sales_orders, o.id == line.order_id)
                .where(o.id.in_(data.orders), o.status == "confirmed")
                .group_by(line.product_id)
            )).all())  # fmt: skip
            levels = {row.product_id: row for row in await conn.execute(
                select(stock_levels).where(stock_levels.c.warehouse_id == data.warehouse))}  # fmt: skip
            statuses = dict((await conn.execute(
                select(o.status, func.count()).where(o.id.in_(data.orders)).group_by(o.status)
            )).all())  # fmt: skip
            refused_ids = [uuid.UUID(i) for i in refused]
            refused_bad = await conn.scalar(
                select(func.count()).select_from(sales_orders)
                .where(o.id.in_(refused_ids), o.status != "draft")
            ) if refused_ids else 0  # fmt: skip
            refused_holding = await conn.scalar(
                select(func.count()).select_from(stock_reservations)
                .where(r.source_id.in_(refused_ids))
            ) if refused_ids else 0  # fmt: skip
    finally:
        await engine.dispose()
    problems = []
    for product in data.products:
        level = levels.get(product)
        reserved = level.reserved if level else Decimal(0)
        if reserved != held.get(product, Decimal(0)):
            problems.append(
                f"{product}: reserved {reserved}, confirmed orders hold {held.get(product)}"
            )
        if level is not None and (level.available < 0 or level.reserved > level.on_hand):
            problems.append(f"{product}: on hand {level.on_hand}, reserved {level.reserved}")
    if refused_bad or refused_holding:
        problems.append(f"refused orders: {refused_bad} not draft, {refused_holding} reservations")
    return {
        "statuses": statuses,
        "reserved": {str(p): str(levels[p].reserved) for p in data.products if p in levels},
        "on_hand": {str(p): str(levels[p].on_hand) for p in data.products if p in levels},
        "problems": problems,
    }


def measure(settings: Settings, port: int, token: str, data: OrdersData, clients: int,
            server_pid: int | None = None, database: str = "") -> dict:  # fmt: skip
    url = f"http://127.0.0.1:{port}/graphql"
    warm = asyncio.run(_confirm_all(url, token, data.orders[: data.warmup], min(clients, 4)))
    before = loadgen.snapshot(server_pid or 0, database)
    started = time.perf_counter()
    run = asyncio.run(_confirm_all(url, token, data.orders[data.warmup :], clients))
    wall = time.perf_counter() - started
    after = loadgen.snapshot(server_pid or 0, database)
    refused = set(run["refused_ids"]) | set(warm["refused_ids"])
    checked = asyncio.run(_check(settings, data, refused))
    outcomes = run["outcomes"]
    answered = len(outcomes["confirmed"]) + len(outcomes["refused"])
    postgres = sum(cpu - before["backends"].get(pid, 0.0) for pid, cpu in after["backends"].items())
    result = {
        "orders": len(data.orders) - data.warmup, "warmup": data.warmup, "clients": clients,
        "hot_products": len(data.products), "wall_seconds": wall,
        "per_second": answered / wall if wall else 0.0,
        "confirmed_per_second": len(outcomes["confirmed"]) / wall if wall else 0.0,
        "latency_ms": {"all": distribution(outcomes["confirmed"] + outcomes["refused"]),
                       "confirmed": distribution(outcomes["confirmed"]),
                       "refused": distribution(outcomes["refused"])},
        "cpu_ms_per_confirmation": {
            "server": (after["server"] - before["server"]) * 1000 / answered if answered else 0,
            "postgres": postgres * 1000 / answered if answered else 0,
        },
        "failures": run["failures"][:10] + warm["failures"][:10],
        "failure_count": len(run["failures"]) + len(warm["failures"]),
        "check": checked,
        "fill_seconds": data.seconds,
    }  # fmt: skip
    if result["failure_count"] or checked["problems"]:
        raise CheckFailed(json.dumps({k: result[k] for k in ("failures", "check")},
                                     ensure_ascii=False, default=str)[:2000])  # fmt: skip
    return result


def summary_lines(results: dict) -> list[str]:
    if "error" in results:
        return [f"Order confirmation: FAILED: {results['error']}"]
    r = results["measured"]
    lines = [
        f"Order confirmation under contention: {r['orders']} drafts (after {r['warmup']} "
        f"warm-up), {r['clients']} clients, {r['hot_products']} hot products, stock for "
        f"~{int(SUPPLY * 100)} % of the demand",
        f"  {r['per_second']:.1f} confirmations/s answered ({r['confirmed_per_second']:.1f}/s "
        f"confirmed) in {r['wall_seconds']:.1f} s; statuses after: {r['check']['statuses']}",
        f"  {'':10}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}",
    ]
    for name in ("all", "confirmed", "refused"):
        d = r["latency_ms"][name]
        if d["n"]:
            lines.append(f"  {name:10}{d['n']:6d}{d['p50']:9.1f}{d['p95']:9.1f}{d['p99']:9.1f}"
                         f"{d['max']:9.1f}")  # fmt: skip
    cpu = r["cpu_ms_per_confirmation"]
    lines.append(f"  CPU per confirmation: server {cpu['server']:.2f} ms, postgres "
                 f"{cpu['postgres']:.2f} ms; checked: reserved = confirmed, none negative, "
                 f"refused hold nothing")  # fmt: skip
    return lines


# -- on its own ------------------------------------------------------------------------------

STANDALONE_DB = "kehu_bench_orders"


async def _admin(settings: Settings, slug: str) -> tuple[str, uuid.UUID, str]:
    """An admin user and its token in the tenant: (schema, user id, token)."""
    from app.audit.service import SYSTEM
    from app.users import service as users
    from tenants import provisioning

    engine = create_engine(settings, owner=True, pool_size=2)
    try:
        tenant = await provisioning.get_tenant_by_slug(engine, slug)
        async with tenant_transaction(engine, tenant.schema_name) as conn:
            admin = await users.create_user(conn, actor=SYSTEM, tenant_id=tenant.id,
                                            email=bench_db.ADMIN_EMAIL, role="admin",
                                            name="基准管理员")  # fmt: skip
        token = await issue_access_token(
            keyring=KeyRing(engine), settings=settings, tenant_id=tenant.id, user_id=admin.id,
            roles=["admin"], ttl_seconds=3600,
        )  # fmt: skip
    finally:
        await engine.dispose()
    return tenant.schema_name, admin.id, token


def main() -> int:
    import os

    p = argparse.ArgumentParser(description="the orders step of the benchmark, on its own")
    p.add_argument("--orders", type=int, default=1000)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--hot-products", type=int, default=3)
    p.add_argument("--keep", action="store_true", help=f"keep the {STANDALONE_DB} database")
    args = p.parse_args()
    server_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/kehu")
    bench_db.BENCH_DB = STANDALONE_DB  # its own database: never a running make bench's
    procs = bench_procs.Processes()
    OUT_DIR.mkdir(exist_ok=True)
    try:
        url = asyncio.run(bench_db.recreate_database(server_url))
        settings = Settings(database_url=url, queue_name="kehu:bench-orders")
        asyncio.run(bench_db.prepare_catalog(settings))
        asyncio.run(bench_db.provision(settings, 1))
        schema, user_id, token = asyncio.run(_admin(settings, bench_db.tenant_slug(0)))
        print(f"making {args.orders:,} draft orders over {args.hot_products} hot products ...",
              flush=True)  # fmt: skip
        data = asyncio.run(fill(settings, schema, user_id, args.orders, args.hot_products,
                                warmup=2 * args.clients))  # fmt: skip
        port = bench_procs.free_port()
        log = OUT_DIR / "serve-orders.log"
        env = bench_procs.env_with(DATABASE_URL=url, KEHU_QUEUE="kehu:bench-orders",
                                   PYTHONUNBUFFERED="1")  # fmt: skip
        kehu = str(Path(sys.executable).with_name("kehu"))
        server = procs.start([kehu, "serve", "--port", str(port)], env=env, cwd=ROOT, log=log)
        bench_procs.wait_healthy(f"http://127.0.0.1:{port}/healthz", server, log)
        print(f"confirming with {args.clients} clients ...", flush=True)
        measured = measure(settings, port, token, data, args.clients, server.pid, STANDALONE_DB)
        results = {"measured": measured}
        print("\n".join(summary_lines(results)))
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = OUT_DIR / f"orders-{stamp}.json"
        path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
        print(f"results: {path.relative_to(ROOT)}")
        return 0
    finally:
        procs.stop_all()
        if not args.keep:
            asyncio.run(bench_db.drop_database(server_url))


if __name__ == "__main__":
    sys.exit(main())
