"""Public, token-free metadata: the JWK Set at /oauth/jwks and the discovery documents
at /.well-known/openid-configuration and /.well-known/oauth-authorization-server.

URLs are built from `settings.issuer`, never from the request's Host header, so a
client cannot make the server advertise someone else's keys.
"""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.api.context import Services
from app.auth.keys import ALGORITHM
from app.auth.permissions import PERMISSIONS

JWKS_PATH = "/oauth/jwks"
DISCOVERY_PATHS = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")
# Public documents: browsers of any origin may read them.
CORS = {"Access-Control-Allow-Origin": "*"}
DISCOVERY_MAX_AGE = 3600


def discovery_document(issuer: str) -> dict:
    """What a client may rely on (RFC 8414, OpenID Connect Discovery): only what is
    built is listed."""
    base = issuer.rstrip("/")
    return {
        "issuer": issuer,
        "authorization_endpoint": base + "/oauth/authorize",
        "token_endpoint": base + "/oauth/token",
        "revocation_endpoint": base + "/oauth/revoke",
        "introspection_endpoint": base + "/oauth/introspect",
        "jwks_uri": base + JWKS_PATH,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "scopes_supported": ["openid", "profile", "email", "offline_access", *PERMISSIONS],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "email", "tenant", "sid"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
    }


def routes(services: Services) -> list[Route]:
    async def jwks(request: Request) -> JSONResponse:
        body, fresh_for = await services.keyring.jwks()
        # No longer than this process will serve the same set: a client that honours
        # it never holds a set older than the reload bound.
        max_age = min(math.floor(fresh_for), math.floor(services.settings.keys_reload_seconds))
        return JSONResponse(
            body,
            headers={"Cache-Control": f"public, max-age={max(0, max_age)}", **CORS},
        )

    document = discovery_document(services.settings.issuer)

    async def discovery(request: Request) -> JSONResponse:
        return JSONResponse(
            document, headers={"Cache-Control": f"public, max-age={DISCOVERY_MAX_AGE}", **CORS}
        )

    return [
        Route(JWKS_PATH, jwks, methods=["GET"]),
        *(Route(path, discovery, methods=["GET"]) for path in DISCOVERY_PATHS),
    ]
