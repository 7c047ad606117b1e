"""The authorization-code + PKCE flow and refresh rotation, over HTTP as a single-page
app and its user's browser drive them, and the attacks on them that must fail."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flows import (
    PASSWORD,
    REDIRECT_URI,
    authorization,
    browser,
    choose_tenant,
    code_from,
    form_fields,
    open_sign_in,
    redeem,
    refresh,
    register_spa,
    set_password,
    sign_in,
    submit_password,
)
from helpers import make_tenant
from joserfc import jwt
from joserfc.jwk import KeySet

from app.audit.service import SYSTEM
from app.db import tenant_transaction
from app.users import service as users

ME = "{ me { user { email } tenant { slug } } }"
CUSTOMERS = "{ customers(first: 5) { totalCount } }"


@pytest.fixture(scope="module")
async def pair(owner, services, client):
    """Two tenants; the first's admin is also a sales rep of the second (one account,
    two memberships)."""
    first = await make_tenant(owner, services, "oauth-a")
    second = await make_tenant(owner, services, "oauth-b")
    email = f"admin@{first.slug}.example.com"
    async with tenant_transaction(services.engine, second.schema) as conn:
        row = await users.create_user(
            conn, actor=SYSTEM, tenant_id=second.id, email=email, role="sales", name="both"
        )
    second.user_ids["shared"] = row.id
    for handle in (first, second):
        for role in ("admin", "manager", "sales", "viewer"):
            await set_password(owner, f"{role}@{handle.slug}.example.com")
    # The account existed: the second tenant is an invitation until its owner accepts.
    async with browser(client) as web:
        await accept_invitation(web, email, second.id)
    return first, second, email


async def accept_invitation(web, email: str, tenant_id) -> None:
    """What the account's owner does on /account/invitations: their password, then
    Accept on the tenant's invitation."""
    page = await web.get("/account/invitations")
    fields = form_fields(page.text)
    listed = await web.post(
        "/account/invitations",
        data={"csrf": fields["csrf"], "email": email, "password": PASSWORD},
    )
    assert listed.status_code == 200, listed.text
    form = next(f for f in re.findall(r"<form.*?</form>", listed.text, re.S) if str(tenant_id) in f)
    accepted = await web.post(
        "/account/invitations", data={**form_fields(form), "decision": "accept"}
    )
    assert accepted.status_code == 200, accepted.text


@pytest.fixture(scope="module")
async def spa(owner):
    return await register_spa(owner, None)


async def test_code_flow_with_pkce_issues_tokens_that_work(client, api, pair, spa, services):
    first, _, _ = pair
    email = f"manager@{first.slug}.example.com"
    async with browser(client) as web:
        auth, code = await sign_in(web, spa, email)
        response = await redeem(web, auth, code)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] <= 600
    assert set(tokens) >= {"access_token", "refresh_token", "id_token"}
    me = await api.gql(ME, token=tokens["access_token"])
    assert me["me"]["user"]["email"] == email
    assert me["me"]["tenant"]["slug"] == first.slug

    jwks = KeySet.import_key_set((await client.get("/oauth/jwks")).json())
    id_token = jwt.decode(tokens["id_token"], jwks, algorithms=["ES256"]).claims
    assert id_token["aud"] == spa
    assert id_token["iss"] == services.settings.issuer
    assert id_token["nonce"] == auth.params["nonce"]
    assert id_token["email"] == email


async def test_refresh_rotates_and_a_replayed_token_ends_the_session(client, api, pair, spa):
    first, _, _ = pair
    async with browser(client) as web:
        auth, code = await sign_in(web, spa, f"sales@{first.slug}.example.com")
        tokens = (await redeem(web, auth, code)).json()
        rotated = await refresh(web, spa, tokens["refresh_token"])
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()
        assert second["refresh_token"] != tokens["refresh_token"]
        assert (await api.post(ME, token=second["access_token"])).status_code == 200

        # The first refresh token again: a thief or a replay. The whole family ends.
        replay = await refresh(web, spa, tokens["refresh_token"])
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        after = await refresh(web, spa, second["refresh_token"])
        assert after.json()["error"] == "invalid_grant"
    await asyncio.sleep(1.1)  # the principal cache bound in tests
    assert (await api.post(ME, token=second["access_token"])).status_code == 401


async def test_a_code_works_once_and_its_replay_ends_the_session(client, api, pair, spa):
    first, _, _ = pair
    async with browser(client) as web:
        auth, code = await sign_in(web, spa, f"viewer@{first.slug}.example.com")
        tokens = (await redeem(web, auth, code)).json()
        again = await redeem(web, auth, code)
        assert again.json()["error"] == "invalid_grant"
        assert (await refresh(web, spa, tokens["refresh_token"])).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
    ],
    ids=["no-challenge", "plain", "method-missing"],
)
async def test_pkce_downgrades_are_refused_at_the_authorization_endpoint(client, spa, overrides):
    auth = authorization(spa, **overrides)
    async with browser(client) as web:
        response = await open_sign_in(web, auth)
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == [auth.state]


