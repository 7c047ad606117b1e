"""Writing the tenant's tier rules: `set_rules` replaces the whole set in the caller's
transaction (listed rules are created or changed, the others removed), each change
audited, and raises UserErrors naming the rule (`rules[2].priority`) for anything
the user can fix; nothing is written then."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.ids import parse_uuid
from app.audit.service import Actor
from app.customers.tables import TIERS
from app.errors import UserError, UserErrors, fail
from app.records import apply_change, insert_once
from app.tiers.conditions import parse
from app.tiers.tables import tier_rules

MAX_RULES = 50
MAX_PRIORITY = 1_000_000


@dataclass(frozen=True)
class RuleInput:
    """One rule as a client sent it: `id` raw (None for a new rule), `conditions`
    with the stored (snake_case) keys."""

    tier: str
    priority: int
    conditions: dict[str, Any]
    enabled: bool = True
    id: Any = None
    version: int | None = None


def live_rules_query():
    return (
        select(tier_rules)
        .where(tier_rules.c.deleted_at.is_(None))
        .order_by(tier_rules.c.priority, tier_rules.c.id)
    )


async def list_rules(conn: AsyncConnection) -> list[Row]:
    """Live rules in evaluation order."""
    return list((await conn.execute(live_rules_query())).all())


async def rules_by_id(conn: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, Row]:
    """Rules by id, removed ones included (history names them)."""
    ids = list(dict.fromkeys(i for i in ids if i is not None))
    if not ids:
        return {}
    rows = await conn.execute(select(tier_rules).where(tier_rules.c.id.in_(ids)))
    return {row.id: row for row in rows}


async def set_rules(conn: AsyncConnection, *, actor: Actor, rules: list[RuleInput]) -> list[Row]:
    """Make the live rules exactly `rules`; the live rules afterwards, in order."""
    if len(rules) > MAX_RULES:
        raise fail("rules", "TOO_MANY", f"at most {MAX_RULES} tier rules")
    # Locks every live rule: concurrent rule sets (and evaluations, which lock them
    # too) take turns.
    current = {r.id: r for r in (await conn.execute(live_rules_query().with_for_update())).all()}
    errors: list[UserError] = []
    ids: list[uuid.UUID | None] = []
    for i, rule in enumerate(rules):
        rule_id = None
        if rule.id is not None:
            rule_id = parse_uuid(rule.id)
            if rule_id is None:
                errors.append(UserError(f"rules[{i}].id", "NOT_FOUND", "no such tier rule"))
        ids.append(rule_id)
    removed = set(await rules_by_id(conn, [i for i in ids if i and i not in current]))

    values: list[dict[str, Any]] = []
    seen_ids: set[uuid.UUID] = set()
    seen_priorities: set[int] = set()
    for i, (rule, rule_id) in enumerate(zip(rules, ids, strict=True)):
        field = f"rules[{i}]"
        if rule_id is not None:
            if rule_id in seen_ids:
                errors.append(UserError(f"{field}.id", "DUPLICATE", "this rule is listed twice"))
            seen_ids.add(rule_id)
            if rule_id in removed:
                errors.append(UserError(f"{field}.id", "NOT_FOUND",
                                        "this tier rule was removed; send it without an id"))  # fmt: skip
            elif rule_id in current and rule.version is not None:
                if rule.version != current[rule_id].version:
                    errors.append(UserError(
                        f"{field}.version", "CONFLICT",
                        f"this rule was changed by someone else (it is now at version "
                        f"{current[rule_id].version}); reload the rules and try again",
                    ))  # fmt: skip
        if rule.tier not in TIERS:
            errors.append(
                UserError(f"{field}.tier", "INVALID", f"tier must be one of {', '.join(TIERS)}")
            )
        if not 0 <= rule.priority <= MAX_PRIORITY:
            errors.append(UserError(f"{field}.priority", "INVALID",
                                    f"priority must be from 0 to {MAX_PRIORITY}"))  # fmt: skip
        elif rule.priority in seen_priorities:
            errors.append(UserError(f"{field}.priority", "DUPLICATE",
                                    "another rule has this priority: priorities decide the order"))  # fmt: skip
        seen_priorities.add(rule.priority)
        conditions, problems = parse(rule.conditions, f"{field}.conditions")
        errors.extend(problems)
        values.append({
            "tier": rule.tier, "priority": rule.priority, "enabled": bool(rule.enabled),
            "conditions": conditions.to_json() if conditions else {},
        })  # fmt: skip
    if errors:
        raise UserErrors(errors)

    now = dt.datetime.now(dt.UTC)
    for rule_id, row in current.items():
        if rule_id not in seen_ids:
            await apply_change(
                conn, tier_rules, row, actor=actor, entity="tier_rule", action="delete",
                values={"deleted_at": now, "priority": None},
            )  # fmt: skip
    for rule_id, value in zip(ids, values, strict=True):
        if rule_id in current:
            await apply_change(
                conn, tier_rules, current[rule_id], actor=actor, entity="tier_rule",
                action="update", values=value,
            )  # fmt: skip
        else:
            await insert_once(
                conn, tier_rules, actor=actor, entity="tier_rule", row_id=rule_id, values=value
            )
    return await list_rules(conn)
