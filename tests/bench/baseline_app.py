"""The baseline: what answering the benchmark query costs at the limit.

One hand-written SQL statement builds the whole GraphQL response in PostgreSQL
(json_build_object/json_agg, contacts as a correlated subquery) and the bytes are
passed through untouched. Same HTTP stack as kehu (starlette on uvicorn, started with
the arguments `kehu serve` uses), same pool size, a bearer token must be present
(not verified: a header check only). Session state is never used, so the pool skips
asyncpg's reset round trip on release, as ARCHITECTURE.md recommends.

Run: python tests/bench/baseline_app.py --port 8100
     (env DATABASE_URL, BENCH_SCHEMA: the tenant schema holding the data)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import AsyncIterator

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_FIRST = 20
MAX_FIRST = 100

# Ordered like kehu's `customers` (created_at, id; live rows only); contacts like
# `contacts_by_customer` (primary first, then name, id). Enum values as GraphQL
# names (upper case); ids as the uuid text kehu returns.
QUERY = """
SELECT json_build_object('data', json_build_object('customers', json_build_object('edges',
  coalesce(json_agg(json_build_object('node', json_build_object(
    'id', c.id,
    'name', c.name,
    'category', upper(c.category),
    'tier', c.tier,
    'phone', c.phone,
    'email', c.email,
    'contacts', (
      SELECT coalesce(json_agg(json_build_object(
               'id', k.id, 'name', k.name, 'title', k.title, 'phone', k.phone,
               'email', k.email, 'isPrimary', k.is_primary)
             ORDER BY k.is_primary DESC, k.name, k.id), '[]'::json)
      FROM {schema}.contacts k
      WHERE k.customer_id = c.id AND k.deleted_at IS NULL)
  )) ORDER BY c.created_at, c.id), '[]'::json))))
FROM (
  SELECT id, name, category, tier, phone, email, created_at
  FROM {schema}.customers
  WHERE deleted_at IS NULL
  ORDER BY created_at, id
  LIMIT $1
) c
"""


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def plain_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


async def _init(conn: asyncpg.Connection) -> None:
    # json arrives as the bytes PostgreSQL sent and is written out as such.
    await conn.set_type_codec(
        "json", schema="pg_catalog", encoder=bytes, decoder=bytes, format="binary"
    )


async def _no_reset(conn: asyncpg.Connection) -> None:
    return None


def unauthorized() -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": "missing bearer token"}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def create_app() -> Starlette:
    url = plain_url(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1/kehu_bench"))
    query = QUERY.format(schema=quote_ident(os.environ["BENCH_SCHEMA"]))
    pool_size = int(os.environ.get("KEHU_DB_POOL_SIZE", "10"))
    state: dict[str, asyncpg.Pool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(
            url, min_size=1, max_size=pool_size, init=_init, reset=_no_reset,
            server_settings={"search_path": "pg_catalog", "application_name": "kehu-baseline"},
        )  # fmt: skip
        yield
        await state["pool"].close()

    async def graphql(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return unauthorized()
        try:
            body = json.loads(await request.body())
            first = (body.get("variables") or {}).get("first", DEFAULT_FIRST)
            if not isinstance(first, int) or not 0 <= first <= MAX_FIRST:
                raise ValueError(first)
        except (ValueError, AttributeError):
            return JSONResponse({"errors": [{"message": "bad request"}]}, status_code=400)
        data = await state["pool"].fetchval(query, first)
        return Response(data, media_type="application/json")

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/graphql", graphql, methods=["POST"])],
        lifespan=lifespan,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8100)
    args = p.parse_args()
    # The arguments `kehu serve` passes (app/cli.py cmd_serve).
    uvicorn.run(
        "baseline_app:create_app", factory=True, host=args.host, port=args.port,
        log_level="info", access_log=False,
    )  # fmt: skip


if __name__ == "__main__":
    main()
