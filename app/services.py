"""Building and closing the process-wide services the API and the worker share."""

from __future__ import annotations

from app.api.context import Services
from app.auth.keys import KeyRing
from app.auth.principal import PrincipalResolver
from app.db import create_engine
from app.settings import Settings
from workers.queue import JobQueue


def create_services(settings: Settings) -> Services:
    engine = create_engine(settings)
    return Services(
        settings=settings,
        engine=engine,
        keyring=KeyRing(engine, max_age_seconds=settings.keys_reload_seconds),
        principals=PrincipalResolver(engine, settings.principal_cache_seconds),
        queue=JobQueue(settings),
    )


async def close_services(services: Services) -> None:
    await services.queue.close()
    await services.engine.dispose()
