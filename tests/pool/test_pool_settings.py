"""The pool's settings: defaults for a new tenant, changed only with pool:manage,
validated, versioned and audited."""

from __future__ import annotations

from helpers import make_tenant
from pool_helpers import SETTINGS, UPDATE_SETTINGS
from sqlalchemy import select

from app.audit.tables import audit_log
from app.db import tenant_transaction


async def _update(api, token, **input_) -> dict:
    return (await api.gql(UPDATE_SETTINGS, {"input": input_}, token=token))["updatePoolSettings"]


async def test_defaults_changes_and_audit(api, services, owner):
    tenant = await make_tenant(owner, services, "settings")
    admin = tenant.tokens["admin"]
    for role in ("viewer", "sales", "manager", "admin"):
        current = (await api.gql(SETTINGS, token=tenant.tokens[role]))["poolSettings"]
        assert (current["claimLimit"], current["reclaimAfterDays"], current["version"]) == (
            200, None, 1
        )  # fmt: skip

    changed = await _update(api, admin, version=1, claimLimit=50, reclaimAfterDays=30)
    assert changed["userErrors"] == []
    assert changed["poolSettings"]["claimLimit"] == 50
    assert changed["poolSettings"]["reclaimAfterDays"] == 30
    assert changed["poolSettings"]["version"] == 2
    # Fields left out stay; null means no limit / never.
    partial = await _update(api, admin, claimLimit=None)
    assert (partial["poolSettings"]["claimLimit"], partial["poolSettings"]["reclaimAfterDays"]) == (
        None, 30
    )  # fmt: skip
    # The same values again: nothing changes, not even the version.
    same = await _update(api, admin, claimLimit=None, reclaimAfterDays=30)
    assert same["poolSettings"]["version"] == 3

    async with tenant_transaction(services.engine, tenant.schema) as conn:
        audited = (
            await conn.execute(
                select(audit_log)
                .where(audit_log.c.action == "pool_settings.update")
                .order_by(audit_log.c.id)
            )
        ).all()
    assert [a.changes for a in audited] == [
        {"claim_limit": {"from": 200, "to": 50}, "reclaim_after_days": {"from": None, "to": 30}},
        {"claim_limit": {"from": 50, "to": None}},
    ]
    assert {a.actor_id for a in audited} == {tenant.user_ids["admin"]}


async def test_refusals_change_nothing(api, services, owner):
    tenant = await make_tenant(owner, services, "settings-bad")
    admin = tenant.tokens["admin"]
    bad = await _update(api, admin, claimLimit=-1, reclaimAfterDays=0)
    assert [(e["field"], e["code"]) for e in bad["userErrors"]] == [
        ("claimLimit", "INVALID"), ("reclaimAfterDays", "INVALID")
    ]  # fmt: skip
    too_far = await _update(api, admin, reclaimAfterDays=3651)
    assert too_far["userErrors"][0]["field"] == "reclaimAfterDays"
    stale = await _update(api, admin, version=7, claimLimit=10)
    assert [(e["field"], e["code"]) for e in stale["userErrors"]] == [("version", "CONFLICT")]
    for role in ("manager", "sales", "viewer"):
        errors = await api.errors(
            UPDATE_SETTINGS, {"input": {"claimLimit": 1}}, token=tenant.tokens[role]
        )
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    current = (await api.gql(SETTINGS, token=admin))["poolSettings"]
    assert (current["claimLimit"], current["reclaimAfterDays"], current["version"]) == (
        200, None, 1
    )  # fmt: skip
