"""Proves the e2e harness: Chromium loads the SPA from its own origin, and the browser
(not a test client) enforces CORS on calls to the live kehu server."""

from __future__ import annotations

from e2e.harness import LiveServer
from playwright.async_api import Page, expect

CROSS_ORIGIN_FETCH = """async (url) => {
    try {
        const response = await fetch(url, { credentials: "omit" });
        return { ok: response.ok, status: response.status, body: await response.json() };
    } catch (error) {
        return { error: error.name, message: error.message };
    }
}"""


async def test_spa_loads_and_browser_enforces_cors(
    page: Page, live_server: LiveServer, spa_server: str
) -> None:
    assert spa_server != live_server.url  # two origins

    await page.goto(f"{spa_server}/index.html?api={live_server.url}&client_id=x")
    await expect(page.locator("#sign-in")).to_be_visible()
    await expect(page.locator("#status")).to_have_text("ready")
    await expect(page.locator("#error")).to_have_text("")
    # The configuration went to sessionStorage and left the address bar.
    assert page.url == f"{spa_server}/index.html"
    stored = await page.evaluate("() => sessionStorage.getItem('kehu.api')")
    assert stored == live_server.url

    # /healthz sends no Access-Control-Allow-Origin: the server answers, but the browser
    # withholds the response from the page, so fetch rejects with a TypeError.
    blocked = await page.evaluate(CROSS_ORIGIN_FETCH, f"{live_server.url}/healthz")
    assert blocked["error"] == "TypeError", blocked

    # The discovery document is public (Access-Control-Allow-Origin: *) and names the
    # live server itself as issuer.
    discovery = await page.evaluate(
        CROSS_ORIGIN_FETCH, f"{live_server.url}/.well-known/openid-configuration"
    )
    assert discovery.get("ok") is True, discovery
    assert discovery["body"]["issuer"] == live_server.url
