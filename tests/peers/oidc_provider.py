"""A real OpenID Connect provider for tests: panva's oidc-provider (tests/peers/oidc) run by node.

    async with OidcProvider(clients=[...], accounts=[...]) as op:
        discovery = f"{op.issuer}/.well-known/openid-configuration"
        callback = await sign_in(authorization_url, "ada@example.com")

See tests/peers/oidc/provider.mjs for what the provider does with its config.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

PEER_DIR = Path(__file__).resolve().parent / "oidc"
START_TIMEOUT = 30.0


def ensure_node_modules() -> None:
    """Install the locked npm dependencies once; a no-op when node_modules is already there."""
    if (PEER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH; the OIDC test peer needs Node.js 20+ and npm")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=PEER_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
    )


class OidcProvider:
    """Runs provider.mjs on a free port of 127.0.0.1 for the life of an ``async with`` block.

    clients: dicts with client_id, client_secret, redirect_uris and optionally
    token_endpoint_auth_method (client_secret_basic, the default, or client_secret_post).
    accounts: dicts with sub, email, email_verified and name.
    """

    def __init__(self, *, clients: list[dict[str, Any]], accounts: list[dict[str, Any]]) -> None:
        self.config = {"port": 0, "clients": clients, "accounts": accounts}
        self.issuer = ""
        self._proc: asyncio.subprocess.Process | None = None
        # stderr goes to a file, not a pipe: nobody has to drain it, and it is there to quote
        # when the process dies.
        self._stderr: Any = None

    async def __aenter__(self) -> OidcProvider:
        await asyncio.to_thread(ensure_node_modules)
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH; the OIDC test peer needs Node.js 20+")
        self._stderr = tempfile.TemporaryFile()
        # The provider picks the port itself (listen on 0) and reports it in the READY line,
        # so there is no window in which another process can take a port chosen here.
        self._proc = await asyncio.create_subprocess_exec(
            node,
            str(PEER_DIR / "provider.mjs"),
            cwd=PEER_DIR,
            env={**os.environ, "OIDC_PEER_CONFIG": json.dumps(self.config)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        try:
            self.issuer = await asyncio.wait_for(self._read_ready(), START_TIMEOUT)
        except BaseException as exc:
            detail = self.logs()
            await self._stop()
            if isinstance(exc, TimeoutError):
                raise RuntimeError(
                    f"OIDC provider not ready after {START_TIMEOUT:.0f}s; stderr:\n{detail}"
                ) from exc
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _read_ready(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            text = line.decode().strip()
            if text.startswith("READY "):
                return text.removeprefix("READY ")
        code = await self._proc.wait()
        raise RuntimeError(f"OIDC provider exited ({code}) before READY; stderr:\n{self.logs()}")

    def logs(self) -> str:
        """What the provider wrote to stderr so far (warnings, and its errors: see renderError)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    async def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            # Read the pipe to EOF so its transport closes now, not in a ResourceWarning later.
            assert proc.stdout is not None
            await proc.stdout.read()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


class _Forms(HTMLParser):
    """Collects each <form>'s action, method and named <input> values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                {"action": a.get("action", ""), "method": a.get("method", "get"), "fields": {}}
            )
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")


async def sign_in(
    authorization_url: str, login: str, *, http: httpx.AsyncClient | None = None
) -> str:
    """Play the user at the provider: open authorization_url, sign in as `login` (any password),
    approve consent, and return the redirect back to the relying party without requesting it.

    "Outside the provider" means another scheme/host/port than authorization_url's. The result is
    ``<redirect_uri>?code=...&state=...&iss=...`` or, e.g. for an unknown login,
    ``<redirect_uri>?error=access_denied&...``. `http` must keep cookies (any AsyncClient does);
    the provider's interaction state lives in them. Reusing one `http` across calls also reuses
    the provider's login session (single sign-on): a later call then gets a code for the account
    already signed in, without a form, and `login` is not used.
    """
    own = http is None
    client = httpx.AsyncClient(timeout=10) if http is None else http
    provider = urlsplit(authorization_url)[:2]
    try:
        response = await client.get(authorization_url, follow_redirects=False)
        for _ in range(20):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if urlsplit(target)[:2] != provider:
                    return target
                response = await client.get(target, follow_redirects=False)
                continue
            if response.status_code != 200:
                raise RuntimeError(
                    f"OIDC provider answered {response.status_code} at {response.url}: "
                    f"{response.text[:500]}"
                )
            parser = _Forms()
            parser.feed(response.text)
            form = next((f for f in parser.forms if f["method"].lower() == "post"), None)
            if form is None:
                raise RuntimeError(f"no form to submit at {response.url}: {response.text[:500]}")
            fields = dict(form["fields"])
            if fields.get("prompt") == "login":
                fields.update(login=login, password="any")
            response = await client.post(
                urljoin(str(response.url), form["action"]), data=fields, follow_redirects=False
            )
        raise RuntimeError(f"sign-in did not leave the provider; last page {response.url}")
    finally:
        if own:
            await client.aclose()
