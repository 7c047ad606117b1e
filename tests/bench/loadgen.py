"""The load generator, run as its own process: N keep-alive HTTP/1.1 connections on
raw asyncio streams (uvloop when present), each sending the next request as soon as
the previous answer is in (closed loop), for a warm-up and then a measured window.

Every response is checked: status 200 and no "errors" key (a byte search); a sample
is parsed fully and must hold the expected number of edges (or entries of the list
named by --items, for queries other than the customers page). CPU is read from /proc
at the window's edges: the server process's, its database's PostgreSQL backends',
this process's, and the whole machine's (anything else running shows up there).

Prints one JSON object on stdout. Run `python tests/bench/loadgen.py --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PARSE_EVERY = 64  # fully parse one response in this many (and each connection's first)
CUSTOMERS = "customers.edges"  # the list checked in the customers query's answers


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # user..steal; guest time is already in user
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to `database`, found by its
    process title ("postgres: user database host(port) state")."""
    found: dict[int, float] = {}
    if not database:
        return found
    marker = f" {database} ".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read(200)
            if title.startswith(b"postgres: ") and marker in title:
                found[int(entry)] = process_cpu_seconds(int(entry))
        except OSError:  # gone meanwhile
            continue
    return found


def snapshot(server_pid: int, database: str) -> dict:
    busy, total = machine_cpu()
    own = os.times()
    return {
        "at": time.perf_counter(),
        "server": process_cpu_seconds(server_pid) if server_pid else 0.0,
        "backends": backend_cpu(database),
        "client": own.user + own.system,
        "machine_busy": busy,
        "machine_total": total,
    }


@dataclass
class Tally:
    t0: float
    t1: float
    expect_edges: int | None
    items: str = CUSTOMERS
    latencies: list[float] = field(default_factory=list)
    body_bytes: int = 0
    warmup_requests: int = 0
    failures: int = 0
    failure_samples: list[str] = field(default_factory=list)
    parsed: int = 0
    connects: int = 0

    def fail(self, why: str) -> None:
        self.failures += 1
        if len(self.failure_samples) < 5:
            self.failure_samples.append(why[:500])


def build_request(host: str, port: int, path: str, token: str, payload: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "\r\n"
    )
    return head.encode() + payload


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server closes) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = None
    chunked = close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif name == "connection":
            close = "close" in value.lower()
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    elif length is not None:
        body = await reader.readexactly(length)
    else:
        body = await reader.read()
        close = True
    return status, body, close


def check_parsed(body: bytes, expect_edges: int | None, items: str = CUSTOMERS) -> str | None:
    """The list at `items` (a path under data) has `expect_edges` entries; for the
    customers query, each node has an id and a contacts list."""
    try:
        document = json.loads(body)
        edges = document["data"]
        for key in items.split("."):
            edges = edges[key]
        if not isinstance(edges, list):
            return f"{items} is not a list"
        for edge in edges if items == CUSTOMERS else ():
            node = edge["node"]
            if not node["id"] or not isinstance(node["contacts"], list):
                return "a node without id or contacts"
    except (ValueError, KeyError, TypeError) as error:
        return f"unexpected response shape ({error!r}): {body[:200]!r}"
    if "errors" in document:
        return f"errors: {document['errors']!r}"
    if expect_edges is not None and len(edges) != expect_edges:
        return f"expected {expect_edges} entries in {items}, got {len(edges)}"
    return None


