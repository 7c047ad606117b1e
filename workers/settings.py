"""The arq worker: functions, cron schedules, and the services every job uses."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.worker import Worker, func

import workers.registry  # noqa: F401  (registers every capability's job handlers)
from app.accounts.invitations import SEND_INVITATION_MAIL
from app.accounts.reset import SEND_RESET_MAIL
from app.services import close_services, create_services
from app.settings import Settings
from workers import scheduled
from workers.queue import dumps, loads, redis_settings
from workers.tasks import (
    JOB_TIMEOUT_SECONDS,
    MAIL_MAX_TRIES,
    check_low_stock,
    evaluate_tiers,
    prune_account_events,
    prune_outbox,
    reclaim_idle_customers,
    relay_outbox,
    run_job,
    send_invitation_mail,
    send_password_reset_mail,
    send_reminders,
    sweep_stalled_jobs,
)


def build_worker(
    settings: Settings, *, burst: bool = False, ticks: bool = True, **overrides: Any
) -> Worker:
    """The worker; `ticks=False` keeps its cron jobs callable by name ("cron:...") but
    never schedules them, so a test's worker runs only the jobs the test enqueued."""
    services = create_services(settings)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await close_services(ctx["services"])

    options: dict[str, Any] = dict(
        functions=[
            func(run_job, name="run_job", timeout=JOB_TIMEOUT_SECONDS, max_tries=8),
            func(
                send_password_reset_mail, name=SEND_RESET_MAIL, timeout=60, max_tries=MAIL_MAX_TRIES
            ),
            func(
                send_invitation_mail,
                name=SEND_INVITATION_MAIL,
                timeout=60,
                max_tries=MAIL_MAX_TRIES,
            ),
            *scheduled.functions(),
        ],
        cron_jobs=[
            # Cron ticks are skipped while no worker runs; both catch up from the
            # database state (pending outbox rows, stale heartbeats), not from ticks.
            cron(relay_outbox, second=set(range(0, 60, 5)), timeout=30),
            cron(sweep_stalled_jobs, second={7}, timeout=50),
            cron(prune_outbox, hour={3}, minute={17}, second={0}, timeout=50),
            # Deletes by age, so a skipped day is caught up by the next.
            cron(prune_account_events, hour={3}, minute={27}, second={0}, timeout=50),
            # The scheduled rules only fan out (one job per tenant); each ticks once per
            # its rule's period (scheduled.RULES), away from the period's boundaries.
            cron(send_reminders, second={23}, timeout=50),
            cron(reclaim_idle_customers, minute={41}, second={0}, timeout=50),
            cron(evaluate_tiers, hour={2}, minute={53}, second={0}, timeout=50),
            cron(check_low_stock, minute=set(range(4, 60, 10)), second={31}, timeout=50),
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
    worker = Worker(**options)
    if not ticks:
        # arq registers each cron job as a function too; only its schedule goes.
        worker.cron_jobs = []
    return worker