async def test_a_wrong_or_missing_verifier_gets_no_tokens(client, pair, spa):
    first, _, _ = pair
    async with browser(client) as web:
        auth, code = await sign_in(web, spa, f"viewer@{first.slug}.example.com")
        wrong = await redeem(web, auth, code, code_verifier="x" * 43)
        assert wrong.json()["error"] == "invalid_grant"
        auth, code = await sign_in(web, spa, f"viewer@{first.slug}.example.com")
        missing = await redeem(web, auth, code, code_verifier="")
        assert missing.status_code == 400
        assert "access_token" not in missing.json()


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        REDIRECT_URI + "/../evil",
        REDIRECT_URI + "?next=https://evil.example",
        REDIRECT_URI + "#frag",
        REDIRECT_URI.replace("5173", "5174"),
        REDIRECT_URI.upper(),
        None,
    ],
)
async def test_redirect_uri_tricks_never_redirect(client, spa, redirect_uri):
    auth = authorization(spa, redirect_uri=redirect_uri)
    async with browser(client) as web:
        response = await open_sign_in(web, auth)
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_the_code_is_bound_to_its_redirect_uri(client, pair, owner):
    first, _, _ = pair
    from app.oauth.tables import oauth_clients

    other = REDIRECT_URI + "/other"
    spa = await register_spa(owner, None)
    async with owner.begin() as conn:
        await conn.execute(
            oauth_clients.update()
            .where(oauth_clients.c.client_id == spa)
            .values(redirect_uris=[REDIRECT_URI, other])
        )
    async with browser(client) as web:
        auth, code = await sign_in(web, spa, f"viewer@{first.slug}.example.com")
        response = await redeem(web, auth, code, redirect_uri=other)
    assert response.json()["error"] == "invalid_grant"


