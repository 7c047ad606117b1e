"""Duplicate candidates and merged-customer chains, as composable selects.

Pairs: for each kind of evidence (NAME, PHONE, EMAIL) a self-join of customers on the
equal stored key (`match_name`, `match_phone`, `match_email`: each has an index
partial on live rows), every pair once (`a.id < b.id`), both sides live and visible to
the caller; then one row per pair with its score and reasons. The join is on equal
keys, so it is answered from the indexes (or a hash/merge join over them), never by
comparing every customer with every other (tests/merge/test_merge_explain.py).

A key shared by more than `MAX_GROUP` live customers is a placeholder or a switchboard
(13800000000, info@...), not evidence: it pairs nothing (otherwise it would pair
every two of them).
"""

from __future__ import annotations

import uuid

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.util import ClauseAdapter

from app.auth.principal import Scoped
from app.customers.queries import visible_customers
from app.customers.tables import customers
from app.merge import tables as _tables  # noqa: F401  (adds the match columns to customers)
from app.merge.rules import MAX_SCORE, REASONS, WEIGHTS

MAX_GROUP = 20
MAX_CHAIN = 100


def match_key(table, reason: str) -> ColumnElement:
    """The stored key of `table` (customers or an alias of it) for one reason."""
    if reason == "NAME":
        return table.c.match_name
    if reason == "PHONE":
        return table.c.match_phone
    return table.c.match_email


def regions_compatible(a, b) -> ColumnElement[bool]:
    """Equal names pair unless both had a leading place in different provinces
    (北京银行 / 南京银行); 佛山XX and 广东XX both lie in 广东."""
    return or_(
        a.c.match_region.is_(None), b.c.match_region.is_(None), a.c.match_region == b.c.match_region
    )


def visible_as(alias, who: Scoped) -> ColumnElement[bool]:
    """The customers data scope, for an alias of customers."""
    return ClauseAdapter(alias).traverse(visible_customers(who))


def _duplicated_keys(reason: str) -> Select:
    """Keys that 2..MAX_GROUP live customers share: usually few, found by one pass over
    the key index (index-only once the table is vacuumed); the pairs are then fetched
    by key through the same index."""
    key = match_key(customers, reason)
    return (
        select(key)
        .where(customers.c.deleted_at.is_(None), key.is_not(None))
        .group_by(key)
        .having(func.count().between(2, MAX_GROUP))
    )


def _pairs(who: Scoped, reason: str) -> Select:
    a, b = customers.alias(f"{reason.lower()}_a"), customers.alias(f"{reason.lower()}_b")
    key_a, key_b = match_key(a, reason), match_key(b, reason)
    join = [key_b == key_a, b.c.id > a.c.id]
    if reason == "NAME":
        join.append(regions_compatible(a, b))
    return (
        select(
            a.c.id.label("a_id"),
            b.c.id.label("b_id"),
            literal_column(str(WEIGHTS[reason]), Integer).label("weight"),
            literal_column(f"'{reason}'", Text).label("reason"),
        )
        .select_from(a.join(b, and_(*join)))
        .where(
            a.c.deleted_at.is_(None),
            b.c.deleted_at.is_(None),
            key_a.is_not(None),
            key_a.in_(_duplicated_keys(reason)),
            visible_as(a, who),
            visible_as(b, who),
        )
    )


def duplicate_pairs(who: Scoped, min_score: int = 0) -> Select:
    """(a_id, b_id, score, reasons) of every candidate pair the caller may see both
    customers of, a_id < b_id; unordered (the caller pages it)."""
    evidence = union_all(*(_pairs(who, reason) for reason in REASONS)).subquery("evidence")
    e = evidence.c
    pairs = (
        select(
            e.a_id,
            e.b_id,
            func.least(MAX_SCORE, func.sum(e.weight)).label("score"),
            func.array_agg(aggregate_order_by(e.reason, e.reason), type_=ARRAY(Text)).label(
                "reasons"
            ),
        )
        .group_by(e.a_id, e.b_id)
        .subquery("pairs")
    )
    query = select(pairs.c.a_id, pairs.c.b_id, pairs.c.score, pairs.c.reasons)
    if min_score > 0:
        query = query.where(pairs.c.score >= min_score)
    return query


async def merged_into(
    conn: AsyncConnection, who: Scoped, customer_id: uuid.UUID
) -> uuid.UUID | None:
    """Where a merged customer went: the end of its `merged_into_id` chain, if the
    customer itself is visible to the caller; None for one never merged. (Whether the
    end is visible is the caller's to check.)"""
    c = customers.c
    start = (
        select(c.id, c.merged_into_id, literal_column("0", Integer).label("depth"))
        .where(c.id == customer_id, visible_customers(who))
        .cte("chain", recursive=True)
    )
    step = customers.alias("step")
    chain = start.union_all(
        select(step.c.id, step.c.merged_into_id, start.c.depth + 1).where(
            step.c.id == start.c.merged_into_id, start.c.depth < MAX_CHAIN
        )
    )
    return await conn.scalar(
        select(chain.c.id)
        .where(chain.c.merged_into_id.is_(None), chain.c.depth > 0)
        .order_by(chain.c.depth.desc())
        .limit(1)
    )