async def connection_loop(host: str, port: int, request: bytes, tally: Tally) -> None:
    reader = writer = None
    first = True
    seen = 0
    while True:
        started = time.perf_counter()
        if started >= tally.t1:
            break
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
                tally.connects += 1
            writer.write(request)
            status, body, close = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            tally.fail(f"connection: {type(error).__name__}: {error}")
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.05)
            continue
        done = time.perf_counter()
        if status != 200:
            tally.fail(f"HTTP {status}: {body[:300]!r}")
        elif b'"errors"' in body:
            tally.fail(f"errors in response: {body[:300]!r}")
        elif first or seen % PARSE_EVERY == 0:
            tally.parsed += 1
            problem = check_parsed(body, tally.expect_edges, tally.items)
            if problem:
                tally.fail(problem)
        first = False
        seen += 1
        if tally.t0 <= done < tally.t1:
            tally.latencies.append(done - started)
            tally.body_bytes += len(body)
        elif done < tally.t0:
            tally.warmup_requests += 1
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def run(args: argparse.Namespace) -> dict:
    payload = json.dumps({"query": args.query, "variables": json.loads(args.variables)}).encode()
    request = build_request(args.host, args.port, args.path, args.token, payload)
    start = time.perf_counter()
    tally = Tally(
        t0=start + args.warmup, t1=start + args.warmup + args.seconds,
        expect_edges=args.expect_edges, items=args.items,
    )  # fmt: skip
    marks: dict[str, dict[str, float]] = {}

    async def meter() -> None:
        await asyncio.sleep(max(0.0, tally.t0 - time.perf_counter()))
        marks["start"] = snapshot(args.server_pid, args.database)
        await asyncio.sleep(max(0.0, tally.t1 - time.perf_counter()))
        marks["end"] = snapshot(args.server_pid, args.database)

    await asyncio.gather(
        meter(),
        *(connection_loop(args.host, args.port, request, tally) for _ in range(args.connections)),
    )
    a, b = marks["start"], marks["end"]
    window = b["at"] - a["at"]
    n = len(tally.latencies)
    latencies = sorted(tally.latencies)

    def pct(p: float) -> float | None:
        return latencies[min(n - 1, int(p / 100 * n))] * 1000 if n else None

    machine_busy = b["machine_busy"] - a["machine_busy"]
    server = b["server"] - a["server"]
    client = b["client"] - a["client"]
    # Backends opened during the window count from zero (their start-up included).
    postgres = sum(cpu - a["backends"].get(pid, 0.0) for pid, cpu in b["backends"].items())
    other = max(0.0, machine_busy - server - client - postgres)

    def per_request(seconds: float) -> float | None:
        return seconds / n * 1000 if n else None

    return {
        "connections": args.connections,
        "warmup_seconds": args.warmup,
        "seconds": round(window, 3),
        "requests": n,
        "warmup_requests": tally.warmup_requests,
        "requests_per_second": n / args.seconds,
        "latency_ms": {
            "mean": sum(latencies) / n * 1000 if n else None,
            "p50": pct(50),
            "p90": pct(90),
            "p99": pct(99),
            "max": latencies[-1] * 1000 if n else None,
        },
        "bytes_per_response": tally.body_bytes / n if n else None,
        "cpu_ms_per_request": {
            "server": per_request(server),
            "postgres": per_request(postgres),
            "loadgen": per_request(client),
            "machine": per_request(machine_busy),
        },
        "cpu_cores_busy": {
            "server": server / window,
            "postgres": postgres / window,
            "loadgen": client / window,
            "other": other / window,
            "machine": machine_busy / window,
            "machine_cores": (b["machine_total"] - a["machine_total"]) / window,
        },
        "postgres_backends": len(b["backends"]),
        "checked": {
            "responses": n + tally.warmup_requests,
            "parsed": tally.parsed,
            "failures": tally.failures,
            "failure_samples": tally.failure_samples,
            "connects": tally.connects,
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description="closed-loop HTTP load on one GraphQL query")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/graphql")
    p.add_argument("--token", required=True)
    p.add_argument("--query", required=True)
    p.add_argument("--variables", default="{}", help="JSON")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--server-pid", type=int, default=0, help="whose CPU time to read")
    p.add_argument("--expect-edges", type=int, default=None)
    p.add_argument(
        "--items", default=CUSTOMERS, help="the list --expect-edges counts: a path under data"
    )
    p.add_argument("--database", default="", help="whose PostgreSQL backends' CPU to read")
    args = p.parse_args()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(args))
    else:
        result = uvloop.run(run(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
