"""Evaluating the tier rules of one tenant in SQL (on demand, and daily per tenant).

Per tenant, in one transaction and a fixed number of statements whatever the number
of customers: the live enabled rules are read (locked, so evaluations and rule
changes take turns), then ONE statement

1. aggregates each customer's metrics over its live opportunities (only the sums the
   rules need: won amount per currency and window, won count per window, open
   pipeline per currency; FILTERed aggregates in one pass),
2. picks for each live customer the first rule, by priority, whose conditions all
   hold (a CASE in priority order),
3. locks the customers whose tier that changes (skipping rows someone holds locked
   right now: the next run gets them), updates exactly those (tier, version,
   updated_at),
4. inserts a `customer_tier_changes` row and an audit record (`customer.tier_change`)
   per changed customer,

and returns how many customers were evaluated and how many changed. A customer no
enabled rule matches KEEPS its tier (whether set by hand or by an earlier rule): rules
only ever assign a tier, they never clear one; a catch-all rule with no conditions at
the lowest priority gives everyone a tier. Deleted customers are not evaluated.

Windows ("the last N days") end at the transaction's now(); the daily job works from
the database state only, so a run after the worker was down catches up, and running
twice changes nothing the second time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Uuid,
    and_,
    case,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import SYSTEM, Actor
from app.audit.tables import audit_log
from app.customers.tables import customers
from app.pipeline.tables import opportunities
from app.tiers.conditions import Conditions
from app.tiers.tables import customer_tier_changes, tier_rules

AUDIT_ACTION = "customer.tier_change"


@dataclass(frozen=True)
class Outcome:
    evaluated: int
    changed: int


def _since(days: int) -> ColumnElement:
    return func.now() - func.make_interval(0, 0, 0, days)


class _Metrics:
    """The per-customer aggregates the rules need, each computed once."""

    def __init__(self) -> None:
        self.columns: dict[tuple, ColumnElement] = {}
        self.windows: set[int] = set()
        self.open = False

    def _name(self, key: tuple) -> str:
        if key not in self.columns:
            self.columns[key] = self._aggregate(key).label(f"m{len(self.columns)}")
        return self.columns[key].name

    def _aggregate(self, key: tuple) -> ColumnElement:
        o = opportunities.c
        kind = key[0]
        if kind == "won_amount":
            _, currency, days = key
            self.windows.add(days)
            return func.sum(o.amount).filter(
                o.status == "won", o.currency == currency, o.closed_at >= _since(days)
            )
        if kind == "won_count":
            self.windows.add(key[1])
            return func.count().filter(o.status == "won", o.closed_at >= _since(key[1]))
        self.open = True
        return func.sum(o.amount).filter(o.status == "open", o.currency == key[1])

    def won_amount(self, currency: str, days: int) -> str:
        return self._name(("won_amount", currency, days))

    def won_count(self, days: int) -> str:
        return self._name(("won_count", days))

    def open_amount(self, currency: str) -> str:
        return self._name(("open_amount", currency))

    def subquery(self):
        """Per customer with any relevant opportunity: every metric (NULL = none)."""
        o = opportunities.c
        relevant = []
        if self.windows:
            relevant.append(and_(o.status == "won", o.closed_at >= _since(max(self.windows))))
        if self.open:
            relevant.append(o.status == "open")
        return (
            select(o.customer_id, *self.columns.values())
            .where(o.deleted_at.is_(None), or_(*relevant))
            .group_by(o.customer_id)
            .subquery("metrics")
        )


def _plan(rules: list) -> tuple[list[tuple[uuid.UUID, list]], _Metrics]:
    """Each rule's tests as (metric name or None, how to test it), and the metrics."""
    metrics = _Metrics()
    plans = []
    for rule in rules:
        cond = Conditions.from_json(rule.conditions)
        tests: list[tuple[str, object]] = []
        if cond.won_amount_gte is not None:
            name = metrics.won_amount(cond.won_amount_currency, cond.period_days)
            tests.append((name, cond.won_amount_gte))
        if cond.won_count_gte is not None:
            tests.append((metrics.won_count(cond.period_days), cond.won_count_gte))
        if cond.open_pipeline_gte is not None:
            name = metrics.open_amount(cond.won_amount_currency)
            tests.append((name, cond.open_pipeline_gte))
        if cond.category_in is not None:
            tests.append(("category", list(cond.category_in)))
        plans.append((rule.id, tests))
    return plans, metrics


