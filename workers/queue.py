"""Our small interface to the job queue (arq today; arq is in maintenance mode, so
nothing outside workers/ imports it). Arguments travel as JSON, never pickle."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.jobs import Job

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
        # Concurrent first callers (a fan-out's enqueues) must share one pool; each
        # making its own would leak all but the last.
        self._opening = asyncio.Lock()

    async def pool(self) -> ArqRedis:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await create_pool(
                        redis_settings(self.settings),
                        job_serializer=dumps,
                        job_deserializer=loads,
                        default_queue_name=self.settings.queue_name,
                    )
        return self._pool

    async def enqueue(
        self, task: str, payload: dict[str, Any], *, key: str, expires: float | None = None
    ) -> bool:
        """Enqueue once per `key`: a repeat while the job is queued or its result
        is kept is ignored (arq dedupes by job id). False when it was a repeat. A job
        not started (or retried) within `expires` seconds is dropped (default: a day)."""
        pool = await self.pool()
        job = await pool.enqueue_job(
            task, _job_id=key, _queue_name=self.settings.queue_name, _expires=expires, **payload
        )
        return job is not None

    async def result(self, key: str) -> Any:
        """What the job `key` returned, while its result is kept; None before that."""
        pool = await self.pool()
        info = await Job(
            key, pool, _queue_name=self.settings.queue_name, _deserializer=loads
        ).result_info()
        return None if info is None else info.result

    async def ping(self) -> bool:
        pool = await self.pool()
        return bool(await pool.ping())

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
