"""The /graphql endpoint: authenticates every operation (401 at the HTTP layer for a
missing or bad token), binds the request to the token's tenant, and closes the
request's connection when the response is ready. The GraphiQL page needs no token."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from strawberry.asgi import GraphQL
from strawberry.types.unset import UNSET

from app.api.context import Context, Services
from app.auth.tokens import verify_access_token
from app.db import RequestDb
from app.errors import ApiError, Forbidden, Unauthenticated
from app.outbox.service import relay_soon


def error_response(error: ApiError, status: int) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return JSONResponse(
        {"errors": [{"message": error.message, "extensions": error.extensions}]},
        status_code=status,
        headers=headers,
    )


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing bearer token")
    return token.strip()


class GraphQLView(GraphQL):
    def __init__(self, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services

    def encode_json(self, data: object) -> bytes:
        # Chinese text as UTF-8, not \u escapes: half the bytes on the wire.
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if self.is_websocket_request(request):
            return await self.reject_websocket(request)
        if self.should_render_graphql_ide(self.request_adapter_class(request)):
            return await self.render_graphql_ide(request)
        services = self.services
        try:
            claims = await verify_access_token(
                bearer_token(request), keyring=services.keyring, settings=services.settings
            )
            principal = await services.principals.resolve(claims)
        except Unauthenticated as error:
            return error_response(error, 401)
        except Forbidden as error:
            return error_response(error, 403)
        db = RequestDb(
            services.engine,
            principal.tenant.schema_name,
            after_outbox=partial(relay_soon, services.engine, services.queue),
        )
        try:
            ctx = Context(request=request, principal=principal, db=db, services=services)
            return await super().run(request, context=ctx)
        finally:
            await db.close()
            # A multipart upload's temporary files, even when no resolver read them.
            await request.close()
