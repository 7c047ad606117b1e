"""CORS for the browser front ends registered as SPA clients.

Only /graphql, /oauth/token and /oauth/revoke, and only for an origin that a
non-removed SPA client lists in its web origins. Tokens travel as bearer headers, never
cookies, so credentials are not allowed. A preflight from any other origin is refused
with 403 and no Allow-Origin header (the browser then never sends the request);
an actual request from one is answered untouched, so the browser withholds the answer.
Requests without an Origin header (servers, curl) are not looked at. The public
documents (/oauth/jwks, /.well-known/...) keep their own `Access-Control-Allow-Origin: *`.

The registered origins are read from the catalog at most once per
`principal_cache_seconds` per process: a newly registered or removed SPA client takes
effect within that time, and no request waits on a query in between.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.context import Services
from app.db import lookup_connection
from app.oauth.tables import oauth_clients

logger = logging.getLogger("kehu.cors")

CORS_PATHS = frozenset({"/graphql", "/oauth/token", "/oauth/revoke"})
PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
    # The answer depends on the Origin: caches must not hand one origin's to another.
    "Vary": "Origin",
}
ORIGINS = (
    select(func.unnest(oauth_clients.c.web_origins))
    .where(oauth_clients.c.kind == "spa", oauth_clients.c.revoked_at.is_(None))
    .distinct()
)


class RegisteredOrigins:
    """The web origins of every non-removed SPA client, refreshed once per `ttl`."""

    def __init__(self, engine: AsyncEngine, ttl: float) -> None:
        self.engine = engine
        self.ttl = ttl
        self._origins: frozenset[str] = frozenset()
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def allows(self, origin: str) -> bool:
        if time.monotonic() >= self._expires:
            await self._refresh()
        return origin in self._origins

    def clear(self) -> None:
        """Forget the set: the next request reads it afresh."""
        self._expires = 0.0

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() < self._expires:
                return  # another request refreshed it while this one waited
            try:
                async with lookup_connection(self.engine, "cors_origins") as conn:
                    self._origins = frozenset(await conn.scalars(ORIGINS))
            except Exception:
                # Keep the last set rather than fail every browser request; try again
                # after the TTL, not on every request while the database is away.
                logger.warning("cannot read the SPA clients' web origins", exc_info=True)
            self._expires = time.monotonic() + self.ttl


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def preflight_response(origin: str, allowed: bool) -> Response:
    if not allowed:
        return PlainTextResponse("origin not allowed", status_code=403, headers={"Vary": "Origin"})
    return Response(
        status_code=204, headers={"Access-Control-Allow-Origin": origin, **PREFLIGHT_HEADERS}
    )


class SpaCors:
    """Pure ASGI: no request object is built, and other paths pass straight through."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.origins = RegisteredOrigins(services.engine, services.settings.principal_cache_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in CORS_PATHS:
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = await self.origins.allows(origin)
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
            await preflight_response(origin, allowed)(scope, receive, send)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers["Access-Control-Allow-Origin"] = origin
                headers.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)
