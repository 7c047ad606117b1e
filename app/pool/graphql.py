"""The pool over GraphQL: `poolSettings`, `customerOwnershipHistory`, and the
`claimCustomers`, `releaseCustomers`, `transferCustomers`, `updatePoolSettings`
mutations (each one transaction with its history and audit records)."""

from __future__ import annotations

from functools import partial
from typing import Any

import strawberry
from sqlalchemy import Select, select

from app.api.context import Info
from app.api.errors import run_mutation
from app.api.ids import parse_uuid
from app.api.pagination import Connection, SortKey, page_of
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.auth.principal import Scoped
from app.customers.queries import visible_customers
from app.customers.tables import customers
from app.customers.types import build_customers
from app.pool import config, service
from app.pool.tables import customer_ownership_changes
from app.pool.types import (
    ClaimCustomersPayload,
    ClaimFailure,
    ClaimResult,
    OwnershipChange,
    PoolSettingsType,
    ReleaseCustomersInput,
    ReleaseCustomersPayload,
    TransferCustomersInput,
    TransferCustomersPayload,
    UpdatePoolSettingsInput,
    UpdatePoolSettingsPayload,
    build_changes,
)

TRANSFER = "customers:transfer"


def history_query(who: Scoped, customer_id) -> Select:
    """A customer's ownership changes, only if the customer (deleted ones included) is
    visible: otherwise none, as for a customer that does not exist."""
    h = customer_ownership_changes.c
    visible = select(customers.c.id).where(customers.c.id == customer_id, visible_customers(who))
    return select(customer_ownership_changes).where(
        h.customer_id == customer_id, h.customer_id.in_(visible)
    )


@strawberry.type
class PoolQueries:
    @strawberry.field(
        extensions=requires("customers:read"),
        description="The public pool's rules: claim limit and reclaim period.",
    )
    async def pool_settings(self, info: Info) -> PoolSettingsType:
        async with info.context.db.read() as conn:
            settings = await config.get_settings(conn)
        return PoolSettingsType.from_settings(settings)

    @strawberry.field(
        extensions=requires("customers:read"),
        description="Who owned the customer when, newest first. Empty for a customer you "
        "may not see.",
    )
    async def customer_ownership_history(
        self,
        info: Info,
        customer_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[OwnershipChange]:
        principal = info.context.principal
        # A malformed id names no customer: an empty history (the query still runs,
        # so paging arguments are checked the same way).
        parsed = parse_uuid(customer_id)
        query = history_query(principal, parsed)
        h = customer_ownership_changes.c
        keys = [SortKey(h.changed_at, True), SortKey(h.id, True)]
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            return await page_of(
                conn, query, keys, selected, partial(build_changes, conn),
                first=first, after=after, last=last, before=before,
            )  # fmt: skip


async def _customers_payload(info: Info, payload: type, change) -> Any:
    async def write(conn) -> dict:
        rows = await change(conn)
        nodes = await build_customers(
            conn, info.context.principal, rows, selected_paths(info), "customers."
        )
        return {"customers": nodes}

    return await run_mutation(info, payload, write)


@strawberry.type
class PoolMutations:
    @strawberry.mutation(
        extensions=requires("customers:write"),
        description="Take customers from the public pool (at most 100 ids). Each id is "
        "claimed or says why not; if you would own more than the claim limit, nothing is "
        "claimed (userError LIMIT on ids).",
    )
    async def claim_customers(self, info: Info, ids: list[strawberry.ID]) -> ClaimCustomersPayload:
        principal = info.context.principal

        async def write(conn) -> dict:
            outcomes = await service.claim_customers(
                conn, actor=info.context.actor, who=principal, ids=ids
            )
            rows = [o.row for o in outcomes if o.row is not None]
            nodes = iter(
                await build_customers(
                    conn, principal, rows, selected_paths(info), "results.customer."
                )
            )
            results = [
                ClaimResult(
                    customer_id=strawberry.ID(o.id),
                    claimed=o.claimed,
                    reason=ClaimFailure(o.reason) if o.reason else None,
                    customer=next(nodes) if o.row is not None else None,
                )
                for o in outcomes
            ]
            return {"results": results}

        return await run_mutation(info, ClaimCustomersPayload, write)

    @strawberry.mutation(
        extensions=requires("customers:write"),
        description="Put customers back in the public pool: your own, or with "
        "customers:transfer anyone's you may see. All or nothing.",
    )
    async def release_customers(
        self, info: Info, input: ReleaseCustomersInput
    ) -> ReleaseCustomersPayload:
        principal = info.context.principal

        async def change(conn):
            return await service.release_customers(
                conn, actor=info.context.actor, who=principal, ids=input.ids,
                reason=input.reason, may_release_others=principal.can(TRANSFER),
            )  # fmt: skip

        return await _customers_payload(info, ReleaseCustomersPayload, change)

    @strawberry.mutation(
        extensions=requires(TRANSFER),
        description="Give customers you may see (pool ones included) to another user. All "
        "or nothing; the target's claim limit does not apply.",
    )
    async def transfer_customers(
        self, info: Info, input: TransferCustomersInput
    ) -> TransferCustomersPayload:
        principal = info.context.principal

        async def change(conn):
            return await service.transfer_customers(
                conn, actor=info.context.actor, who=principal, ids=input.ids,
                to_user_id=parse_uuid(input.to_user_id), reason=input.reason,
            )  # fmt: skip

        return await _customers_payload(info, TransferCustomersPayload, change)

    @strawberry.mutation(
        extensions=requires("pool:manage"),
        description="Change the claim limit and the reclaim period (fields left out stay).",
    )
    async def update_pool_settings(
        self, info: Info, input: UpdatePoolSettingsInput
    ) -> UpdatePoolSettingsPayload:
        fields = {
            name: getattr(input, name)
            for name in ("claim_limit", "reclaim_after_days")
            if getattr(input, name) is not strawberry.UNSET
        }

        async def write(conn) -> dict:
            settings = await config.update_settings(
                conn, actor=info.context.actor, version=input.version, fields=fields
            )
            return {"pool_settings": PoolSettingsType.from_settings(settings)}

        return await run_mutation(info, UpdatePoolSettingsPayload, write)
