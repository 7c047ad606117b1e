"""Text search over 10k customers through the real API: one request at a time, so the
figure is the latency of the search itself (index lookup, recheck, count)."""

from __future__ import annotations

import json
import statistics
import time

import bench_procs

SEARCH = (
    "query($q: String!) { customers(first: 20, filter: {search: $q}) "
    "{ totalCount edges { node { id name } } } }"
)
# Two Chinese characters (one bigram), one character, a longer name part, an email
# fragment, a fragment every email has (the worst case: count them all), phone digits.
TERMS = ("电子", "科", "华达电子", "contact123@", "example", "1380")
REPEAT = 30


def measure(port: int, token: str) -> dict[str, dict]:
    url = f"http://127.0.0.1:{port}/graphql"
    results = {}
    for term in TERMS:
        timings, total = [], None
        for _ in range(REPEAT):
            started = time.perf_counter()
            status, body = bench_procs.post_json(
                url, token, {"query": SEARCH, "variables": {"q": term}}
            )
            timings.append((time.perf_counter() - started) * 1000)
            document = json.loads(body)
            if status != 200 or document.get("errors"):
                raise RuntimeError(f"search {term!r} answered {status}: {body[:300]!r}")
            total = document["data"]["customers"]["totalCount"]
        results[term] = {"matches": total, "p50_ms": statistics.median(timings),
                         "max_ms": max(timings)}  # fmt: skip
    return results


def summary_lines(results: dict[str, dict]) -> list[str]:
    lines = [f"Search (customers(first: 20, filter: {{search}}) with totalCount, {REPEAT} runs):"]
    for term, r in results.items():
        lines.append(
            f"  {term!r:>12}: {r['matches']:>6,} matches, p50 {r['p50_ms']:.1f} ms, "
            f"max {r['max_ms']:.1f} ms"
        )
    return lines
