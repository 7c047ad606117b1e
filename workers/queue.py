"""Our small interface to the job queue (arq today; arq is in maintenance mode, so
nothing outside workers/ imports it). Arguments travel as JSON, never pickle."""

from __future__ import annotations

import json
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from app.settings import Settings


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def loads(raw: bytes) -> Any:
    return json.loads(raw)


def redis_settings(settings: Settings) -> RedisSettings:
    return RedisSettings.from_dsn(settings.redis_url)


class JobQueue:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ArqRedis | None = None

    async def pool(self) -> ArqRedis:
        if self._pool is None:
            self._pool = await create_pool(
                redis_settings(self.settings),
                job_serializer=dumps,
                job_deserializer=loads,
                default_queue_name=self.settings.queue_name,
            )
        return self._pool

    async def enqueue(self, task: str, payload: dict[str, Any], *, key: str) -> None:
        """Enqueue once per `key`: a repeat while the job is queued or its result
        is kept is ignored (arq dedupes by job id)."""
        pool = await self.pool()
        await pool.enqueue_job(task, _job_id=key, _queue_name=self.settings.queue_name, **payload)

    async def ping(self) -> bool:
        pool = await self.pool()
        return bool(await pool.ping())

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
