"""A cap on a request body, enforced while it arrives: for /graphql, and for the
sign-in and account forms (/oauth/*, /account/*).

Starlette spools every file part of a multipart body to a temporary file, with no size
limit, while the form is parsed: before any resolver, permission check or
KEHU_MAX_UPLOAD_BYTES check runs. (The /graphql view verifies the token before it
reads the body, so there this takes a signed-in user; still, any one of them could
fill the disk.) The forms are worse: /oauth/token and the sign-in page parse whatever
they are sent, urlencoded or multipart, from anyone, before anything is checked.
So the body is refused here: at once when its Content-Length is too large, else once
the bytes received pass the cap. Pure ASGI: nothing is buffered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The rest of the body is never read: the connection cannot carry another request.
CLOSE = {"Connection": "close"}


class BodyTooLarge(Exception):
    """Raised out of `receive` to stop whoever is reading the body (the form parser
    closes its temporary files on any exception)."""


def too_large(limit: int) -> JSONResponse:
    """The refusal of /graphql: a GraphQL error, as its clients expect."""
    message = f"the request body is larger than {limit} bytes"
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]},
        status_code=413,
        headers=CLOSE,
    )


def form_too_large(limit: int) -> PlainTextResponse:
    """The refusal of a form: browsers show it as it is, and OAuth has no error of its
    own for it."""
    return PlainTextResponse(
        f"请求过大。The request body is larger than {limit} bytes.", status_code=413,
        headers=CLOSE,
    )  # fmt: skip


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_upload_bytes: int = 0,
        refusal: Callable[[int], Response] = too_large,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # A multipart body is the file plus its envelope: the operations and map parts
        # (JSON, held to max_bytes like any request), boundaries and part headers.
        # Where no upload is expected (0), multipart is held to max_bytes too.
        self.max_multipart_bytes = max_bytes + max_upload_bytes
        self.refusal = refusal

    def limit(self, headers: Headers) -> int:
        multipart = headers.get("content-type", "").lower().startswith("multipart/")
        return self.max_multipart_bytes if multipart else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limit(headers)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self.refusal(limit)(scope, receive, send)
            return

        received = 0
        exceeded = started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app answers to a refused body, ours goes instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
        if exceeded and not started:
            await self.refusal(limit)(scope, receive, send)


def capped_forms(routes: Iterable[BaseRoute], *, max_bytes: int) -> list[BaseRoute]:
    """`routes` with each endpoint behind a form-sized BodyLimit: inside the route, so
    the cap holds for these paths only, and a refused body never reaches the handler
    (nothing is counted or recorded for it)."""
    cap = Middleware(BodyLimit, max_bytes=max_bytes, refusal=form_too_large)
    capped: list[BaseRoute] = []
    for route in routes:
        if isinstance(route, Route):
            route = Route(
                route.path, route.endpoint, methods=route.methods, name=route.name,
                include_in_schema=route.include_in_schema, middleware=[cap],
            )  # fmt: skip
        capped.append(route)
    return capped
