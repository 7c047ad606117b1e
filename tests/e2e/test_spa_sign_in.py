"""Once, end to end in a real browser: a single-page app on its own origin signs in
through the authorization-code + PKCE flow (our sign-in page, its redirects), calls
the API cross-origin with the token (CORS preflight and all) and shows the user's
customers; then refreshes its tokens."""

from __future__ import annotations

from e2e.harness import LiveServer
from flows import PASSWORD, set_password
from helpers import make_tenant
from playwright.async_api import Page, expect
from sqlalchemy.dialects.postgresql import insert

from app.oauth.tables import oauth_clients

CREATE = """mutation($n: String!, $o: ID) {
  createCustomer(input: {name: $n, ownerId: $o}) { customer { id } } }"""


async def test_spa_signs_in_and_lists_the_users_customers(
    page: Page, live_server: LiveServer, spa_server: str, owner, services, api
) -> None:
    tenant = await make_tenant(owner, services, "browser")
    sales = f"sales@{tenant.slug}.example.com"
    await set_password(owner, sales)
    # What the sales rep may see (their own customer), and what they may not.
    owned = {"o": str(tenant.user_ids["sales"])}
    await api.gql(CREATE, {"n": "浏览器测试客户", **owned}, token=tenant.tokens["sales"])
    theirs = {"o": str(tenant.user_ids["manager"])}
    hidden = await api.gql(CREATE, {"n": "Manager Only Co", **theirs}, token=tenant.tokens["admin"])
    assert hidden["createCustomer"]["customer"]["id"]
    client_id = f"browser-{tenant.slug}"
    async with owner.begin() as conn:
        await conn.execute(
            insert(oauth_clients).values(
                client_id=client_id, tenant_id=tenant.id, kind="spa", name="Browser SPA",
                redirect_uris=[f"{spa_server}/index.html"], web_origins=[spa_server],
            )
        )  # fmt: skip

    await page.goto(f"{spa_server}/index.html?api={live_server.url}&client_id={client_id}")
    await expect(page.locator("#status")).to_have_text("ready")
    await page.click("#sign-in")

    # Our server-rendered sign-in page, on the API's origin.
    await page.wait_for_url(f"{live_server.url}/oauth/authorize?*")
    await page.fill("#email", sales)
    await page.fill("#password", PASSWORD)
    await page.click("button:has-text('Sign in')")

    # Back on the SPA: code exchanged, API called cross-origin, customers shown.
    await page.wait_for_url(f"{spa_server}/index.html*")
    await expect(page.locator("#status")).to_have_text("loaded", timeout=15_000)
    await expect(page.locator("#error")).to_have_text("")
    await expect(page.locator("#me")).to_have_text(sales)
    names = await page.locator("#customers li").all_inner_texts()
    assert "浏览器测试客户" in names
    assert "Manager Only Co" not in names  # data scope: own records and the pool
    total = int(await page.locator("#total").inner_text())
    assert total == len(names)
    assert page.url == f"{spa_server}/index.html"  # code and state left the address bar

    # Refresh: the rotated tokens work just as well.
    first = await page.evaluate("() => sessionStorage.getItem('kehu.refresh_token')")
    await page.click("#refresh")
    await page.wait_for_function(
        "(first) => sessionStorage.getItem('kehu.refresh_token') !== first", arg=first
    )
    await expect(page.locator("#status")).to_have_text("loaded")
    await expect(page.locator("#error")).to_have_text("")
    second = await page.evaluate("() => sessionStorage.getItem('kehu.refresh_token')")
    assert first and second and first != second
