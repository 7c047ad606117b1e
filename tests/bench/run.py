"""`make bench`: provisioning, migration and API throughput against a baseline.

One run, on its own database (kehu_bench on DATABASE_URL's server):
  1. the catalog migration, N tenants created one after the other, `kehu migrate`
     over all of them (at head already: a no-op whose cost is the fan-out itself);
  2. one tenant filled with customers and contacts, an admin user and a token;
  3. `kehu serve` and the baseline (tests/bench/baseline_app.py) started as
     subprocesses, their answers to the benchmark query compared;
  4. the same closed-loop load on each (tests/bench/loadgen.py, its own process);
  5. pipelines and timelines at scale (tests/bench/pipeline.py): the data tenant gets
     opportunities with stage history, activities, tasks and appointments, and the
     running `kehu serve` answers pipelineSummary, forecast, opportunities and
     customerTimeline as the admin and as a sales rep (--skip-pipeline leaves it out);
     then stock availability (tests/bench/stock.py, --skip-stock) and order
     confirmation under contention (tests/bench/orders.py, --skip-orders);
  6. a summary, and the same figures in .bench/results-<timestamp>.json.

Throughput on a small shared machine moves from run to run; the ratio kehu/baseline
and the server CPU per request are the figures to compare. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import bench_db
import bench_procs
import orders
import pipeline
import search
import stock
from bench_procs import Processes

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = ROOT / ".bench"

# The brief's query declared $first without using it, which GraphQL validation
# rejects ("Variable '$first' is never used"); the page size goes through it instead.
QUERY = (
    "query($first:Int){ customers(first: $first) { edges { node { id name category tier "
    "phone email contacts { id name title phone email isPrimary } } } } }"
)
PAGE_SIZE = 50


def log(message: str = "") -> None:
    print(message, flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def distribution_ms(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values) * 1000,
        "p50": percentile(values, 50) * 1000,
        "p99": percentile(values, 99) * 1000,
        "max": max(values) * 1000,
    }


def git_revision() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def no_bytecode_cache() -> bool:
    """True when processes compile every import at start (no .pyc, none written)."""
    import sqlalchemy

    cached = list(Path(sqlalchemy.__file__).parent.glob("__pycache__/*.pyc"))
    return bool(sys.flags.dont_write_bytecode) and not cached


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="kehu benchmark (make bench BENCH_ARGS='...')")
    p.add_argument("--tenants", type=int, default=200, help="tenants to provision (200)")
    p.add_argument("--customers", type=int, default=10_000, help="customers in the data tenant")
    p.add_argument("--contacts", type=int, default=3, help="contacts per customer (3)")
    p.add_argument("--seconds", type=float, default=15.0, help="measured load per server (15)")
    p.add_argument("--warmup", type=float, default=3.0, help="warm-up before measuring (3)")
    p.add_argument("--connections", type=int, default=16, help="concurrent connections (16)")
    p.add_argument("--keep", action="store_true", help="keep the kehu_bench database")
    g = p.add_argument_group("pipelines and timelines (the last step)")
    g.add_argument(
        "--opportunities", type=int, default=100_000,
        help="opportunities added to the data tenant (100000)",
    )  # fmt: skip
    g.add_argument(
        "--activities", type=int, default=100_000,
        help="activities added to it (100000); plus one task per 20 and one appointment per 40",
    )  # fmt: skip
    g.add_argument(
        "--pipeline-requests", type=int, default=100,
        help="timed requests per query and role, one at a time (100; fewer if a query is slow)",
    )  # fmt: skip
    g.add_argument(
        "--timeline-pages", type=int, default=20,
        help="how deep the deep timeline page is, in pages of 50 (20)",
    )  # fmt: skip
    g.add_argument(
        "--pipeline-seconds", type=float, default=5.0,
        help="closed-loop load on pipelineSummary and customerTimeline, --warmup + this "
        "(5; 0 leaves it out)",
    )  # fmt: skip
    g.add_argument(
        "--pipeline-connections", type=int, default=4,
        help="connections of that load (4: the summary is PostgreSQL-bound, more only queue)",
    )  # fmt: skip
    g.add_argument("--skip-pipeline", action="store_true", help="leave this step out")
    g = p.add_argument_group("stock availability (tests/bench/stock.py; alone: run that file)")
    g.add_argument("--stock-products", type=int, default=10_000, help="products (10000)")
    g.add_argument("--stock-warehouses", type=int, default=10, help="warehouses (10)")
    g.add_argument("--stock-requests", type=int, default=100, help="timed requests per query")
    g.add_argument("--skip-stock", action="store_true", help="leave this step out")
    g = p.add_argument_group("order confirmation (tests/bench/orders.py; alone: run that file)")
    g.add_argument("--orders", type=int, default=1000, help="draft orders to confirm (1000)")
    g.add_argument("--order-clients", type=int, default=16, help="concurrent clients (16)")
    g.add_argument("--hot-products", type=int, default=3, help="products they compete for (3)")
    g.add_argument("--skip-orders", action="store_true", help="leave this step out")
    args = p.parse_args()
    if args.tenants < 1:
        p.error("--tenants must be at least 1")
    if not args.skip_pipeline:
        for name in (
            "opportunities", "activities", "pipeline_requests", "timeline_pages",
            "pipeline_connections",
        ):  # fmt: skip
            if getattr(args, name) < 1:
                p.error(f"--{name.replace('_', '-')} must be at least 1 (or --skip-pipeline)")
    return args


# -- the steps ----------------------------------------------------------------------------


def provision_step(settings: Settings, args: argparse.Namespace, results: dict) -> None:
    catalog_seconds = asyncio.run(bench_db.prepare_catalog(settings))
    log(f"catalog migrated in {catalog_seconds:.2f}s; creating {args.tenants} tenants ...")

    def progress(done: int, elapsed: float) -> None:
        log(f"  {done}/{args.tenants} tenants, {elapsed:.1f}s")

    total, durations = asyncio.run(bench_db.provision(settings, args.tenants, progress))
    results["provisioning"] = {
        "catalog_migration_seconds": catalog_seconds,
        "tenants": args.tenants,
        "total_seconds": total,
        "per_tenant_ms": distribution_ms(durations),
    }
    log(f"created {args.tenants} tenants in {total:.1f}s")

    log(f"kehu migrate over {args.tenants} tenants ...")
    migrated = bench_db.migrate_all(settings)
    results["migrate"] = {
        "tenants": migrated.tenants,
        "concurrency": settings.migrate_concurrency,
        "wall_seconds": migrated.seconds,
        "changed": migrated.changed,
        "noop": migrated.changed == 0,
        "head": migrated.head,
        "per_tenant_ms": distribution_ms(migrated.tenant_seconds),
        "per_tenant_sum_seconds": sum(migrated.tenant_seconds),
    }
    log(f"migrated in {migrated.seconds:.1f}s ({migrated.changed} changed)")


def data_step(settings: Settings, args: argparse.Namespace, results: dict):
    slug = bench_db.tenant_slug(0)
    log(f"loading {args.customers} customers x {args.contacts} contacts into {slug} ...")
    data = asyncio.run(bench_db.fill_tenant(settings, slug, args.customers, args.contacts))
    results["data"] = {
        "tenant": slug,
        "schema": data.schema,
        "customers": data.customers,
        "contacts": data.contacts,
        "seconds": data.seconds,
    }
    log(f"loaded in {data.seconds:.1f}s")
    return data


def start_servers(procs: Processes, bench_url: str, schema: str) -> dict[str, dict]:
    """`kehu serve` and the baseline, both one uvicorn process with the same arguments."""
    env = bench_procs.env_with(
        DATABASE_URL=bench_url, KEHU_QUEUE="kehu:bench", BENCH_SCHEMA=schema,
        PYTHONUNBUFFERED="1",
    )  # fmt: skip
    kehu = str(Path(sys.executable).with_name("kehu"))
    commands = {
        "kehu": [kehu, "serve", "--port"],
        "baseline": [sys.executable, str(BENCH_DIR / "baseline_app.py"), "--port"],
    }
    servers: dict[str, dict] = {}
    for name, argv in commands.items():
        port = bench_procs.free_port()
        log_path = OUT_DIR / f"serve-{name}.log"
        proc = procs.start([*argv, str(port)], env=env, cwd=ROOT, log=log_path)
        servers[name] = {"proc": proc, "port": port, "log": log_path}
    for name, server in servers.items():
        url = f"http://127.0.0.1:{server['port']}/healthz"
        server["startup_seconds"] = bench_procs.wait_healthy(url, server["proc"], server["log"])
        log(
            f"{name} serving on port {server['port']} (pid {server['proc'].pid}, "
            f"healthy after {server['startup_seconds']:.1f}s, log {server['log'].relative_to(ROOT)})"
        )
    return servers


def ids_of(document: dict) -> tuple[list[str], list[str]]:
    nodes = [edge["node"] for edge in document["data"]["customers"]["edges"]]
    return [n["id"] for n in nodes], [c["id"] for n in nodes for c in n["contacts"]]


def compare_answers(servers: dict[str, dict], token: str, results: dict) -> bool:
    """Both servers answer one page; same customer ids, same contact ids (in order)?"""
    payload = {"query": QUERY, "variables": {"first": PAGE_SIZE}}
    documents = {}
    for name, server in servers.items():
        url = f"http://127.0.0.1:{server['port']}/graphql"
        status, body = bench_procs.post_json(url, token, payload)
        document = json.loads(body) if body.startswith(b"{") else {}
        if status != 200 or "errors" in document or "data" not in document:
            raise RuntimeError(f"{name} answered {status}: {body[:500]!r}")
        documents[name] = document
        server["sample_bytes"] = len(body)
    customers, contacts = ids_of(documents["kehu"])
    base_customers, base_contacts = ids_of(documents["baseline"])
    check = {
        "customers": len(customers),
        "contacts": len(contacts),
        "customer_ids_equal": customers == base_customers,
        "contact_ids_equal": contacts == base_contacts,
        "all_fields_equal": documents["kehu"]["data"] == documents["baseline"]["data"],
    }
    check["ok"] = (
        check["customer_ids_equal"] and check["contact_ids_equal"] and len(customers) == PAGE_SIZE
    )
    results["same_answer"] = check
    return check["ok"]


def load_step(
    procs: Processes, name: str, server: dict, token: str, args, *, query: str = QUERY,
    variables: dict | None = None, items: str = "customers.edges", expect: int = PAGE_SIZE,
    seconds: float | None = None, connections: int | None = None,
) -> dict:  # fmt: skip
    """loadgen.py against one server: `query` (the customers page unless told), every
    answer checked, a sample parsed in full (the list at `items` holds `expect`)."""
    seconds = args.seconds if seconds is None else seconds
    connections = args.connections if connections is None else connections
    log(f"load on {name}: {connections} connections, {args.warmup:g}s warm-up + {seconds:g}s ...")
    argv = [
        sys.executable, str(BENCH_DIR / "loadgen.py"),
        "--port", str(server["port"]), "--token", token, "--query", query,
        "--variables", json.dumps({"first": PAGE_SIZE} if variables is None else variables),
        "--connections", str(connections), "--warmup", str(args.warmup),
        "--seconds", str(seconds), "--server-pid", str(server["proc"].pid),
        "--expect-edges", str(expect), "--items", items, "--database", bench_db.BENCH_DB,
    ]  # fmt: skip
    proc = procs.start(argv, env=bench_procs.env_with(), cwd=ROOT)
    try:
        out, err = proc.communicate(timeout=args.warmup + seconds + 60)
    finally:
        procs.stop(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen failed ({proc.returncode}):\n{err.decode(errors='replace')}")
    result = json.loads(out)
    result["server_rss_mib"] = bench_procs.rss_mib(server["proc"].pid)
    result["server_alive"] = server["proc"].poll() is None
    if result["requests"]:
        log(
            f"  {result['requests_per_second']:.1f} requests/s, "
            f"p50 {result['latency_ms']['p50']:.1f} ms, p99 {result['latency_ms']['p99']:.1f} ms, "
            f"{result['checked']['failures']} failed responses"
        )
    else:
        log(f"  no request answered within the window, {result['checked']['failures']} failed")
    return result


def pipeline_step(
    procs: Processes, settings: Settings, args: argparse.Namespace, data, server: dict,
    results: dict,
) -> bool:  # fmt: skip
    """Opportunities, activities and the rest into the data tenant, then the pipeline
    and timeline queries against the running `kehu serve`; False if a check failed."""
    log(
        f"adding {args.opportunities:,} opportunities and {args.activities:,} activities "
        f"(with stage history, tasks, appointments) to {data.slug} ..."
    )
    filled = asyncio.run(pipeline.fill(settings, data.slug, args.opportunities, args.activities))
    out: dict = {"tenant": data.slug, "fill": filled.report(), "ok": False}
    results["pipeline"] = out
    rows = filled.rows
    log(
        f"filled in {filled.seconds['total']:.1f}s: {rows['opportunities']:,} opportunities, "
        f"{rows['opportunity_stage_history']:,} stage changes, {rows['activities']:,} "
        f"activities, {rows['tasks']:,} tasks, {rows['appointments']:,} appointments"
    )
    log(
        f"pipeline and timeline queries one at a time, as admin and as sales rep "
        f"(up to {args.pipeline_requests} each) ..."
    )
    try:
        out["sequential"] = pipeline.measure(
            server["port"], filled, data.token, args.pipeline_requests, args.timeline_pages
        )
    except pipeline.CheckFailed as error:
        out["error"] = str(error)
        log(f"  FAILED: {error}")
        return False
    walks = {role: r["walk"] for role, r in out["sequential"]["roles"].items()}
    try:
        out["explain"] = asyncio.run(pipeline.explain(settings, data.schema, filled, walks))
    except Exception as error:  # optional figures: a changed app function must not stop the run
        out["explain"] = {"error": f"{type(error).__name__}: {error}"}
    failures = 0
    if args.pipeline_seconds > 0:
        out["load"] = {}
        for case in pipeline.load_cases(filled):
            result = load_step(
                procs, f"kehu, {case['label']}", server, data.token, args,
                query=case["query"], variables=case["variables"], items=case["items"],
                expect=case["expect"], seconds=args.pipeline_seconds,
                connections=args.pipeline_connections,
            )  # fmt: skip
            out["load"][case["key"]] = {"label": case["label"], **result}
            failures += result["checked"]["failures"]
            for sample in result["checked"]["failure_samples"]:
                log(f"  failure: {sample}")
    # A window in which no slow request finished is reported, not failed.
    out["ok"] = failures == 0
    return out["ok"]


def stock_step(settings: Settings, args: argparse.Namespace, data, server: dict,
               results: dict) -> bool:  # fmt: skip
    """Products, warehouses and a stock ledger into the data tenant, then the stock
    availability queries against the running `kehu serve`; False if a check failed."""
    log(f"adding {args.stock_products:,} products x {args.stock_warehouses} warehouses of stock")
    filled = asyncio.run(
        stock.fill(settings, data.schema, args.stock_products, args.stock_warehouses)
    )
    out: dict = {"fill": {k: getattr(filled, k) for k in
                          ("products", "warehouses", "levels", "moves", "seconds")}}  # fmt: skip
    results["stock"] = out
    try:
        out["measured"] = stock.measure(server["port"], data.token, filled, args.stock_requests)
    except stock.CheckFailed as error:
        out["measured"] = {"requests_per_case": 0, "cases": {}}
        out["error"] = str(error)
        log(f"  FAILED: {error}")
        return False
    return True


def orders_step(settings: Settings, args: argparse.Namespace, data, server: dict,
                results: dict) -> bool:  # fmt: skip
    """Draft orders competing for a few hot products, confirmed by concurrent clients
    through the running `kehu serve`; False if a check failed."""
    log(f"making {args.orders:,} draft orders over {args.hot_products} hot products ...")
    filled = asyncio.run(orders.fill(settings, data.schema, data.user_id, args.orders,
                                     args.hot_products, warmup=2 * args.order_clients))  # fmt: skip
    out: dict = {}
    results["orders"] = out
    log(f"confirming them with {args.order_clients} concurrent clients ...")
    try:
        out["measured"] = orders.measure(
            settings, server["port"], data.token, filled, args.order_clients,
            server["proc"].pid, bench_db.BENCH_DB,
        )  # fmt: skip
    except orders.CheckFailed as error:
        out["error"] = str(error)
        log(f"  FAILED: {error}")
        return False
    return True


# -- the report ---------------------------------------------------------------------------


def summary(results: dict) -> str:
    env, prov, mig, data = (results[k] for k in ("environment", "provisioning", "migrate", "data"))
    k, b = results["load"]["kehu"], results["load"]["baseline"]
    ratios = results["ratios"]
    same = results["same_answer"]
    per = prov["per_tenant_ms"]
    lines = [
        "",
        "=" * 78,
        f"kehu bench  {results['timestamp']}  commit {env['git'] or '?'}",
        f"{env['cpus']} CPUs, Python {env['python']}, PostgreSQL {env['postgres']}",
        "-" * 78,
        f"Provisioning: {prov['tenants']} tenants (create_tenant, one after the other)",
        f"  total {prov['total_seconds']:.1f} s; per tenant mean {per['mean']:.0f} ms, "
        f"p50 {per['p50']:.0f} ms, p99 {per['p99']:.0f} ms, max {per['max']:.0f} ms",
        f"kehu migrate: catalog + {mig['tenants']} tenants, concurrency {mig['concurrency']}: "
        f"{mig['wall_seconds']:.1f} s wall",
        (
            f"  a no-op: every tenant was already at head {mig['head']}; the time is the "
            "fan-out (worker processes, one connection and one version check per tenant)"
            if mig["noop"]
            else f"  {mig['changed']} tenant(s) changed revision"
        ),
        f"  per tenant (in a worker) mean {mig['per_tenant_ms']['mean']:.0f} ms, "
        f"p99 {mig['per_tenant_ms']['p99']:.0f} ms; their sum over {mig['concurrency']} "
        f"workers is {mig['per_tenant_sum_seconds'] / mig['concurrency']:.1f} s of the wall "
        "time, the rest is the catalog step and starting the worker processes",
        f"Data: {data['customers']:,} customers, {data['contacts']:,} contacts in "
        f"{data['tenant']} (COPY fixture, {data['seconds']:.1f} s)",
        f"Same answer: {same['customers']} customer ids "
        f"{'equal' if same['customer_ids_equal'] else 'DIFFERENT'}, {same['contacts']} contact "
        f"ids {'equal' if same['contact_ids_equal'] else 'DIFFERENT'}; all fields "
        f"{'equal' if same['all_fields_equal'] else 'differ'}"
        + ("" if same["ok"] else "  <-- FAILED"),
        *search.summary_lines(results["search"]),
        "-" * 78,
        f"Load: customers(first: {PAGE_SIZE}) with contacts, {k['connections']} connections, "
        f"{k['warmup_seconds']:g} s warm-up + {k['seconds']:.0f} s each",
        f"{'':10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'bytes':>8}"
        f"{'server':>9}{'postgres':>9}{'loadgen':>9}{'RSS MiB':>9}",
        f"{'':45}{'-- CPU ms per request --':>27}",
    ]
    for name, r in (("kehu", k), ("baseline", b)):
        cpu = r["cpu_ms_per_request"]
        lines.append(
            f"{name:10}{r['requests_per_second']:9.1f}{r['latency_ms']['p50']:9.1f}"
            f"{r['latency_ms']['p99']:9.1f}{r['bytes_per_response']:8.0f}"
            f"{cpu['server']:9.2f}{cpu['postgres']:9.2f}{cpu['loadgen']:9.2f}"
            f"{r['server_rss_mib'] or 0:9.0f}"
        )
    lines.append(f"cores busy during the window (of {k['cpu_cores_busy']['machine_cores']:.0f}):")
    for name, r in (("kehu", k), ("baseline", b)):
        busy = r["cpu_cores_busy"]
        lines.append(
            f"  {name:9} server {busy['server']:.2f}, postgres {busy['postgres']:.2f}, "
            f"loadgen {busy['loadgen']:.2f}, anything else {busy['other']:.2f}"
        )
    checked = k["checked"]["responses"] + b["checked"]["responses"]
    parsed = k["checked"]["parsed"] + b["checked"]["parsed"]
    failures = k["checked"]["failures"] + b["checked"]["failures"]
    lines.append(
        f"responses checked: {checked:,} (status 200, no errors; {parsed} parsed in full), "
        f"failures: {failures}"
    )
    if env["other_cores_warning"]:
        lines.append(
            "NOTE: other processes used the machine during a load window (anything else "
            "> 0.25 cores): figures are noisy, compare ratios"
        )
    if env["no_bytecode_cache"]:
        lines.append(
            "NOTE: PYTHONDONTWRITEBYTECODE is set and the venv has no .pyc files: every "
            f"process start compiles its imports (kehu serve took "
            f"{results['servers']['kehu']['startup_seconds']:.1f} s to get healthy; "
            "each migrate worker pays it too)"
        )
    lines += [
        "-" * 78,
        f"kehu/baseline throughput: {ratios['throughput']:.3f}",
        f"kehu/baseline server CPU per request: {ratios['server_cpu_per_request']:.1f}x "
        f"(server + postgres: {ratios['server_and_postgres_cpu_per_request']:.1f}x)",
        f"kehu/baseline p50 latency: {ratios['p50_latency']:.1f}x",
    ]
    if "pipeline" in results:
        lines += ["-" * 78, *pipeline.summary_lines(results["pipeline"])]
    if "stock" in results:
        lines += ["-" * 78, *stock.summary_lines(results["stock"])]
    if "orders" in results:
        lines += ["-" * 78, *orders.summary_lines(results["orders"])]
    lines.append("=" * 78)
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally blocks run
    started = time.perf_counter()
    OUT_DIR.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    server_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/kehu")
    procs = Processes()
    results: dict = {"timestamp": stamp, "args": vars(args), "query": QUERY}
    created = False
    try:
        bench_url = asyncio.run(bench_db.recreate_database(server_url))
        created = True
        results["environment"] = {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgres": asyncio.run(bench_db.server_version(bench_url)),
            "git": git_revision(),
            "host": platform.node(),
            "load_average": os.getloadavg(),
            "no_bytecode_cache": no_bytecode_cache(),
            "migrate_concurrency": None,
        }
        log(f"database {bench_db.BENCH_DB} created on {bench_url.rsplit('/', 1)[0]}")
        settings = Settings(database_url=bench_url, queue_name="kehu:bench")
        results["environment"]["migrate_concurrency"] = settings.migrate_concurrency

        provision_step(settings, args, results)
        data = data_step(settings, args, results)

        servers = start_servers(procs, bench_url, data.schema)
        same = compare_answers(servers, data.token, results)
        check = results["same_answer"]
        log(
            f"same page from both: {'yes' if same else 'NO'} ({check['customers']} customer ids, "
            f"{check['contacts']} contact ids; every field equal: {check['all_fields_equal']})"
        )

        results["search"] = search.measure(servers["kehu"]["port"], data.token)

        results["load"] = {
            name: load_step(procs, name, servers[name], data.token, args)
            for name in ("kehu", "baseline")
        }
        results["servers"] = {
            name: {"port": s["port"], "startup_seconds": s["startup_seconds"]}
            for name, s in servers.items()
        }
        procs.stop(servers["baseline"]["proc"])
        pipeline_ok = True
        if not args.skip_pipeline:
            pipeline_ok = pipeline_step(procs, settings, args, data, servers["kehu"], results)
        if not args.skip_stock:
            pipeline_ok = stock_step(settings, args, data, servers["kehu"], results) and pipeline_ok
        if not args.skip_orders:
            ordered = orders_step(settings, args, data, servers["kehu"], results)
            pipeline_ok = ordered and pipeline_ok
        for server in servers.values():
            procs.stop(server["proc"])
        k, b = results["load"]["kehu"], results["load"]["baseline"]
        results["ratios"] = {
            "throughput": k["requests_per_second"] / b["requests_per_second"],
            "server_cpu_per_request": k["cpu_ms_per_request"]["server"]
            / b["cpu_ms_per_request"]["server"],
            "server_and_postgres_cpu_per_request": (
                k["cpu_ms_per_request"]["server"] + k["cpu_ms_per_request"]["postgres"]
            )
            / (b["cpu_ms_per_request"]["server"] + b["cpu_ms_per_request"]["postgres"]),
            "p50_latency": k["latency_ms"]["p50"] / b["latency_ms"]["p50"],
        }
        results["environment"]["other_cores_warning"] = any(
            r["cpu_cores_busy"]["other"] > 0.25 for r in (k, b)
        )
        failures = k["checked"]["failures"] + b["checked"]["failures"]
        results["ok"] = (
            same and failures == 0 and k["requests"] > 0 and b["requests"] > 0 and pipeline_ok
        )
        results["run_seconds"] = time.perf_counter() - started
        path = OUT_DIR / f"results-{stamp}.json"
        path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        log(summary(results))
        for name, r in (("kehu", k), ("baseline", b)):
            for sample in r["checked"]["failure_samples"]:
                log(f"{name} failure: {sample}")
        log(f"results: {path.relative_to(ROOT)}; whole run {results['run_seconds']:.0f} s")
        if not results["ok"]:
            log("FAILED: a check did not pass (see above)")
            return 1
        return 0
    finally:
        procs.stop_all()
        if created and not args.keep:
            asyncio.run(bench_db.drop_database(server_url))
            log(f"dropped database {bench_db.BENCH_DB}")
        elif created:
            log(f"kept database {bench_db.BENCH_DB} (--keep)")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the finally blocks have stopped everything
        print("interrupted", file=sys.stderr)
        sys.exit(130)
