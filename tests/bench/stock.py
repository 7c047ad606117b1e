"""Stock availability at scale: `make bench`'s stock step, or on its own:

    .venv/bin/python tests/bench/stock.py [--products 10000] [--warehouses 10] [--keep]

Data (in SQL as the owner, deterministic): `--products` products (one in ten
batch-tracked, with two batches each) stocked in each of `--warehouses` warehouses, so
products x warehouses stock levels, each explained by one receipt move (and its batch
balances); a reservation on every fifth level (20 % of it held), a reorder rule on
every third (minimum 100, maximum 400, so some are low). Then `VACUUM ANALYZE`.

Measured through the running `kehu serve`, one request at a time as the admin
(warm-up, then `--requests` timed requests per query; p50/p95 of the client's wall
time, urllib with a new connection per request, as in the pipeline step):

| label | query |
|---|---|
| levels by warehouse | `stockLevels(filter: {warehouseId}, first: 50)` with product and warehouse |
| levels by warehouse, available asc | the same ordered by AVAILABLE |
| levels of 20 products | `stockLevels(filter: {productId: {in: 20}}, first: 100)`: every warehouse |
| levels of 20 products in a warehouse | both filters |
| availability of 50 products | `stockAvailability(productIds: 50)` with per-warehouse levels |
| availability of 50 products, 1 warehouse | the same, `warehouseIds: [one]` |
| lowStock of a warehouse | `lowStock(warehouseId, first: 50)` |

Every answer is checked (200, no errors, the expected number of items, and the
availability sums against the database's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import asyncpg
import bench_db
import bench_procs

from app.auth.keys import KeyRing
from app.auth.tokens import issue_access_token
from app.db import create_engine
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / ".bench"
ADMIN_EMAIL = bench_db.ADMIN_EMAIL

FILL = """
INSERT INTO {s}.products (id, code, name, unit, list_price, batch_tracked, created_at, updated_at)
  SELECT md5('bench-product:' || g)::uuid, 'BS-' || lpad(g::text, 6, '0'), '基准产品' || g, '件',
         10 + g % 90, g % 10 = 0, now(), now()
  FROM generate_series(1, {products}) g;
INSERT INTO {s}.warehouses (id, code, name)
  SELECT md5('bench-warehouse:' || g)::uuid, 'BW-' || lpad(g::text, 2, '0'), '基准仓库' || g
  FROM generate_series(1, {warehouses}) g;
CREATE TEMP TABLE bench_level AS
  SELECT p.id AS product_id, w.id AS warehouse_id, p.batch_tracked, pn AS p, wn AS w,
         (10 + (hashint4(pn * 131 + wn) & 511))::numeric AS on_hand
  FROM (SELECT id, batch_tracked, row_number() OVER (ORDER BY code)::int AS pn FROM {s}.products) p,
       (SELECT id, row_number() OVER (ORDER BY code)::int AS wn FROM {s}.warehouses) w;
INSERT INTO {s}.batches (id, product_id, code, expires_on)
  SELECT md5('bench-batch:' || p.id || ':' || b)::uuid, p.id, 'LOT-' || b,
         date '2030-01-01' + b * 90
  FROM {s}.products p, generate_series(1, 2) b WHERE p.batch_tracked;
INSERT INTO {s}.stock_postings (id, kind, fingerprint)
  VALUES ('00000000-0000-4000-8000-00000000b001', 'receipt', 'bench');
INSERT INTO {s}.stock_levels (product_id, warehouse_id, on_hand, reserved, min_quantity)
  SELECT product_id, warehouse_id, on_hand,
         CASE WHEN (p + w) % 5 = 0 THEN round(on_hand / 5) ELSE 0 END,
         CASE WHEN (p + w) % 3 = 0 THEN 100 END
  FROM bench_level;
INSERT INTO {s}.stock_batch_levels (product_id, warehouse_id, batch_id, on_hand)
  SELECT l.product_id, l.warehouse_id, md5('bench-batch:' || l.product_id || ':' || b)::uuid,
         CASE WHEN b = 1 THEN floor(l.on_hand / 2) ELSE l.on_hand - floor(l.on_hand / 2) END
  FROM bench_level l, generate_series(1, 2) b WHERE l.batch_tracked;
