"""What every resolver receives: who is asking, their tenant-bound database, services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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

    @property
    def actor(self) -> Actor:
        return Actor("user", self.principal.user_id)


Info = StrawberryInfo[Context, None]
