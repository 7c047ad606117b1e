"""Reorder rules (库存预警): a minimum and a maximum per product x warehouse, and the
low-stock alerts.

- Low means available (on hand - reserved - expired) strictly below the minimum: a minimum of 0
  never alerts, set 1 to hear about running out. For lowStock (and stockLevels'
  belowMin, the alerts and suggestedPurchases) stock in batches expired as of the
  tenant's today is not available: it never counts toward the minimum, since it has to
  be written off and replaced (`queries.available_in_level` / `queries.below_min`, one
  definition for all of them). The stored `below_min` flag cannot know the day, so it
  counts expired stock: it only narrows the candidates. The shortfall reported is what
  it takes to get back to the maximum (max - available).
- The rule's minimum is also kept on its stock level (`stock_levels.min_quantity`,
  written in the same transaction as the rule), so "low" is a stored flag
  (`below_min`) with a partial index: lowStock and the job read only the rows low by
  it, plus the levels holding expired batches (from the batches' expiry index).
- Alerts (`produce_alerts`, every 10 minutes by the worker): a rule that is low and
  has no open episode starts one (`low_since` = now) and its alert goes, in the same
  statement, to every active user whose role grants warehouses:manage or stock:write
  and who may see the rule's warehouse (data scope "assigned": only their distributor's
  consignment warehouses, as app/stock/queries.visible_warehouses); a rule whose stock
  is back at or above its minimum ends its episode. The job runs for one tenant, so it
  judges expiry by that tenant's day, as lowStock does. So one alert
  per rule per episode however often the job runs; it works from the database state,
  so a run after the worker was down catches up; the notification's unique key
  (user, kind, rule, episode start) makes even concurrent runs harmless. People who
  gain the permission during an episode are alerted at the next one.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from sqlalchemy import Row, Select, and_, case, cast, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import Text

from app.activities.tables import notifications
from app.api.ids import parse_uuid
from app.audit.service import Actor, record
from app.auth.permissions import BUILTIN_ROLES
from app.auth.principal import Scoped
from app.auth.tables import roles
from app.catalog.tables import products
from app.errors import UserError, UserErrors, fail
from app.records import apply_change, insert_once, lock_for_change
from app.stock import ledger
from app.stock.queries import (
    available_in_level,
    below_min,
    expired_in_level,
    in_visible_warehouse,
    warehouse_visible_to,
)
from app.stock.rules import check_min_max, quantity
from app.stock.tables import reorder_rules, stock_levels, warehouses
from app.users.tables import users

logger = logging.getLogger("kehu.stock")

ALERTED = ("warehouses:manage", "stock:write")


async def lock_rule(
    conn: AsyncConnection, who: Scoped, rule_id: uuid.UUID, version: int | None
) -> Row:
    """The rule, if `who` may see its warehouse (else NOT_FOUND, as for no rule)."""
    return await lock_for_change(
        conn, reorder_rules, rule_id, entity="reorder rule", version=version,
        visible=in_visible_warehouse(who, reorder_rules.c.warehouse_id),
    )  # fmt: skip


async def _set_level_minimum(
    conn: AsyncConnection, product_id: uuid.UUID, warehouse_id: uuid.UUID, minimum: Any
) -> None:
    s = stock_levels.c
    await conn.execute(
        update(stock_levels)
        .where(s.product_id == product_id, s.warehouse_id == warehouse_id)
        .values(min_quantity=minimum)
    )


async def set_rule(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, rule_id: Any, product_id: Any,
    warehouse_id: Any, min_quantity: Any, max_quantity: Any, version: int | None = None,
) -> Row:  # fmt: skip
    """Create or change the rule of a product in a warehouse (one per pair). `rule_id`
    is a client-supplied id for a new rule. A warehouse outside `who`'s data scope is
    NOT_FOUND, as one that does not exist (`ledger.load_warehouses`)."""
    errors = check_min_max(min_quantity, max_quantity)
    pid = parse_uuid(product_id) if product_id is not None else None
    wid = parse_uuid(warehouse_id) if warehouse_id is not None else None
    new_rule_id = None
    if rule_id is not None and (new_rule_id := parse_uuid(rule_id)) is None:
        errors.append(UserError("id", "INVALID", "an id is a UUID"))
    if pid is None or not await ledger.load_products(conn, [pid]):
        errors.append(UserError("productId", "NOT_FOUND", "no such product"))
    if wid is None or not await ledger.load_warehouses(conn, [wid], who):
        errors.append(UserError("warehouseId", "NOT_FOUND", "no such warehouse"))
    if errors:
        raise UserErrors(errors)
    values = {"min_quantity": quantity(min_quantity), "max_quantity": quantity(max_quantity)}
    # The level row the rule hangs on (zero stock if there is none yet); a rule's
    # row is locked before its level, and stock writers never lock rules.
    await conn.execute(
        insert(stock_levels)
        .values(product_id=pid, warehouse_id=wid)
        .on_conflict_do_nothing(index_elements=["product_id", "warehouse_id"])
    )
    r = reorder_rules.c
    current = (
        await conn.execute(
            select(reorder_rules)
            .where(r.product_id == pid, r.warehouse_id == wid)
            .with_for_update()
        )
    ).first()
    if current is None:
        row, _ = await insert_once(
            conn, reorder_rules, actor=actor, entity="reorder_rule", row_id=new_rule_id,
            values={"product_id": pid, "warehouse_id": wid, **values},
        )  # fmt: skip
    else:
        if new_rule_id is not None and new_rule_id != current.id:
            raise fail("id", "CONFLICT",
                       f"this product already has a rule in this warehouse ({current.id})")  # fmt: skip
        if version is not None and version != current.version:
            raise fail("version", "CONFLICT",
                       f"this rule was changed by someone else (it is now at version "
                       f"{current.version}); reload it and try again")  # fmt: skip
        row = await apply_change(
            conn, reorder_rules, current, actor=actor, entity="reorder_rule", action="update",
            values=values,
        )  # fmt: skip
    await _set_level_minimum(conn, pid, wid, values["min_quantity"])
    return row


async def remove_rule(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, rule_id: uuid.UUID, version: int | None
) -> Row:
    """Delete a rule (its alerts stay in people's inboxes); one in a warehouse outside
    `who`'s data scope is NOT_FOUND, as a rule that does not exist."""
    current = await lock_rule(conn, who, rule_id, version)
    await conn.execute(reorder_rules.delete().where(reorder_rules.c.id == rule_id))
    await _set_level_minimum(conn, current.product_id, current.warehouse_id, None)
    await record(
        conn, actor=actor, action="reorder_rule.delete", entity_type="reorder_rule",
        entity_id=rule_id,
        changes={"min_quantity": {"from": str(current.min_quantity), "to": None},
                 "max_quantity": {"from": str(current.max_quantity), "to": None}},
    )  # fmt: skip
    return current


def low_stock_query(today: dt.date, warehouse_id: uuid.UUID | None = None) -> Select:
    """Rules whose level is below the minimum as of the tenant's `today` (expired
    batches do not count toward it), with the level's figures: the low levels
    (`queries.below_min`), then the rule by its unique key."""
    s, r = stock_levels.c, reorder_rules.c
    expired = expired_in_level(today)
    available = available_in_level(today)
    query = (
        select(
            reorder_rules,
            s.on_hand,
            s.reserved,
            expired.label("expired"),
            available.label("available"),
            (r.max_quantity - available).label("to_max"),
            (r.min_quantity - available).label("shortfall"),
        )
        .join_from(
            stock_levels,
            reorder_rules,
            and_(r.product_id == s.product_id, r.warehouse_id == s.warehouse_id),
        )
        .where(below_min(today))
    )
    if warehouse_id is not None:
        query = query.where(s.warehouse_id == warehouse_id)
    return query


def _granting_roles() -> list[str]:
    return sorted(name for name, role in BUILTIN_ROLES.items() if role.permissions & set(ALERTED))


def recipients() -> Select:
    """Active users whose role (built-in or the tenant's own) grants an alerted
    permission, with their role's data scope and their distributor: an alert goes only
    to those who may see its warehouse (`warehouse_visible_to`)."""
    u, r = users.c, roles.c
    builtin_scope = case(
        {name: role.data_scope for name, role in BUILTIN_ROLES.items()}, value=u.role
    )
    return (
        select(u.id, func.coalesce(builtin_scope, r.data_scope).label("data_scope"),
               u.distributor_id)
        .select_from(users.outerjoin(roles, r.name == u.role))
        .where(
            u.active.is_(True),
            or_(u.role.in_(_granting_roles()),
                r.permissions.op("&&")(cast(list(ALERTED), ARRAY(Text)))),
        )
    )  # fmt: skip


def _text(value: Any) -> Any:
    return func.trim_scale(value).cast(Text)


async def produce_alerts(conn: AsyncConnection, today: dt.date) -> dict[str, int]:
    """One tenant: end the episodes of recovered rules, start those of low ones and
    alert for them, low as lowStock means it on the tenant's `today`. Rows locked by
    someone else right now are skipped (the next run sees them). Returns counts:
    recovered, started, notified."""
    r, s = reorder_rules.c, stock_levels.c
    level = and_(s.product_id == r.product_id, s.warehouse_id == r.warehouse_id)
    recovering = (
        select(r.id)
        .join_from(reorder_rules, stock_levels, level)
        .where(r.low_since.is_not(None), below_min(today).is_not(True))
        .order_by(r.id)
        .with_for_update(of=reorder_rules, skip_locked=True)
    )
    recovered = (
        await conn.execute(
            update(reorder_rules)
            .where(r.id.in_(recovering.scalar_subquery()))
            .values(low_since=None)
            .returning(r.id)
        )
    ).all()
    starting = (
        select(r.id)
        .join_from(stock_levels, reorder_rules, level)
        .where(below_min(today), r.low_since.is_(None))
        .order_by(r.id)
        .with_for_update(of=reorder_rules, skip_locked=True)
    )
    started = (
        update(reorder_rules)
        .where(r.id.in_(starting.scalar_subquery()))
        .values(low_since=func.now())
        .returning(
            r.id, r.product_id, r.warehouse_id, r.min_quantity, r.max_quantity, r.low_since
        )  # fmt: skip
        .cte("started")
    )
    p, w = products.c, warehouses.c
    people = recipients().subquery("people")
    st = started.c
    available = available_in_level(today)
    source = (
        select(
            people.c.id,
            literal("low_stock"),
            literal("Low stock: ") + p.code + literal(" ") + p.name + literal(" in ") + w.code,
            literal("Available ") + _text(available) + literal(", minimum ")
            + _text(st.min_quantity) + literal("; ") + _text(st.max_quantity - available)
            + literal(" more brings it to the maximum of ") + _text(st.max_quantity) + literal("."),
            literal("reorder_rule"),
            st.id,
            st.low_since,
        )
        .select_from(started)
        .join(stock_levels, and_(s.product_id == st.product_id, s.warehouse_id == st.warehouse_id))
        .join(products, p.id == st.product_id)
        .join(warehouses, w.id == st.warehouse_id)
        .join(people, warehouse_visible_to(people.c.data_scope, people.c.distributor_id))
    )  # fmt: skip
    notified = (
        await conn.execute(
            select(
                select(func.count()).select_from(started).scalar_subquery().label("started"),
                select(func.count())
                .select_from(
                    insert(notifications)
                    .from_select(
                        [
                            "user_id",
                            "kind",
                            "title",
                            "body",
                            "subject_type",
                            "subject_id",
                            "due_at",
                        ],
                        source,
                    )  # fmt: skip
                    .on_conflict_do_nothing(constraint="uq_notifications_reminder")
                    .returning(notifications.c.id)
                    .cte("alerted")
                )
                .scalar_subquery()
                .label("notified"),
            )
        )
    ).one()
    return {"recovered": len(recovered), "started": notified.started,
            "notified": notified.notified}  # fmt: skip


async def levels_for_rules(
    conn: AsyncConnection, rules: list[Row]
) -> dict[tuple[uuid.UUID, uuid.UUID], Row]:
    keys = [(x.product_id, x.warehouse_id) for x in rules]
    if not keys:
        return {}
    rows = await conn.execute(select(stock_levels).where(ledger.level_condition(keys)))
    return {(x.product_id, x.warehouse_id): x for x in rows}
