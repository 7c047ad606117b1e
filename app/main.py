"""The ASGI application: /graphql, /healthz, /readyz, and the token-free key and
discovery documents (/oauth/jwks, /.well-known/...)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.accounts import pages as account_pages
from app.api.body_limit import BodyLimit, capped_forms
from app.api.context import Services
from app.api.schema import schema
from app.api.view import GraphQLView
from app.auth import wellknown
from app.federation import flow as federation
from app.oauth import endpoints as oauth_endpoints
from app.oauth.cors import SpaCors
from app.services import close_services, create_services
from app.settings import Settings, get_settings


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def readiness(services: Services):
    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with services.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:  # readiness reports, it does not raise
            checks["database"] = f"unavailable: {type(error).__name__}"
        try:
            await services.queue.ping()
            checks["redis"] = "ok"
        except Exception as error:
            checks["redis"] = f"unavailable: {type(error).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", **checks},
            status_code=200 if ready else 503,
        )

    return readyz


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    settings = settings or get_settings()
    owned = services is None
    services = services or create_services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if owned:
            await close_services(services)

    graphql = GraphQLView(
        services,
        schema=schema,
        graphql_ide="graphiql",
        allow_queries_via_get=True,
        multipart_uploads_enabled=True,
    )
    authorization = oauth_endpoints.Endpoints(services)
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readiness(services)),
            Route(
                "/graphql",
                BodyLimit(
                    graphql,
                    max_bytes=settings.max_request_bytes,
                    max_upload_bytes=settings.max_upload_bytes,
                ),
                methods=["GET", "POST"],
            ),
            *wellknown.routes(services),
            *capped_forms(
                [
                    *account_pages.routes(services),
                    *oauth_endpoints.routes(services, authorization),
                    *federation.routes(services, authorization),
                ],
                max_bytes=settings.max_form_bytes,
            ),
        ],
        middleware=[
            # The client address behind the proxies we run (KEHU_FORWARDED_ALLOW_IPS);
            # here, not in uvicorn's options, so every way of serving the app agrees.
            Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips),
            Middleware(SpaCors, services=services),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    return app