INSERT INTO {s}.stock_moves (id, posting_id, line, kind, product_id, warehouse_id, batch_id,
                             quantity)
  SELECT gen_random_uuid(), '00000000-0000-4000-8000-00000000b001', row_number() OVER (),
         'receipt', l.product_id, l.warehouse_id,
         CASE WHEN l.batch_tracked THEN md5('bench-batch:' || l.product_id || ':' || b)::uuid END,
         CASE WHEN NOT l.batch_tracked THEN l.on_hand
              WHEN b = 1 THEN floor(l.on_hand / 2) ELSE l.on_hand - floor(l.on_hand / 2) END
  FROM bench_level l, generate_series(1, 2) b WHERE l.batch_tracked OR b = 1;
INSERT INTO {s}.stock_reservations (id, source_type, source_id, source_line_id, product_id,
                                    warehouse_id, quantity)
  SELECT gen_random_uuid(), 'sales_order', md5('bench-order:' || p)::uuid, gen_random_uuid(),
         product_id, warehouse_id, round(on_hand / 5)
  FROM bench_level WHERE (p + w) % 5 = 0;
INSERT INTO {s}.reorder_rules (id, product_id, warehouse_id, min_quantity, max_quantity)
  SELECT gen_random_uuid(), product_id, warehouse_id, 100, 400
  FROM bench_level WHERE (p + w) % 3 = 0;