def evaluation_statement(rules: list, actor: Actor):
    """The one statement of an evaluation (see the module's docstring); `rules` in
    priority order, at least one."""
    c = customers.c
    plans, metrics = _plan(rules)
    source = customers
    agg = None
    if metrics.columns:
        agg = metrics.subquery()
        source = customers.outerjoin(agg, agg.c.customer_id == c.id)

    def holds(tests: list) -> ColumnElement[bool]:
        parts = []
        for name, bound in tests:
            if name == "category":
                parts.append(c.category.in_(bound))
            else:
                parts.append(func.coalesce(agg.c[name], 0) >= bound)
        return and_(true(), *parts)

    first_match = case(
        *[(holds(tests), literal(rule_id, Uuid)) for rule_id, tests in plans], else_=null()
    )
    decided = (
        select(c.id, first_match.label("rule_id"))
        .select_from(source)
        .where(c.deleted_at.is_(None))
        .cte("decided")
    )
    # The customers whose tier changes, locked (as they are now, still live).
    x = customers.alias("x")
    r = tier_rules
    target = (
        select(x.c.id, x.c.tier.label("from_tier"), r.c.tier.label("to_tier"),
               r.c.id.label("rule_id"))
        .join(decided, decided.c.id == x.c.id)
        .join(r, r.c.id == decided.c.rule_id)
        .where(x.c.deleted_at.is_(None), x.c.tier.is_distinct_from(r.c.tier))
        .with_for_update(of=x, skip_locked=True)
        .cte("target")
    )  # fmt: skip
    changed = (
        update(customers)
        .where(c.id == target.c.id)
        .values(tier=target.c.to_tier, version=c.version + 1, updated_at=func.now())
        .returning(c.id, target.c.from_tier, target.c.to_tier, target.c.rule_id)
        .cte("changed")
    )
    actor_id = literal(actor.id, Uuid)
    history = (
        insert(customer_tier_changes)
        .from_select(
            ["customer_id", "from_tier", "to_tier", "rule_id", "changed_by"],
            select(
                changed.c.id, changed.c.from_tier, changed.c.to_tier, changed.c.rule_id, actor_id
            ),
        )
        .cte("history")
    )
    changes = func.jsonb_build_object(
        literal_column("'tier'"),
        func.jsonb_build_object(literal_column("'from'"), changed.c.from_tier,
                                literal_column("'to'"), changed.c.to_tier),
        literal_column("'rule_id'"),
        func.jsonb_build_object(literal_column("'from'"), null(),
                                literal_column("'to'"), changed.c.rule_id),
    )  # fmt: skip
    audited = insert(audit_log).from_select(
        ["actor_id", "actor_kind", "action", "entity_type", "entity_id", "changes"],
        select(actor_id, literal(actor.kind), literal(AUDIT_ACTION), literal("customer"),
               changed.c.id, changes),
    ).cte("audited")  # fmt: skip
    return select(
        select(func.count()).select_from(decided).scalar_subquery().label("evaluated"),
        select(func.count()).select_from(changed).scalar_subquery().label("changed"),
    ).add_cte(history, audited)


async def evaluate_tiers(conn: AsyncConnection, *, actor: Actor = SYSTEM) -> Outcome:
    """One tenant, in the caller's transaction: two statements."""
    # Locked: evaluations (and rule changes, which lock them too) take turns.
    rules = [
        r
        for r in await conn.execute(
            select(tier_rules.c.id, tier_rules.c.conditions, tier_rules.c.enabled)
            .where(tier_rules.c.deleted_at.is_(None))
            .order_by(tier_rules.c.priority, tier_rules.c.id)
            .with_for_update()
        )
        if r.enabled
    ]
    if not rules:
        evaluated = await conn.scalar(
            select(func.count()).select_from(customers).where(customers.c.deleted_at.is_(None))
        )
        return Outcome(evaluated or 0, 0)
    row = (await conn.execute(evaluation_statement(rules, actor))).one()
    return Outcome(row.evaluated, row.changed)


async def evaluate_tenant(conn: AsyncConnection) -> int:
    """The daily rule for one tenant (workers/scheduled.py): how many changed tier."""
    return (await evaluate_tiers(conn)).changed
