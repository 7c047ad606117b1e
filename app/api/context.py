"""What every resolver receives: who is asking, their tenant-bound database, services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from strawberry.types import Info as StrawberryInfo

from app.audit.service import Actor
from app.auth.keys import KeyRing
from app.auth.principal import Principal, PrincipalResolver
from app.db import RequestDb
from app.settings import Settings

if TYPE_CHECKING:
    from workers.queue import JobQueue


@dataclass
class Services:
    """Process-wide, tenant-agnostic machinery; nothing here holds tenant data."""

    settings: Settings
    engine: AsyncEngine
    keyring: KeyRing
    principals: PrincipalResolver
    queue: JobQueue


@dataclass
class Context:
    request: Request
    principal: Principal
    db: RequestDb
    services: Services
    # Per-request batches of nested fields (app/api/batch.py).
    batches: dict[Any, Any] = field(default_factory=dict)

    @property
    def actor(self) -> Actor:
        return Actor("user", self.principal.user_id)


Info = StrawberryInfo[Context, None]


def tenant_today(info: Info) -> dt.date:
    """Today in the tenant's calendar (document dates, validity, price lists)."""
    return dt.datetime.now(ZoneInfo(info.context.principal.tenant.time_zone)).date()