"""
TABLES = ("products", "warehouses", "batches", "stock_levels", "stock_batch_levels",
          "stock_moves", "stock_reservations", "reorder_rules")  # fmt: skip

LEVEL_FIELDS = "productId warehouseId onHand reserved available product { code name unit } " \
    "warehouse { code }"  # fmt: skip
LEVELS = (
    "query($filter: StockLevelFilter, $orderBy: [StockLevelOrder!], $first: Int) { "
    "stockLevels(filter: $filter, orderBy: $orderBy, first: $first) { edges { node { "
    + LEVEL_FIELDS + " } } } }"
)  # fmt: skip
AVAILABILITY = (
    "query($ids: [ID!]!, $warehouses: [ID!]) { stockAvailability(productIds: $ids, "
    "warehouseIds: $warehouses) { productId onHand reserved available product { code } "
    "levels { warehouseId available } } }"
)
LOW = (
    "query($w: ID, $first: Int) { lowStock(warehouseId: $w, first: $first) { edges { node { "
    "productId available minQuantity toMax product { code } } } } }"
)


@dataclass
class StockData:
    schema: str
    products: int
    warehouses: int
    levels: int
    moves: int
    seconds: float
    warehouse_ids: list[str] = field(default_factory=list)
    product_ids: list[str] = field(default_factory=list)
    expected: dict = field(default_factory=dict)  # product id -> (on hand, reserved)


async def fill(settings: Settings, schema: str, products: int, warehouses: int) -> StockData:
    started = time.perf_counter()
    url = bench_db.plain_url(settings.database_url)
    conn = await asyncpg.connect(url)
    try:
        s = f'"{schema}"'
        async with conn.transaction():
            for statement in FILL.format(s=s, products=products, warehouses=warehouses).split(";"):
                if statement.strip():
                    await conn.execute(statement)
        for table in TABLES:
            await conn.execute(f"VACUUM ANALYZE {s}.{table}")
        warehouse_ids = [str(r["id"]) for r in await conn.fetch(
            f"SELECT id FROM {s}.warehouses WHERE code LIKE 'BW-%' ORDER BY code")]  # fmt: skip
        product_ids = [str(r["id"]) for r in await conn.fetch(
            f"SELECT id FROM {s}.products WHERE code LIKE 'BS-%' ORDER BY code")]  # fmt: skip
        expected = {
            str(r["product_id"]): (r["on_hand"], r["reserved"])
            for r in await conn.fetch(
                f"SELECT product_id, sum(on_hand) AS on_hand, sum(reserved) AS reserved "
                f"FROM {s}.stock_levels GROUP BY product_id"
            )
        }
        levels = await conn.fetchval(f"SELECT count(*) FROM {s}.stock_levels")
        moves = await conn.fetchval(f"SELECT count(*) FROM {s}.stock_moves")
    finally:
        await conn.close()
    return StockData(schema, products, warehouses, levels, moves, time.perf_counter() - started,
                     warehouse_ids, product_ids, expected)  # fmt: skip


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class CheckFailed(RuntimeError):
    pass


def _request(url: str, token: str, query: str, variables: dict) -> tuple[float, dict, int]:
    started = time.perf_counter()
    status, body = bench_procs.post_json(url, token, {"query": query, "variables": variables})
    ms = (time.perf_counter() - started) * 1000
    document = json.loads(body) if body[:1] == b"{" else {}
    if status != 200 or document.get("errors") or "data" not in document:
        raise CheckFailed(f"answered {status}: {body[:400]!r}")
    return ms, document["data"], len(body)


def cases(data: StockData, rng: random.Random) -> list[tuple[str, str, dict, object]]:
    """(label, query, variables, check of the data) for each measured query."""
    w = data.warehouse_ids[len(data.warehouse_ids) // 2]
    twenty = rng.sample(data.product_ids, 20)
    fifty = rng.sample(data.product_ids, 50)
    per_product = data.warehouses

    def edges(n: int):
        return lambda d: len(next(iter(d.values()))["edges"]) == n

    def sums(d: dict) -> bool:
        items = d["stockAvailability"]
        return len(items) == 50 and all(
            Decimal(i["onHand"]) == data.expected[i["productId"]][0]
            and Decimal(i["reserved"]) == data.expected[i["productId"]][1]
            and len(i["levels"]) == per_product
            for i in items
        )

    return [
        ("levels by warehouse", LEVELS, {"filter": {"warehouseId": {"eq": w}}, "first": 50},
         edges(50)),
        ("levels by warehouse, available asc", LEVELS,
         {"filter": {"warehouseId": {"eq": w}}, "orderBy": [{"field": "AVAILABLE"}],
          "first": 50}, edges(50)),
        ("levels of 20 products", LEVELS,
         {"filter": {"productId": {"in": twenty}}, "first": 100},
         edges(min(100, 20 * per_product))),
        ("levels of 20 products in a warehouse", LEVELS,
         {"filter": {"productId": {"in": twenty}, "warehouseId": {"eq": w}}, "first": 50},
         edges(20)),
        ("availability of 50 products", AVAILABILITY, {"ids": fifty}, sums),
        ("availability of 50 products, 1 warehouse", AVAILABILITY,
         {"ids": fifty, "warehouses": [w]},
         lambda d: len(d["stockAvailability"]) == 50
         and all(len(i["levels"]) == 1 for i in d["stockAvailability"])),
        ("lowStock of a warehouse", LOW, {"w": w, "first": 50},
         lambda d: 0 < len(d["lowStock"]["edges"]) <= 50),
    ]  # fmt: skip


def measure(port: int, token: str, data: StockData, requests: int = 100) -> dict:
    url = f"http://127.0.0.1:{port}/graphql"
    warmup = max(3, requests // 10)
    out: dict = {"requests_per_case": requests, "cases": {}}
    for label, query, variables, check in cases(data, random.Random(20261123)):
        for _ in range(warmup):
            _request(url, token, query, variables)
        timings, sizes = [], []
        for _ in range(requests):
            ms, answer, size = _request(url, token, query, variables)
            if not check(answer):
                raise CheckFailed(f"{label}: unexpected answer {json.dumps(answer)[:400]}")
            timings.append(ms)
            sizes.append(size)
        out["cases"][label] = {
            "requests": len(timings),
            "p50_ms": percentile(timings, 50),
            "p95_ms": percentile(timings, 95),
            "max_ms": max(timings),
            "bytes": statistics.fmean(sizes),
        }
    return out


def summary_lines(results: dict) -> list[str]:
    fill_, measured = results["fill"], results["measured"]
    lines = [
        f"Stock: {fill_['products']:,} products x {fill_['warehouses']} warehouses = "
        f"{fill_['levels']:,} levels, {fill_['moves']:,} moves (fill {fill_['seconds']:.1f} s); "
        f"one request at a time, {measured['requests_per_case']} each:",
        f"  {'':44}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'bytes':>8}",
    ]
    for label, r in measured["cases"].items():
        lines.append(f"  {label:44}{r['p50_ms']:8.1f}{r['p95_ms']:8.1f}{r['max_ms']:8.1f}"
                     f"{r['bytes']:8.0f}")  # fmt: skip
    return lines


# -- on its own ------------------------------------------------------------------------------

STANDALONE_DB = "kehu_bench_stock"


async def _token(settings: Settings, slug: str) -> tuple[str, str]:
    """An admin user and its token in the tenant; (schema, token)."""
    from app.audit.service import SYSTEM
    from app.db import tenant_transaction
    from app.users import service as users
    from tenants import provisioning

    engine = create_engine(settings, owner=True, pool_size=2)
    try:
        tenant = await provisioning.get_tenant_by_slug(engine, slug)
        async with tenant_transaction(engine, tenant.schema_name) as conn:
            admin = await users.create_user(conn, actor=SYSTEM, tenant_id=tenant.id,
                                            email=ADMIN_EMAIL, role="admin", name="基准管理员")  # fmt: skip
        token = await issue_access_token(
            keyring=KeyRing(engine), settings=settings, tenant_id=tenant.id, user_id=admin.id,
            roles=["admin"], ttl_seconds=3600,
        )  # fmt: skip
    finally:
        await engine.dispose()
    return tenant.schema_name, token


def main() -> int:
    import os

    p = argparse.ArgumentParser(description="the stock step of the benchmark, on its own")
    p.add_argument("--products", type=int, default=10_000)
    p.add_argument("--warehouses", type=int, default=10)
    p.add_argument("--requests", type=int, default=100)
    p.add_argument("--keep", action="store_true", help=f"keep the {STANDALONE_DB} database")
    args = p.parse_args()
    server_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/kehu")
    bench_db.BENCH_DB = STANDALONE_DB  # its own database: never a running make bench's
    procs = bench_procs.Processes()
    OUT_DIR.mkdir(exist_ok=True)
    try:
        url = asyncio.run(bench_db.recreate_database(server_url))
        settings = Settings(database_url=url, queue_name="kehu:bench-stock")
        asyncio.run(bench_db.prepare_catalog(settings))
        asyncio.run(bench_db.provision(settings, 1))
        schema, token = asyncio.run(_token(settings, bench_db.tenant_slug(0)))
        print(f"filling {args.products:,} products x {args.warehouses} warehouses ...", flush=True)
        data = asyncio.run(fill(settings, schema, args.products, args.warehouses))
        port = bench_procs.free_port()
        log = OUT_DIR / "serve-stock.log"
        env = bench_procs.env_with(DATABASE_URL=url, KEHU_QUEUE="kehu:bench-stock",
                                   PYTHONUNBUFFERED="1")  # fmt: skip
        kehu = str(Path(sys.executable).with_name("kehu"))
        server = procs.start([kehu, "serve", "--port", str(port)], env=env, cwd=ROOT, log=log)
        bench_procs.wait_healthy(f"http://127.0.0.1:{port}/healthz", server, log)
        measured = measure(port, token, data, args.requests)
        results = {"fill": {k: v for k, v in data.__dict__.items()
                            if k in ("products", "warehouses", "levels", "moves", "seconds")},
                   "measured": measured}  # fmt: skip
        print("\n".join(summary_lines(results)))
        return 0
    finally:
        procs.stop_all()
        if not args.keep:
            asyncio.run(bench_db.drop_database(server_url))


if __name__ == "__main__":
    sys.exit(main())
