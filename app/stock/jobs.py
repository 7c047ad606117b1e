"""The stock capability's scheduled rule: low-stock alerts, run for each tenant every
10 minutes by workers/scheduled.py. How alerts are decided: app/stock/reorder.py."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import TENANT
from app.stock.reorder import produce_alerts
from tenants.catalog import tenants

logger = logging.getLogger("kehu.stock")


async def tenant_day(conn: AsyncConnection) -> dt.date:
    """Today in the calendar of the tenant `conn` is bound to, as `tenant_today` gives
    a request: a job has no principal, only the connection's schema, so the time zone
    comes from the tenant's catalog row."""
    options = conn.sync_connection.get_execution_options()
    schema = options.get("schema_translate_map", {}).get(TENANT)
    t = tenants.c
    zone = await conn.scalar(select(t.time_zone).where(t.schema_name == schema))
    if zone is None:
        raise LookupError(f"no tenant has schema {schema!r}")
    return dt.datetime.now(ZoneInfo(zone)).date()


async def alert_tenant(conn: AsyncConnection) -> int:
    """Low-stock alerts (库存预警) for one tenant. Works from the database state:
    idempotent, catches up after downtime, one alert per rule per low episode. How
    many notifications went out."""
    outcome = await produce_alerts(conn, await tenant_day(conn))
    if outcome["started"] or outcome["recovered"]:
        # The worker logs which tenant and rule this was.
        logger.info(
            "%d reorder rules went low (%d notifications), %d recovered",
            outcome["started"], outcome["notified"], outcome["recovered"],
        )  # fmt: skip
    return outcome["notified"]
