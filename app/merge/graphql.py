"""Duplicates and merges over GraphQL: `duplicateCustomers`, `customerMergedInto` and
`mergeCustomers`.

A merged customer is soft-deleted: `customer(id)` still answers it (with `deletedAt`,
like any deleted customer) and lists leave it out; `customerMergedInto(id)` follows
its `merged_into_id` chain to the customer it ended up in.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.context import Info
from app.api.errors import run_mutation
from app.api.ids import parse_uuid, require_uuid
from app.api.pagination import Connection, SortKey, connection_from, paginate
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.auth.principal import Scoped
from app.customers.queries import customers_query, get_customer
from app.customers.tables import customers
from app.customers.types import Customer, build_customers
from app.errors import BadUserInput
from app.merge import queries, service
from app.merge.rules import MAX_SCORE
from app.merge.types import (
    DuplicatePair,
    DuplicateReason,
    MergeCounts,
    MergeCustomersInput,
    MergeCustomersPayload,
)

PAIR_SIDES = ("customer", "duplicate")


def _side_selection(selected: set[str], prefix: str) -> set[str]:
    """What was selected below either side of a pair, as paths below one customer."""
    out: set[str] = set()
    for side in PAIR_SIDES:
        start = f"{prefix}{side}."
        out |= {path[len(start) :] for path in selected if path.startswith(start)}
    return out


async def _build_pairs(
    conn: AsyncConnection, who: Scoped, rows: list[Row], selected: set[str]
) -> list[DuplicatePair]:
    """Both customers of every pair of the page: one statement for the customers, one
    per kind of child selected. (The pair query has checked they are visible.)"""
    wanted = list(dict.fromkeys(i for r in rows for i in (r.a_id, r.b_id)))
    found = {
        row.id: row
        for row in (
            await conn.execute(customers_query(customers.c.id.in_(wanted))) if wanted else []
        )
    }
    ids = list(found)
    nodes = dict(
        zip(
            ids,
            await build_customers(
                conn, who, [found[i] for i in ids], _side_selection(selected, "edges.node.")
            ),
            strict=True,
        )
    )
    pairs = []
    for row in rows:
        first, second = sorted(
            (found[row.a_id], found[row.b_id]), key=lambda c: (c.created_at, c.id)
        )
        pairs.append(
            DuplicatePair(
                customer=nodes[first.id],
                duplicate=nodes[second.id],
                score=row.score,
                reasons=[DuplicateReason(r) for r in row.reasons],
            )
        )
    return pairs


@strawberry.type
class MergeQueries:
    @strawberry.field(
        extensions=requires("customers:read"),
        description="Pairs of live customers that may be the same company or person (by "
        "name, phone or email), both visible to you; highest score first.",
    )
    async def duplicate_customers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        min_score: Annotated[
            int, strawberry.argument(description="Only pairs scoring at least this (0-100).")
        ] = 0,
    ) -> Connection[DuplicatePair]:
        if not 0 <= min_score <= MAX_SCORE:
            raise BadUserInput(f"minScore must be between 0 and {MAX_SCORE}")
        principal = info.context.principal
        query = queries.duplicate_pairs(principal, min_score)
        pairs = query.selected_columns
        keys = [SortKey(pairs.score, True), SortKey(pairs.a_id), SortKey(pairs.b_id)]
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            page = await paginate(
                conn, query, keys, first=first, after=after, last=last, before=before,
                with_total="totalCount" in selected,
            )  # fmt: skip
            nodes = await _build_pairs(conn, principal, page.rows, selected)
        return connection_from(page, nodes)

    @strawberry.field(
        extensions=requires("customers:read"),
        description="For a customer merged into another (possibly several times over): "
        "the customer it ended up in. null if it was never merged, or if you may not see "
        "either end.",
    )
    async def customer_merged_into(self, info: Info, id: strawberry.ID) -> Customer | None:
        customer_id = parse_uuid(id)
        if customer_id is None:
            return None
        principal = info.context.principal
        async with info.context.db.read() as conn:
            end = await queries.merged_into(conn, principal, customer_id)
            row = end and await get_customer(conn, principal, end)
            if not row:
                return None
            (node,) = await build_customers(conn, principal, [row], selected_paths(info))
        return node


@strawberry.type
class MergeMutations:
    @strawberry.mutation(
        extensions=requires("customers:merge"),
        description="Merge one customer into another, in one transaction: its contacts, "
        "activities, tasks, appointments, opportunities, ownership history and converted "
        "leads move to the survivor; the survivor's empty fields take its values (never "
        "overwriting); it is soft-deleted, pointing at the survivor. Both must be live and "
        "visible to you, at the versions you loaded.",
    )
    async def merge_customers(
        self, info: Info, input: MergeCustomersInput
    ) -> MergeCustomersPayload:
        principal = info.context.principal

        async def write(conn) -> dict:
            result = await service.merge_customers(
                conn, actor=info.context.actor, who=principal,
                survivor_id=require_uuid(input.survivor_id, "survivorId", "customer"),
                merged_id=require_uuid(input.merged_id, "mergedId", "customer"),
                survivor_version=input.survivor_version, merged_version=input.merged_version,
                fill_credit=principal.can("customers:write_credit"),
            )  # fmt: skip
            (node,) = await build_customers(
                conn, principal, [result.survivor], selected_paths(info), "customer."
            )
            return {"customer": node, "moved": MergeCounts(**result.moved)}

        return await run_mutation(info, MergeCustomersPayload, write)
