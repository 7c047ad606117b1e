"""Who may own a lead, and the tenant's assignment rules (leads:manage).

A lead created without an owner (by hand or by import) goes through the rules in
`position` order; the first rule that matches and has an eligible member assigns it:
- REGION matches a lead whose region equals the rule's (NFKC, case and white space
  ignored), and picks round robin among the eligible members of its team;
- ROUND_ROBIN matches every lead and picks the next eligible member of its team.
Eligible members are the team's own members (not its sub-teams') who are active and
whose role writes leads (leads:write) and sees by owner (not a partner). A rule whose
team has none is passed over; when no rule assigns, the lead stays unassigned.

Round robin is fair under concurrency: each rule row is its own cursor (the member it
gave the last lead to), advanced by a single UPDATE ... RETURNING inside the
transaction that creates the lead. The row lock it takes makes concurrent creations
queue on the rule, each seeing the cursor its predecessor committed (PostgreSQL
re-evaluates the whole UPDATE, subqueries included, on the newest row version), so
members take turns in id order and no turn is given twice or lost; a rolled-back
creation gives its turn back.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, delete, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, record
from app.auth.permissions import BUILTIN_ROLES
from app.auth.principal import Scoped
from app.auth.scope import people_visible
from app.auth.tables import roles
from app.errors import UserError, UserErrors
from app.leads.tables import RULE_KINDS, lead_assignment_rules
from app.records import new_id
from app.teams.tables import teams
from app.users.tables import users
from app.validation import check_required, clean

LEAD_WRITE = "leads:write"
MAX_RULES = 50
# Serialises setLeadAssignmentRules (a rare admin action): the rule set is replaced
# as a whole. The key is shared by all tenants, which costs nothing but a short wait.
RULES_LOCK = "kehu.lead_assignment_rules"
SHIFT = 1000  # above any stored position (they are 0 to MAX_RULES - 1)


def may_own_leads() -> ColumnElement[bool]:
    """Users a lead may be given to: active, with a role that writes leads and sees
    records by owner (a partner's assigned scope would never see it)."""
    builtin = sorted(
        r.name
        for r in BUILTIN_ROLES.values()
        if LEAD_WRITE in r.permissions and r.data_scope != "assigned"
    )
    custom = select(roles.c.name).where(
        roles.c.permissions.contains([LEAD_WRITE]), roles.c.data_scope != "assigned"
    )
    return and_(users.c.active, or_(users.c.role.in_(builtin), users.c.role.in_(custom)))


async def check_owner(
    conn: AsyncConnection, owner_id: uuid.UUID, who: Scoped, field: str = "ownerId"
) -> list[UserError]:
    """An owner is an active user the acting user may see (people_visible: a rep gives
    leads to themselves, a manager around the team) who may own leads."""
    row = (
        await conn.execute(
            select(users.c.id, may_own_leads().label("eligible")).where(
                users.c.id == owner_id, users.c.active, people_visible(who, users.c.id)
            )
        )
    ).first()
    if row is None:
        return [UserError(field, "NOT_FOUND", "no active user with this id")]
    if not row.eligible:
        return [UserError(field, "INVALID", "this user's role cannot own leads")]
    return []


def region_key(region: str | None) -> str | None:
    if region is None:
        return None
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", region)).lower()
    return key or None


async def _advance(conn: AsyncConnection, rule_id: uuid.UUID) -> uuid.UUID | None:
    """The rule's next eligible member after its cursor (wrapping around), with the
    cursor moved to them; None (and nothing written) if its team has none."""
    r = lead_assignment_rules.c
    members = select(users.c.id).where(users.c.team_id == r.team_id, may_own_leads())
    after = members.where(users.c.id > r.last_user_id).order_by(users.c.id).limit(1)
    first = members.order_by(users.c.id).limit(1)
    following = func.coalesce(after.scalar_subquery(), first.scalar_subquery())
    return await conn.scalar(
        update(lead_assignment_rules)
        .where(r.id == rule_id, following.is_not(None))
        .values(last_user_id=following, assigned_count=r.assigned_count + 1)
        .returning(r.last_user_id)
    )


async def pick_owner(conn: AsyncConnection, region: str | None) -> uuid.UUID | None:
    """The owner the first matching rule gives a new lead of `region`, or None."""
    r = lead_assignment_rules.c
    rules = (await conn.execute(select(r.id, r.kind, r.region).order_by(r.position))).all()
    key = region_key(region)
    for rule in rules:
        if rule.kind == "region" and (key is None or region_key(rule.region) != key):
            continue
        owner = await _advance(conn, rule.id)
        if owner is not None:
            return owner
    return None


async def list_rules(conn: AsyncConnection) -> list[Row]:
    query = select(lead_assignment_rules).order_by(lead_assignment_rules.c.position)
    return list((await conn.execute(query)).all())


def _snapshot(rules: list[Any]) -> list[dict[str, Any]]:
    return [
        {"kind": r["kind"], "team_id": str(r["team_id"]), "region": r["region"],
         "position": r["position"]}
        for r in rules
    ]  # fmt: skip


async def _validated(conn: AsyncConnection, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(rules) > MAX_RULES:
        raise UserErrors([UserError("rules", "TOO_MANY", f"at most {MAX_RULES} rules")])
    errors: list[UserError] = []
    team_ids = {r["team_id"] for r in rules if r["team_id"] is not None}
    known = set()
    if team_ids:
        known = set(
            (await conn.execute(select(teams.c.id).where(teams.c.id.in_(team_ids)))).scalars()
        )
    positions: set[int] = set()
    out = []
    for index, rule in enumerate(rules):
        field = f"rules.{index}"
        kind, region = rule["kind"], clean(rule.get("region"))
        if kind not in RULE_KINDS:
            errors.append(UserError(f"{field}.kind", "INVALID", "kind is ROUND_ROBIN or REGION"))
        if rule["team_id"] is None or rule["team_id"] not in known:
            errors.append(UserError(f"{field}.teamId", "NOT_FOUND", "no such team"))
        if kind == "region":
            if error := check_required(f"{field}.region", region):
                errors.append(error)
        elif region is not None:
            errors.append(
                UserError(f"{field}.region", "INVALID", "only a REGION rule takes a region")
            )
        position = rule["position"]
        if position < 0:
            errors.append(UserError(f"{field}.position", "INVALID", "position is 0 or more"))
        elif position in positions:
            errors.append(UserError(f"{field}.position", "TAKEN", "positions must be unique"))
        positions.add(position)
        out.append({"kind": kind, "team_id": rule["team_id"], "region": region,
                    "position": position})  # fmt: skip
    if errors:
        raise UserErrors(errors)
    return sorted(out, key=lambda r: r["position"])


def _rule_key(rule: Any) -> tuple:
    return (rule["kind"], rule["team_id"], region_key(rule["region"]))


async def set_rules(
    conn: AsyncConnection, *, actor: Actor, rules: list[dict[str, Any]]
) -> list[Row]:
    """Replace the rule set with `rules`, renumbered 0, 1, 2... in position order. A
    rule that stays (same kind, team and region) is updated in place: it keeps its id
    and its round-robin cursor, so members keep their turns."""
    wanted = await _validated(conn, rules)
    for position, rule in enumerate(wanted):
        rule["position"] = position
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(literal(RULES_LOCK)))))
    current = await list_rules(conn)
    before = _snapshot([r._mapping for r in current])
    if before == _snapshot(wanted):
        return current
    r = lead_assignment_rules
    kept = {_rule_key(row._mapping): row for row in current}
    # Through positions no rule uses, so the unique index never sees a transient clash.
    await conn.execute(update(r).values(position=r.c.position + SHIFT))
    for rule in wanted:
        old = kept.pop(_rule_key(rule), None)
        if old is None:
            await conn.execute(insert(r).values(id=new_id(), created_by=actor.id, **rule))
        else:
            await conn.execute(
                update(r).where(r.c.id == old.id)
                .values(position=rule["position"], region=rule["region"],
                        version=r.c.version + 1, updated_at=func.now())
            )  # fmt: skip
    if kept:
        await conn.execute(delete(r).where(r.c.id.in_([row.id for row in kept.values()])))
    await record(
        conn, actor=actor, action="lead_assignment_rules.set",
        entity_type="lead_assignment_rules", entity_id=None,
        changes={"rules": {"from": before, "to": _snapshot(wanted)}},
    )  # fmt: skip
    return await list_rules(conn)
