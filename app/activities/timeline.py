"""A customer's history in one feed, newest first: activities, tasks (when created,
and when completed), appointments (when they start), changes of the customer's owner
from the audit log, and sales orders (when created, for those holding orders:read).
One UNION ALL statement with ORDER BY and LIMIT in SQL.

The feed is ordered by (at, kind, key) descending, where `key` is the record's id as
text (audit ids zero-padded, so text order is number order); `after` is such a
triple. Each branch takes only its rows strictly after the cursor, in its own index
order, LIMIT n + 1; the outer statement merges those few rows. Items that arrive
later sort before the cursor (or after it, if back-dated), so a next page never
repeats or skips what existed when the cursor was made.

Scope: the caller checks the customer is visible first; tasks and appointments keep
their own scope inside the feed (a rep does not see a colleague's tasks on a shared
customer), activities and audit entries go with the customer. Activities and tasks on
the customer's opportunities (and on leads converted into it) carry its customer_id,
so they are in its feed.

Sales orders: one item per order, at its `created_at` (never changes), carrying the
order as it is now (status, total); its confirmation, closing or cancellation is read
on the item, not a second entry. `orders=True` only for a reader holding orders:read
(the caller decides); an order's scope is its customer's, already checked.

`timelines_statement` is the same feed for many customers at once (`Customer.timeline`
in a list): the customers unnested, each one's feed a LATERAL subquery.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    Text,
    Uuid,
    cast,
    func,
    literal_column,
    null,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB

from app.activities.queries import visible_appointments, visible_tasks
from app.activities.tables import activities, appointments, tasks
from app.api.pagination import unnest_ids
from app.audit.tables import audit_log
from app.auth.principal import Scoped
from app.customers.queries import live
from app.orders.tables import sales_orders

ACTIVITY = "activity"
APPOINTMENT = "appointment"
ORDER_CREATED = "order_created"
OWNER_CHANGED = "owner_changed"
TASK_COMPLETED = "task_completed"
TASK_CREATED = "task_created"
KINDS = (ACTIVITY, APPOINTMENT, ORDER_CREATED, OWNER_CHANGED, TASK_COMPLETED, TASK_CREATED)
AUDIT_KEY_DIGITS = 20


@dataclass(frozen=True)
class Branch:
    kind: str
    at: Column
    id: Column
    conditions: list[ColumnElement[bool]]
    parse: Callable[[str], Any] = uuid.UUID
    audit: bool = False
    key: ColumnElement[str] = field(init=False)

    def __post_init__(self) -> None:
        text_id = cast(self.id, Text)
        key = func.lpad(text_id, AUDIT_KEY_DIGITS, "0") if self.audit else text_id
        object.__setattr__(self, "key", key)


@dataclass(frozen=True)
class TimelineRow:
    at: dt.datetime
    kind: str
    key: str
    changes: dict | None
    actor_id: uuid.UUID | None

    @property
    def ref(self) -> uuid.UUID | int:
        """The id of the record the item is about (an audit record's is a number)."""
        return int(self.key) if self.kind == OWNER_CHANGED else uuid.UUID(self.key)


def branches(
    who: Scoped, customer_id: uuid.UUID | ColumnElement, *, orders: bool = False
) -> list[Branch]:
    """`customer_id`: an id, or the column of an enclosing statement that holds it.
    `orders`: with the customer's sales orders (the reader holds orders:read)."""
    a, t, p, log = activities.c, tasks.c, appointments.c, audit_log.c
    task_scope = [t.customer_id == customer_id, live(tasks), visible_tasks(who)]
    o = sales_orders.c
    order_branches = [Branch(ORDER_CREATED, o.created_at, o.id, [o.customer_id == customer_id])]
    return [
        *(order_branches if orders else []),
        Branch(ACTIVITY, a.occurred_at, a.id, [a.customer_id == customer_id, live(activities)]),
        Branch(TASK_CREATED, t.created_at, t.id, task_scope),
        Branch(TASK_COMPLETED, t.completed_at, t.id, [*task_scope, t.completed_at.is_not(None)]),
        Branch(
            APPOINTMENT,
            p.starts_at,
            p.id,
            [p.customer_id == customer_id, live(appointments), visible_appointments(who)],
        ),  # fmt: skip
        Branch(
            OWNER_CHANGED,
            log.at,
            log.id,
            [
                log.entity_type == "customer",
                log.entity_id == customer_id,
                log.action == "customer.update",
                log.changes.has_key("owner_id"),
            ],
            parse=int,
            audit=True,
        ),  # fmt: skip
    ]


def parse_after(values: list[Any]) -> tuple[dt.datetime, str, str] | None:
    """A decoded cursor's (at, kind, key), or None when it is not one of ours."""
    at, kind, key = values
    if not isinstance(at, dt.datetime) or kind not in KINDS or not isinstance(key, str):
        return None
    try:
        int(key) if kind == OWNER_CHANGED else uuid.UUID(key)
    except ValueError:
        return None
    return at, kind, key


def _after(branch: Branch, at: dt.datetime, kind: str, key: str) -> ColumnElement[bool]:
    """This branch's rows strictly after (at, kind, key) in descending order; its kind
    is a constant, so the comparison is on (at, id) and stays an index range."""
    if branch.kind < kind:
        return branch.at <= at
    if branch.kind > kind:
        return branch.at < at
    return tuple_(branch.at, branch.id) < tuple_(at, branch.parse(key))


def _branch_select(
    branch: Branch, limit: int, after: tuple | None, correlate: Any = None
) -> Select:
    """`correlate`: the enclosing FROM item the branch refers to (a LATERAL feed)."""
    conditions = list(branch.conditions)
    if after is not None:
        conditions.append(_after(branch, *after))
    extra = (
        [audit_log.c.changes.label("changes"), audit_log.c.actor_id.label("actor_id")]
        if branch.audit
        else [cast(null(), JSONB).label("changes"), cast(null(), Uuid).label("actor_id")]
    )
    inner = (
        select(
            branch.at.label("at"),
            literal_column(f"'{branch.kind}'", Text).label("kind"),
            branch.key.label("key"),
            *extra,
        )
        .where(*conditions)
        .order_by(branch.at.desc(), branch.id.desc())
        .limit(limit)
    )
    if correlate is not None:
        inner = inner.correlate(correlate)
    return select(inner.subquery(branch.kind))


def _newest_first(merged) -> list:
    return [merged.c.at.desc(), merged.c.kind.collate("C").desc(), merged.c.key.collate("C").desc()]


def timeline_statement(
    who: Scoped,
    customer_id: uuid.UUID,
    *,
    limit: int,
    after: tuple | None = None,
    orders: bool = False,
) -> Select:
    """At most `limit` items of the customer's feed after the cursor, newest first."""
    merged = union_all(
        *(_branch_select(b, limit, after) for b in branches(who, customer_id, orders=orders))
    ).subquery("timeline")
    return select(merged).order_by(*_newest_first(merged)).limit(limit)


def timeline_count_statement(
    who: Scoped, customer_id: uuid.UUID, *, orders: bool = False
) -> Select:
    counted = union_all(
        *(select(b.at).where(*b.conditions) for b in branches(who, customer_id, orders=orders))
    ).subquery("items")
    return select(func.count()).select_from(counted)


def timelines_statement(
    who: Scoped,
    customer_ids: list[uuid.UUID],
    *,
    limit: int,
    after: tuple | None = None,
    orders: bool = False,
) -> Select:
    """`timeline_statement` for each customer, in one statement: rows carry the
    customer as `group_key`, the customers in the order given, each one's newest first."""
    parents = unnest_ids(customer_ids)
    key = parents.c.group_key
    merged = union_all(
        *(_branch_select(b, limit, after, parents) for b in branches(who, key, orders=orders))
    ).subquery("timeline")
    feed = select(merged).order_by(*_newest_first(merged)).limit(limit).lateral("feed")
    return (
        select(key, feed)
        .select_from(parents.join(feed, true()))
        .order_by(parents.c.ordinality, *_newest_first(feed))
    )


def timelines_count_statement(
    who: Scoped, customer_ids: list[uuid.UUID], *, orders: bool = False
) -> Select:
    """The number of items in each customer's feed: (group_key, count) rows."""
    parents = unnest_ids(customer_ids)
    key = parents.c.group_key
    items = union_all(
        *(
            select(b.at).where(*b.conditions).correlate(parents)
            for b in branches(who, key, orders=orders)
        )
    ).subquery("items")
    counted = select(func.count().label("count")).select_from(items).lateral("counted")
    return select(key, counted.c.count).select_from(parents.join(counted, true()))
