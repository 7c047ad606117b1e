"""Tier rules over GraphQL: `tierRules`, `customerTierChanges`, and the mutations
`setTierRules` (the whole rule set at once) and `evaluateTiers` (run the rules now;
the worker also runs them daily)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import Any

import strawberry
from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.context import Info
from app.api.errors import UserErrorType, run_mutation
from app.api.ids import parse_uuid
from app.api.pagination import Connection, SortKey, page_of
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.audit.service import record
from app.auth.principal import Scoped
from app.customers.queries import visible_customers
from app.customers.tables import customers
from app.customers.types import CustomerCategory, CustomerTier
from app.tiers import evaluate, service
from app.tiers.conditions import API_NAMES, Conditions
from app.tiers.tables import customer_tier_changes
from app.users.graphql import User
from app.users.queries import users_by_id

MANAGE = "tiers:manage"


@strawberry.type(
    description="What a customer must meet for a tier rule to apply; all given tests must "
    "hold. Deals in other currencies than wonAmountCurrency are ignored, never converted."
)
class TierConditions:
    won_amount_gte: Decimal | None = strawberry.field(
        description="Won opportunities' amount (in wonAmountCurrency) closed in the last "
        "periodDays days is at least this."
    )
    won_amount_currency: str | None = strawberry.field(
        description="ISO 4217 code of both amount tests (default CNY)."
    )
    period_days: int | None = strawberry.field(
        description="The window of the won tests, in days up to now (default 365)."
    )
    won_count_gte: int | None = strawberry.field(
        description="At least this many opportunities won in the window (any currency)."
    )
    open_pipeline_gte: Decimal | None = strawberry.field(
        description="Open opportunities' amount in wonAmountCurrency is at least this."
    )
    category_in: list[CustomerCategory] | None = strawberry.field(
        description="The customer's category is one of these."
    )

    @classmethod
    def from_json(cls, data: dict) -> TierConditions:
        c = Conditions.from_json(data)
        return cls(
            won_amount_gte=c.won_amount_gte,
            won_amount_currency=c.won_amount_currency,
            period_days=c.period_days,
            won_count_gte=c.won_count_gte,
            open_pipeline_gte=c.open_pipeline_gte,
            category_in=[CustomerCategory(v) for v in c.category_in] if c.category_in else None,
        )


@strawberry.type(description="A rule marking customers' tier automatically (AB客户自动标识).")
class TierRule:
    id: strawberry.ID
    tier: CustomerTier
    priority: int | None = strawberry.field(
        description="Evaluation order: lowest first; the first matching rule decides. "
        "null for a removed rule."
    )
    enabled: bool
    conditions: TierConditions
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = strawberry.field(
        description="Set on rules removed from the set (history may still name them)."
    )

    @classmethod
    def from_row(cls, row: Row) -> TierRule:
        return cls(
            id=strawberry.ID(str(row.id)),
            tier=CustomerTier(row.tier),
            priority=row.priority,
            enabled=row.enabled,
            conditions=TierConditions.from_json(row.conditions),
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            deleted_at=row.deleted_at,
        )


@strawberry.input(description="Tests of a tier rule, all optional; none at all matches everyone.")
class TierConditionsInput:
    won_amount_gte: Decimal | None = None
    won_amount_currency: str | None = strawberry.field(default=None, description="Default CNY.")
    period_days: int | None = strawberry.field(
        default=None, description="1 to 3660; default 365. Only with wonAmountGte or wonCountGte."
    )
    won_count_gte: int | None = None
    open_pipeline_gte: Decimal | None = None
    category_in: list[CustomerCategory] | None = None


@strawberry.input
class TierRuleInput:
    id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A live rule's id keeps and changes that rule; a new id (or none) creates one.",
    )
    version: int | None = strawberry.field(
        default=None, description="The version you loaded; a stale one conflicts."
    )
    tier: CustomerTier
    priority: int = strawberry.field(description="0 or more, unique: lowest runs first.")
    enabled: bool = True
    conditions: TierConditionsInput


@strawberry.input
class SetTierRulesInput:
    rules: list[TierRuleInput] = strawberry.field(
        description="The whole rule set (at most 50): live rules not listed are removed."
    )


@strawberry.type
class SetTierRulesPayload:
    rules: list[TierRule] = strawberry.field(
        default_factory=list, description="The live rules, in evaluation order."
    )
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class EvaluateTiersPayload:
    evaluated: int = strawberry.field(default=0, description="Live customers evaluated.")
    changed: int = strawberry.field(default=0, description="Customers whose tier changed.")
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type(description="A tier set by the rules (customers matching no rule keep theirs).")
class CustomerTierChange:
    id: strawberry.ID
    customer_id: strawberry.ID
    from_tier: CustomerTier | None
    to_tier: CustomerTier
    rule_id: strawberry.ID
    changed_by_id: strawberry.ID | None = strawberry.field(
        description="Who ran evaluateTiers; null for the daily job."
    )
    evaluated_at: dt.datetime
    rule: TierRule | None = strawberry.field(default=None, description="The rule as it is now.")
    changed_by: User | None = None

    @classmethod
    def from_row(cls, row: Row) -> CustomerTierChange:
        return cls(
            id=strawberry.ID(str(row.id)),
            customer_id=strawberry.ID(str(row.customer_id)),
            from_tier=CustomerTier(row.from_tier) if row.from_tier else None,
            to_tier=CustomerTier(row.to_tier),
            rule_id=strawberry.ID(str(row.rule_id)),
            changed_by_id=strawberry.ID(str(row.changed_by)) if row.changed_by else None,
            evaluated_at=row.evaluated_at,
        )


async def build_tier_changes(
    conn: AsyncConnection, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[CustomerTierChange]:
    """Changes with their rule and person, when selected: one statement each."""
    nodes = [CustomerTierChange.from_row(r) for r in rows]
    if rows and f"{prefix}rule" in selected:
        rules = await service.rules_by_id(conn, [r.rule_id for r in rows])
        for node, row in zip(nodes, rows, strict=True):
            node.rule = TierRule.from_row(rules[row.rule_id]) if row.rule_id in rules else None
    if rows and f"{prefix}changedBy" in selected:
        people = await users_by_id(conn, [r.changed_by for r in rows])
        for node, row in zip(nodes, rows, strict=True):
            person = people.get(row.changed_by)
            node.changed_by = User.from_row(person) if person else None
    return nodes


def history_query(who: Scoped, customer_id) -> Select:
    """A customer's tier changes, only if the customer (deleted ones included) is
    visible: otherwise none, as for a customer that does not exist."""
    h = customer_tier_changes.c
    visible = select(customers.c.id).where(customers.c.id == customer_id, visible_customers(who))
    return select(customer_tier_changes).where(
        h.customer_id == customer_id, h.customer_id.in_(visible)
    )


def _conditions(input: TierConditionsInput) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in API_NAMES:
        value = getattr(input, key)
        if value is None:
            continue
        if key == "category_in":
            value = [v.value for v in value]
        out[key] = value
    return out


@strawberry.type
class TierQueries:
    @strawberry.field(
        extensions=requires("customers:read"),
        description="The tenant's tier rules, in evaluation order.",
    )
    async def tier_rules(self, info: Info) -> list[TierRule]:
        async with info.context.db.read() as conn:
            rows = await service.list_rules(conn)
        return [TierRule.from_row(r) for r in rows]

    @strawberry.field(
        extensions=requires("customers:read"),
        description="The tiers the rules gave a customer, newest first. Empty for a "
        "customer you may not see.",
    )
    async def customer_tier_changes(
        self,
        info: Info,
        customer_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CustomerTierChange]:
        query = history_query(info.context.principal, parse_uuid(customer_id))
        h = customer_tier_changes.c
        keys = [SortKey(h.evaluated_at, True), SortKey(h.id, True)]
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            return await page_of(
                conn, query, keys, selected, partial(build_tier_changes, conn),
                first=first, after=after, last=last, before=before,
            )  # fmt: skip


@strawberry.type
class TierMutations:
    @strawberry.mutation(
        extensions=requires(MANAGE),
        description="Replace the tier rules: listed rules are created or changed, live "
        "rules not listed are removed. userErrors name the rule, e.g. "
        "rules[2].conditions.wonAmountGte; nothing is written when there are any.",
    )
    async def set_tier_rules(self, info: Info, input: SetTierRulesInput) -> SetTierRulesPayload:
        rules = [
            service.RuleInput(
                id=r.id, version=r.version, tier=r.tier.value, priority=r.priority,
                enabled=r.enabled, conditions=_conditions(r.conditions),
            )
            for r in input.rules
        ]  # fmt: skip

        async def write(conn) -> dict:
            rows = await service.set_rules(conn, actor=info.context.actor, rules=rules)
            return {"rules": [TierRule.from_row(r) for r in rows]}

        return await run_mutation(info, SetTierRulesPayload, write)

    @strawberry.mutation(
        extensions=requires(MANAGE),
        description="Run the enabled tier rules over every live customer now (the worker "
        "also does daily). Customers matching no rule keep their tier.",
    )
    async def evaluate_tiers(self, info: Info) -> EvaluateTiersPayload:
        actor = info.context.actor

        async def write(conn) -> dict:
            outcome = await evaluate.evaluate_tiers(conn, actor=actor)
            await record(
                conn, actor=actor, action="tier_rules.evaluate", entity_type="tier_rules",
                entity_id=None, changes={"evaluated": {"from": None, "to": outcome.evaluated},
                                         "changed": {"from": None, "to": outcome.changed}},
            )  # fmt: skip
            return {"evaluated": outcome.evaluated, "changed": outcome.changed}

        return await run_mutation(info, EvaluateTiersPayload, write)
