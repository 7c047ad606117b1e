"""The arq worker: functions, cron schedules, and the services every job uses."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.worker import Worker, func

import workers.registry  # noqa: F401  (registers every capability's job handlers)
from app.accounts.reset import SEND_RESET_MAIL
from app.services import close_services, create_services
from app.settings import Settings
from workers.queue import dumps, loads, redis_settings
from workers.tasks import (
    JOB_TIMEOUT_SECONDS,
    MAIL_MAX_TRIES,
    evaluate_tiers,
    prune_outbox,
    reclaim_idle_customers,
    relay_outbox,
    run_job,
    send_password_reset_mail,
    send_reminders,
    sweep_stalled_jobs,
)


def build_worker(settings: Settings, *, burst: bool = False, **overrides: Any) -> Worker:
    services = create_services(settings)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await close_services(ctx["services"])

    options: dict[str, Any] = dict(
        functions=[
            func(run_job, name="run_job", timeout=JOB_TIMEOUT_SECONDS, max_tries=8),
            func(
                send_password_reset_mail, name=SEND_RESET_MAIL, timeout=60, max_tries=MAIL_MAX_TRIES
            ),
        ],
        cron_jobs=[
            # Cron ticks are skipped while no worker runs; both catch up from the
            # database state (pending outbox rows, stale heartbeats), not from ticks.
            cron(relay_outbox, second=set(range(0, 60, 5)), timeout=30),
            cron(sweep_stalled_jobs, second={7}, timeout=50),
            cron(send_reminders, second={23}, timeout=50),
            cron(prune_outbox, hour={3}, minute={17}, second={0}, timeout=50),
            cron(reclaim_idle_customers, minute={41}, second={0}, timeout=50),
            cron(evaluate_tiers, hour={2}, minute={53}, second={0}, timeout=50),
        ],
        redis_settings=redis_settings(settings),
        queue_name=settings.queue_name,
        job_serializer=dumps,
        job_deserializer=loads,
        job_timeout=JOB_TIMEOUT_SECONDS,
        keep_result=3600,
        burst=burst,
        ctx={"services": services},
        on_shutdown=on_shutdown,
        handle_signals=not burst,
    )
    options.update(overrides)
    return Worker(**options)