async def test_an_intercepted_code_cannot_be_spent_without_the_verifier(client, api, pair, spa):
    """Whoever intercepted the code but not the verifier can neither spend it before
    the real client, nor replay it after and so end the real client's session."""
    first, _, _ = pair
    async with browser(client) as web:
        auth, code = await sign_in(web, spa, f"manager@{first.slug}.example.com")
        async with browser(client) as thief:
            wrong = await redeem(thief, auth, code, code_verifier="x" * 43)
            assert wrong.json()["error"] == "invalid_grant"
            missing = await redeem(thief, auth, code, code_verifier="")
            assert missing.status_code == 400 and "access_token" not in missing.json()
            elsewhere = await redeem(
                thief, auth, code, redirect_uri="https://evil.example/cb", code_verifier="x" * 43
            )
            assert elsewhere.json()["error"] == "invalid_grant"

            redeemed = await redeem(web, auth, code)
            assert redeemed.status_code == 200, redeemed.text
            tokens = redeemed.json()

            replay = await redeem(thief, auth, code, code_verifier="y" * 43)
            assert replay.json()["error"] == "invalid_grant"
        rotated = await refresh(web, spa, tokens["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    assert (await api.post(ME, token=rotated.json()["access_token"])).status_code == 200


async def test_simultaneous_redemptions_of_one_code_give_tokens_once(client, pair, spa):
    first, _, _ = pair
    async with browser(client) as web:
        auth, code = await sign_in(web, spa, f"manager@{first.slug}.example.com")
        responses = await asyncio.gather(*(redeem(web, auth, code) for _ in range(4)))
    issued = [r for r in responses if r.status_code == 200]
    assert len(issued) == 1, [r.text for r in responses]
    assert "access_token" in issued[0].json()
    assert sorted(r.json().get("error", "") for r in responses) == ["", *["invalid_grant"] * 3]


async def test_unknown_client_gets_an_error_page(client):
    async with browser(client) as web:
        response = await open_sign_in(web, authorization("no-such-client"))
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_login_csrf_a_form_without_the_browsers_cookie_is_refused(client, pair, spa):
    """A page elsewhere cannot post a sign-in form into a victim's browser: the form's
    token must match the cookie the sign-in page set in that same browser."""
    first, _, _ = pair
    auth = authorization(spa)
    async with browser(client) as attacker:
        await open_sign_in(attacker, auth)
        async with browser(client) as victim:
            # The attacker's form (with the attacker's token) submitted by the victim.
            victim_auth = authorization(spa)
            victim_auth.page = auth.page
            response = await submit_password(
                victim, victim_auth, f"viewer@{first.slug}.example.com"
            )
    assert response.status_code == 403
    assert "location" not in response.headers


async def test_wrong_password_shows_the_form_again(client, pair, spa):
    first, _, _ = pair
    auth = authorization(spa)
    async with browser(client) as web:
        await open_sign_in(web, auth)
        response = await submit_password(
            web, auth, f"viewer@{first.slug}.example.com", "not the password"
        )
    assert response.status_code == 401
    assert 'id="error"' in response.text
    assert "location" not in response.headers


async def test_an_account_in_two_tenants_chooses_one(client, api, pair, spa):
    first, second, email = pair
    auth = authorization(spa)
    async with browser(client) as web:
        await open_sign_in(web, auth)
        chooser = await submit_password(web, auth, email)
        assert chooser.status_code == 200
        assert first.slug in chooser.text and second.slug in chooser.text
        code = code_from(await choose_tenant(web, auth, second.slug), auth)
        tokens = (await redeem(web, auth, code)).json()
    me = (await api.gql(ME, token=tokens["access_token"]))["me"]
    assert me["tenant"]["slug"] == second.slug
    assert me["user"]["email"] == email


async def test_the_chooser_refuses_a_tenant_the_account_is_not_in(client, pair, spa, owner):
    first, _, email = pair
    outsider = await make_tenant(owner, client._transport.app.state.services, "oauth-c")
    auth = authorization(spa)
    async with browser(client) as web:
        await open_sign_in(web, auth)
        await submit_password(web, auth, email)
        response = await choose_tenant(web, auth, outsider.slug)
    assert response.status_code == 403
    assert "location" not in response.headers


async def test_the_chooser_ticket_is_bound_to_the_browser(client, pair, spa):
    first, second, email = pair
    auth = authorization(spa)
    async with browser(client) as web:
        await open_sign_in(web, auth)
        await submit_password(web, auth, email)
        async with browser(client) as other:
            stolen = authorization(spa)
            stolen.page = auth.page
            response = await choose_tenant(other, stolen, second.slug)
    assert response.status_code == 403


async def test_a_tenants_own_spa_signs_in_to_that_tenant_only(client, api, pair, owner):
    first, second, email = pair
    own = await register_spa(owner, second.id)
    async with browser(client) as web:
        auth, code = await sign_in(web, own, email)  # no chooser: the client decides
        tokens = (await redeem(web, auth, code)).json()
        me = (await api.gql(ME, token=tokens["access_token"]))["me"]
        assert me["tenant"]["slug"] == second.slug
        auth = authorization(own)
        await open_sign_in(web, auth)
        refused = await submit_password(web, auth, f"admin@{second.slug}.example.com".replace(
            second.slug, first.slug).replace("admin", "viewer"))  # fmt: skip
    assert refused.status_code == 403


async def test_a_deactivated_user_cannot_sign_in(client, pair, spa, services):
    first, _, _ = pair
    async with tenant_transaction(services.engine, first.schema) as conn:
        await users.update_user(
            conn, actor=SYSTEM, user_id=first.user_ids["viewer"],
            changes=users.UserChanges(active=False),
        )  # fmt: skip
    try:
        auth = authorization(spa)
        async with browser(client) as web:
            await open_sign_in(web, auth)
            response = await submit_password(web, auth, f"viewer@{first.slug}.example.com")
        assert response.status_code == 403
        assert "location" not in response.headers
    finally:
        async with tenant_transaction(services.engine, first.schema) as conn:
            await users.update_user(
                conn, actor=SYSTEM, user_id=first.user_ids["viewer"],
                changes=users.UserChanges(active=True),
            )  # fmt: skip


async def test_revoking_a_refresh_token_ends_the_session(client, api, pair, spa):
    first, _, _ = pair
    async with browser(client) as web:
        auth, code = await sign_in(web, spa, f"manager@{first.slug}.example.com")
        tokens = (await redeem(web, auth, code)).json()
        response = await web.post(
            "/oauth/revoke",
            data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token",
                  "client_id": spa},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        assert (await refresh(web, spa, tokens["refresh_token"])).json()["error"] == "invalid_grant"
    await asyncio.sleep(1.1)
    assert (await api.post(ME, token=tokens["access_token"])).status_code == 401


async def test_sign_in_is_audited(client, api, pair, spa):
    first, _, _ = pair
    async with browser(client) as web:
        await sign_in(web, spa, f"sales@{first.slug}.example.com")
    query = '{ auditLog(first: 50, filter: {action: "sign_in.succeeded"}) { edges { node { action actor { email } } } } }'
    data = await api.gql(query, token=first.tokens["admin"])
    emails = {e["node"]["actor"]["email"] for e in data["auditLog"]["edges"]}
    assert f"sales@{first.slug}.example.com" in emails


async def test_the_sign_in_page_links_to_reset_and_the_sign_in_history(client, spa):
    async with browser(client) as web:
        page = await open_sign_in(web, authorization(spa))
    assert page.status_code == 200
    assert "/account/password-reset" in page.text
    assert "/account/security" in page.text
