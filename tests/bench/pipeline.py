"""Pipelines and timelines at scale: the bench's last step.

The data tenant (customers and users from bench_db.fill_tenant) gets opportunities on
the default pipeline with their stage history, activities (a few hot customers carry
thousands, so one timeline is deep), tasks, appointments and a few owner changes in
the audit log. Everything is made set-based in SQL as the owner role: each row's
values come from a hash of its number (`pg_temp.rnd`), so the same sizes give the same
data on every run, and the statements split over a few connections by number range.

Then the running `kehu serve` answers the shipped operations (graphql/operations/)
one request at a time, as the admin (scope all) and as a sales rep (scope own):
pipelineSummary, forecast, opportunities by amount and customerTimeline (first page
and a page deep into the feed). Every answer is checked against counts read from the
database. EXPLAIN (ANALYZE, BUFFERS) of the summary's and the timeline's statements,
built by the app's own query functions, shows where their time goes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import bench_db
import bench_procs

from app.auth.keys import KeyRing
from app.auth.tokens import issue_access_token
from app.db import create_engine
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "graphql" / "operations"
REP_EMAIL = "sales0@bench.example.com"  # made by bench_db.fill_tenant, role sales (scope own)
HOT_CUSTOMERS = 5  # the deepest one gets 1 activity in 20, the other four 1 in 40 each
TASKS_PER_ACTIVITY = 20  # a task for every 20 activities,
APPOINTMENTS_PER_ACTIVITY = 40  # an appointment for every 40
PAGE = 50
MAX_CASE_SECONDS = 30.0  # a slow query stops early (at least MIN_SAMPLES requests)
MIN_SAMPLES = 20
MAX_WARMUP_SECONDS = 5.0  # and warms up with fewer requests (at least 3)
TIMELINE_TYPES = {
    "ActivityTimelineItem",
    "TaskTimelineItem",
    "AppointmentTimelineItem",
    "OwnerChangeTimelineItem",
}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- the fill ------------------------------------------------------------------------------

# Deterministic pseudo-random values: rnd(i, salt) in [0, 1) from a hash of the row's
# number; uid() a v4-shaped uuid from an md5; pick() one element of an array.
HELPERS = """
CREATE FUNCTION pg_temp.rnd(i bigint, salt int) RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (hashint8(i * 64 + salt)::float8 + 2147483648) / 4294967296 $$;
CREATE FUNCTION pg_temp.uid(tag text, i bigint, j int) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT overlay(overlay(md5('kehu-bench:' || tag || ':' || i || ':' || j)
                                 placing '4' from 13) placing '8' from 17)::uuid $$;
CREATE FUNCTION pg_temp.pick(options anyarray, r float8) RETURNS anyelement
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT options[1 + floor(r * cardinality(options))::int] $$;
-- When an opportunity entered the j-th of its n stages: the first at creation, the
-- others in order (j + jitter < j + 1) over the part `life` (0..1] of the time from
-- creation to now that it has been (open ones) or was (closed ones) in the funnel.
CREATE FUNCTION pg_temp.step_at(i bigint, j int, n int, life float8, created timestamptz,
                                now timestamptz)
    RETURNS timestamptz LANGUAGE sql STABLE
    AS $$ SELECT CASE WHEN j = 0 THEN created
                      ELSE created + (now - created) * life
                                     * ((j + 0.5 * pg_temp.rnd(i, 32 + j)) / n)
                 END $$;
"""

# Live customers numbered 0..N-1 in their default order, with owner and a contact.
CUSTOMERS = """
CREATE TEMP TABLE bench_customer AS
SELECT (row_number() OVER (ORDER BY c.created_at, c.id) - 1)::int AS n, c.id, c.name, c.owner_id,
       (SELECT k.id FROM {s}.contacts k WHERE k.customer_id = c.id AND k.deleted_at IS NULL
        ORDER BY k.is_primary DESC, k.id LIMIT 1) AS contact_id
FROM {s}.customers c
WHERE c.deleted_at IS NULL;
CREATE UNIQUE INDEX ON bench_customer (n);
ANALYZE bench_customer;
"""

# One row per opportunity of the range [$1, $2): status (70 % open, 18 % won, 12 %
# lost), how many open stages it went through (open ones mostly early in the funnel,
# won ones mostly through all of them, possibly skipping one or two), money (1,000 to
# 5,000,000 CNY, log-uniform; 12 % in USD), dates (created over the past year; open
# ones expected to close from 5 months ago to a year ahead, 3 % without a date; closed
# ones expected within a month of when they closed).
# $3 now, $4 owners for customers without one, $5 the open stages in order, $6 the
# won stage, $7 the lost stage, $8 the number of customers.
OPPORTUNITY_SPEC = """
CREATE TEMP TABLE bench_opportunity AS
WITH r AS (
    SELECT i, pg_temp.rnd(i, 1) AS r_customer, pg_temp.rnd(i, 2) AS r_status,
           pg_temp.rnd(i, 3) AS r_reach, pg_temp.rnd(i, 4) AS r_amount,
           pg_temp.rnd(i, 5) AS r_currency, pg_temp.rnd(i, 6) AS r_close,
           pg_temp.rnd(i, 7) AS r_created, pg_temp.rnd(i, 8) AS r_product,
           pg_temp.rnd(i, 9) AS r_reason, pg_temp.rnd(i, 10) AS r_competitor,
           pg_temp.rnd(i, 11) AS r_owner,
           CASE WHEN pg_temp.rnd(i, 2) < 0.70 THEN 'open'
                WHEN pg_temp.rnd(i, 2) < 0.88 THEN 'won' ELSE 'lost' END AS status,
           $3::timestamptz - interval '365 days' * pg_temp.rnd(i, 7) AS created_at,
           cardinality($5::uuid[]) AS k
    FROM generate_series($1::bigint, $2::bigint - 1) AS i
), reach AS (
    SELECT r.*,
           CASE status WHEN 'open' THEN 1 + floor(power(r_reach, 1.4) * k)::int
                       WHEN 'won' THEN k - floor(r_reach * r_reach * least(k, 3))::int
                       ELSE 1 + floor(r_reach * k)::int END AS reached
    FROM r
), spec AS (
    SELECT reach.*, reached + (status <> 'open')::int AS n,
           CASE WHEN status = 'open' THEN 1 ELSE 0.15 + 0.85 * pg_temp.rnd(i, 12) END AS life,
           CASE WHEN r_currency < 0.88 THEN 'CNY' ELSE 'USD' END AS currency
    FROM reach
)
SELECT spec.i, pg_temp.uid('opportunity', spec.i, 0) AS id, c.id AS customer_id,
       coalesce(c.owner_id, pg_temp.pick($4::uuid[], spec.r_owner)) AS owner_id,
       c.name || ' · ' || pg_temp.pick(ARRAY['CRM 年度订阅', '设备采购', '实施服务', '续约',
           '系统扩容', '培训服务', '定制开发', '硬件升级'], spec.r_product) AS name,
       round((1000 * power(5000, spec.r_amount)
              / CASE spec.currency WHEN 'USD' THEN 7 ELSE 1 END)::numeric, 2) AS amount,
       spec.currency, spec.status, spec.reached, spec.n, spec.life, spec.created_at,
       pg_temp.step_at(spec.i, spec.n - 1, spec.n, spec.life, spec.created_at, $3)
           AS last_change,
       CASE spec.status WHEN 'open' THEN ($5::uuid[])[spec.reached]
                        WHEN 'won' THEN $6::uuid ELSE $7::uuid END AS stage_id,
       CASE WHEN spec.status = 'lost' THEN pg_temp.pick(ARRAY['价格过高', '选择了竞争对手',
           '预算取消', '需求变更', '客户无回应', '决策延期'], spec.r_reason) END AS lost_reason,
       CASE WHEN spec.r_competitor < 0.6 THEN '{}'::text[]
            ELSE ARRAY[pg_temp.pick(ARRAY['金蝶', '用友', '销售易', '纷享销客', 'Salesforce'],
                                    spec.r_reason)] END AS competitors,
       spec.r_close
FROM spec
JOIN bench_customer c ON c.n = floor(spec.r_customer * $8)::int;
"""

OPPORTUNITIES = """
INSERT INTO {s}.opportunities (id, customer_id, name, amount, currency, expected_close_date,
    owner_id, pipeline_id, stage_id, status, lost_reason, closed_at, competitors,
    created_at, updated_at, created_by, version)
SELECT id, customer_id, name, amount, currency,
       CASE WHEN status = 'open' AND r_close < 0.03 THEN NULL
            WHEN status = 'open' THEN $1::date + (-150 + floor(r_close * 516))::int
            ELSE (last_change AT TIME ZONE $3)::date + (-30 + floor(r_close * 61))::int END,
       owner_id, $2::uuid, stage_id, status, lost_reason,
       CASE WHEN status <> 'open' THEN last_change END, competitors,
       created_at, last_change, owner_id, n
FROM bench_opportunity
ORDER BY i;
"""

# One row per stage entered: the creation (from no stage), then each move; the last
# row is the opportunity's current stage, at its closed_at when it is closed.
# $1 now, $2 the open stages in order, $3 won, $4 lost.
STAGE_HISTORY = """
INSERT INTO {s}.opportunity_stage_history (id, opportunity_id, from_stage_id, to_stage_id,
    changed_by, changed_at)
SELECT pg_temp.uid('stage-change', o.i, j), o.id,
       CASE WHEN j = 0 THEN NULL
            WHEN j - 1 < o.reached THEN ($2::uuid[])[j]
            WHEN o.status = 'won' THEN $3::uuid ELSE $4::uuid END,
       CASE WHEN j < o.reached THEN ($2::uuid[])[j + 1]
            WHEN o.status = 'won' THEN $3::uuid ELSE $4::uuid END,
       o.owner_id, pg_temp.step_at(o.i, j, o.n, o.life, o.created_at, $1)
FROM bench_opportunity o, generate_series(0, o.n - 1) AS j
ORDER BY o.i, j;
"""

# Activities of the range [$1, $2): one in 20 on the deepest customer ($5[1]), two in
# 20 on the other hot ones, the rest on any customer; over the past year; mostly by
# the customer's owner. $3 now, $4 owners, $5 hot customers' numbers, $6 the number of
# customers.
ACTIVITIES = """
INSERT INTO {s}.activities (id, kind, subject, body, occurred_at, duration_minutes, outcome,
    next_step, customer_id, contact_id, owner_id, created_at, updated_at, created_by, version)
SELECT pg_temp.uid('activity', a.i, 0), a.kind,
       CASE a.kind
           WHEN 'call' THEN pg_temp.pick(ARRAY['电话回访', '电话沟通需求', '确认报价细节'], a.r1)
           WHEN 'email' THEN pg_temp.pick(ARRAY['发送报价单', '发送产品资料', '邮件确认合同条款'], a.r1)
           WHEN 'visit' THEN pg_temp.pick(ARRAY['上门拜访', '现场演示', '技术交流'], a.r1)
           WHEN 'meeting' THEN pg_temp.pick(ARRAY['项目周例会', '方案评审会', '商务谈判会'], a.r1)
           ELSE pg_temp.pick(ARRAY['内部备注', '客户反馈记录', '跟进备注'], a.r1) END,
       CASE WHEN a.r2 < 0.4 THEN '客户关注' || pg_temp.pick(ARRAY['价格', '交付周期', '售后服务',
           '系统集成', '数据安全'], a.r3) || '，需要进一步沟通。' END,
       a.at,
       CASE a.kind WHEN 'call' THEN 1 + floor(a.r3 * 45)::int
                   WHEN 'visit' THEN 30 + floor(a.r3 * 150)::int
                   WHEN 'meeting' THEN 30 + floor(a.r3 * 90)::int END,
       CASE WHEN a.kind IN ('call', 'visit', 'meeting') THEN pg_temp.pick(ARRAY['有意向',
           '待跟进', '已确认需求', '暂无需求', '无人接听'], a.r2) END,
       CASE WHEN a.r4 < 0.5 THEN pg_temp.pick(ARRAY['安排产品演示', '发送正式报价',
           '约见决策人', '准备合同草稿'], a.r1) END,
       c.id, CASE WHEN a.r4 < 0.6 THEN c.contact_id END, who.owner, a.at, a.at, who.owner, 1
FROM (
    SELECT i, pg_temp.rnd(i, 1) AS r1, pg_temp.rnd(i, 2) AS r2, pg_temp.rnd(i, 3) AS r3,
           pg_temp.rnd(i, 4) AS r4, pg_temp.rnd(i, 5) AS r5, pg_temp.rnd(i, 6) AS r6,
           pg_temp.pick(ARRAY['call', 'call', 'call', 'call', 'email', 'email', 'email',
               'visit', 'visit', 'meeting', 'meeting', 'note', 'note', 'note'],
               pg_temp.rnd(i, 7)) AS kind,
           $3::timestamptz - interval '365 days' * pg_temp.rnd(i, 8) AS at,
           CASE WHEN i % 20 = 0 THEN ($5::int[])[1]
                WHEN i % 20 IN (1, 2) THEN ($5::int[])[least(cardinality($5::int[]),
                    2 + (i / 20) % greatest(cardinality($5::int[]) - 1, 1))]
                ELSE floor(pg_temp.rnd(i, 9) * $6)::int END AS customer_n
    FROM generate_series($1::bigint, $2::bigint - 1) AS i
) a
JOIN bench_customer c ON c.n = a.customer_n
CROSS JOIN LATERAL (
    SELECT CASE WHEN a.r5 < 0.8 THEN coalesce(c.owner_id, pg_temp.pick($4::uuid[], a.r6))
                ELSE pg_temp.pick($4::uuid[], a.r6) END AS owner
) who
ORDER BY a.i;
"""

# Tasks: one in 5 on the deepest customer; assigned mostly to the customer's owner.
# 60 % done, 10 % cancelled, the rest open (many overdue). $1 count, $2 now, $3 owners,
# $4 the deepest customer's number, $5 the number of customers.
TASKS = """
INSERT INTO {s}.tasks (id, title, description, customer_id, contact_id, assignee_id, due_at,
    priority, status, completed_at, created_at, updated_at, created_by, version)
SELECT pg_temp.uid('task', t.i, 0), t.title, t.description, c.id,
       CASE WHEN t.r1 < 0.3 THEN c.contact_id END, who.owner,
       t.created_at + interval '1 day' * (1 + floor(t.r4 * 14)), t.priority, t.status,
       done.at, t.created_at,
       coalesce(done.at, CASE WHEN t.status = 'cancelled'
                              THEN least($2::timestamptz, t.created_at + interval '1 day')
                              ELSE t.created_at END),
       who.owner, CASE WHEN t.status = 'open' THEN 1 ELSE 2 END
FROM (
    SELECT i, pg_temp.rnd(i, 1) AS r1, pg_temp.rnd(i, 2) AS r2, pg_temp.rnd(i, 3) AS r3,
           pg_temp.rnd(i, 4) AS r4, pg_temp.rnd(i, 5) AS r5,
           pg_temp.pick(ARRAY['准备报价单', '跟进合同', '发送资料', '安排演示', '回访客户'],
                        pg_temp.rnd(i, 6)) AS title,
           CASE WHEN pg_temp.rnd(i, 7) < 0.5 THEN '按客户要求跟进' END AS description,
           pg_temp.pick(ARRAY['low', 'low', 'normal', 'normal', 'normal', 'normal', 'normal',
               'high', 'high', 'urgent'], pg_temp.rnd(i, 8)) AS priority,
           CASE WHEN pg_temp.rnd(i, 9) < 0.6 THEN 'done'
                WHEN pg_temp.rnd(i, 9) < 0.7 THEN 'cancelled' ELSE 'open' END AS status,
           $2::timestamptz - interval '365 days' * pg_temp.rnd(i, 10) AS created_at,
           CASE WHEN i % 5 = 0 THEN $4::int
                ELSE floor(pg_temp.rnd(i, 11) * $5)::int END AS customer_n
    FROM generate_series(0, $1::bigint - 1) AS i
) t
JOIN bench_customer c ON c.n = t.customer_n
CROSS JOIN LATERAL (
    SELECT CASE WHEN t.r2 < 0.6 THEN coalesce(c.owner_id, pg_temp.pick($3::uuid[], t.r3))
                ELSE pg_temp.pick($3::uuid[], t.r3) END AS owner
) who
CROSS JOIN LATERAL (
    SELECT CASE WHEN t.status = 'done' THEN least($2::timestamptz,
        t.created_at + interval '1 hour' * (1 + floor(t.r5 * 336))) END AS at
) done
ORDER BY t.i;
"""

# Appointments: one in 5 on the deepest customer; from 11 months ago to 2 months
# ahead, 30 minutes to 3 hours, one in 10 cancelled. $1..$5 as for TASKS.
APPOINTMENTS = """
INSERT INTO {s}.appointments (id, title, customer_id, contact_id, owner_id, starts_at, ends_at,
    location, cancelled_at, created_at, updated_at, created_by, version)
SELECT pg_temp.uid('appointment', p.i, 0), p.title, c.id,
       CASE WHEN p.r1 < 0.5 THEN c.contact_id END, who.owner, p.starts_at,
       p.starts_at + interval '30 minutes' * (1 + floor(p.r4 * 6)), p.location, x.cancelled_at,
       x.created_at, coalesce(x.cancelled_at, x.created_at), who.owner,
       CASE WHEN x.cancelled_at IS NULL THEN 1 ELSE 2 END
FROM (
    SELECT i, pg_temp.rnd(i, 1) AS r1, pg_temp.rnd(i, 2) AS r2, pg_temp.rnd(i, 3) AS r3,
           pg_temp.rnd(i, 4) AS r4, pg_temp.rnd(i, 5) AS r5, pg_temp.rnd(i, 6) AS r6,
           pg_temp.pick(ARRAY['产品演示', '合同签署', '需求调研', '季度回访', '技术交流会'],
                        pg_temp.rnd(i, 7)) AS title,
           CASE WHEN pg_temp.rnd(i, 8) < 0.7 THEN pg_temp.pick(ARRAY['客户现场', '公司会议室',
               '线上会议', '客户总部'], pg_temp.rnd(i, 9)) END AS location,
           date_trunc('hour', $2::timestamptz - interval '330 days'
                              + interval '390 days' * pg_temp.rnd(i, 10)) AS starts_at,
           CASE WHEN i % 5 = 0 THEN $4::int
                ELSE floor(pg_temp.rnd(i, 11) * $5)::int END AS customer_n
    FROM generate_series(0, $1::bigint - 1) AS i
) p
JOIN bench_customer c ON c.n = p.customer_n
CROSS JOIN LATERAL (
    SELECT CASE WHEN p.r2 < 0.6 THEN coalesce(c.owner_id, pg_temp.pick($3::uuid[], p.r3))
                ELSE pg_temp.pick($3::uuid[], p.r3) END AS owner
) who
CROSS JOIN LATERAL (
    SELECT least($2::timestamptz, p.starts_at - interval '1 day' * (1 + floor(p.r5 * 10)))
               AS created_at,
           CASE WHEN p.r6 < 0.1 THEN least($2::timestamptz, p.starts_at - interval '2 hours')
               END AS cancelled_at
) x
ORDER BY p.i;
"""

OWNER_CHANGE = """
INSERT INTO {s}.audit_log (at, actor_id, actor_kind, action, entity_type, entity_id, changes)
VALUES ($1, $2, 'user', 'customer.update', 'customer', $3, $4::jsonb)
"""

TOUCHED = (
    "opportunities", "opportunity_stage_history", "activities", "tasks", "appointments",
    "audit_log",
    # written by the history's triggers (migration 0012)
    "opportunity_stage_stays", "stage_entry_days", "stage_exit_days", "stage_sets",
)  # fmt: skip


def summary_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """One year up to today, both ends inclusive."""
    return today - dt.timedelta(days=364), today


def forecast_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """Twelve calendar months from the first of this month."""
    start = today.replace(day=1)
    year, month = divmod(start.month - 1 + 12, 12)
    return start, dt.date(start.year + year, month + 1, 1) - dt.timedelta(days=1)


@dataclass
class PipelineData:
    """What the fill made, and what the API must answer for each role."""

    now: dt.datetime
    today: dt.date
    time_zone: str
    pipeline_id: uuid.UUID
    stages: list[dict]  # the default pipeline's live stages, by position
    rep_id: uuid.UUID
    rep_token: str
    deep_customer_id: uuid.UUID
    deep_customer_name: str
    rows: dict[str, int]
    seconds: dict[str, float]
    expect: dict[str, dict[str, int]] = field(default_factory=dict)  # role -> counts

    @property
    def open_stages(self) -> list[dict]:
        return [s for s in self.stages if s["kind"] == "open"]

    @property
    def summary_period(self) -> tuple[dt.date, dt.date]:
        return summary_period(self.today)

    @property
    def forecast_period(self) -> tuple[dt.date, dt.date]:
        return forecast_period(self.today)

    def report(self) -> dict:
        return {
            "rows": self.rows,
            "seconds": self.seconds,
            "now": self.now.isoformat(),
            "today": self.today.isoformat(),
            "time_zone": self.time_zone,
            "pipeline_id": str(self.pipeline_id),
            "stages": [{k: str(v) for k, v in s.items()} for s in self.stages],
            "rep_id": str(self.rep_id),
            "deep_customer": {"id": str(self.deep_customer_id), "name": self.deep_customer_name},
            "summary_period": [d.isoformat() for d in self.summary_period],
            "forecast_period": [d.isoformat() for d in self.forecast_period],
            "expect": self.expect,
        }


async def _prepare(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(HELPERS)
    await conn.execute(CUSTOMERS.format(s=_ident(schema)))


def _ranges(total: int, parts: int) -> list[tuple[int, int]]:
    step = -(-total // parts) if total else 0
    return [(lo, min(total, lo + step)) for lo in range(0, total, step)] if step else []


async def _fill_part(
    url: str, schema: str, opportunity_range: tuple[int, int] | None,
    activity_range: tuple[int, int] | None, p: dict,
) -> None:  # fmt: skip
    """One connection's share: opportunities (and their history), then activities."""
    s = _ident(schema)
    conn = await asyncpg.connect(url)
    try:
        await _prepare(conn, schema)
        open_ids = [st["id"] for st in p["open"]]
        if opportunity_range and opportunity_range[1] > opportunity_range[0]:
            async with conn.transaction():
                await conn.execute(
                    OPPORTUNITY_SPEC, *opportunity_range, p["now"], p["owners"], open_ids,
                    p["won"], p["lost"], p["customers"],
                )  # fmt: skip
                await conn.execute(
                    OPPORTUNITIES.format(s=s), p["today"], p["pipeline_id"], p["time_zone"]
                )
                await conn.execute(
                    STAGE_HISTORY.format(s=s), p["now"], open_ids, p["won"], p["lost"]
                )
                await conn.execute("DROP TABLE bench_opportunity")
        if activity_range and activity_range[1] > activity_range[0]:
            await conn.execute(
                ACTIVITIES.format(s=s), *activity_range, p["now"], p["owners"], p["hot"],
                p["customers"],
            )  # fmt: skip
    finally:
        await conn.close()


async def fill(settings: Settings, slug: str, opportunities: int, activities: int) -> PipelineData:
    """Opportunities with stage history, activities, tasks, appointments and owner
    changes in the data tenant; VACUUM ANALYZE; a token for the sales rep."""
    url = bench_db.plain_url(settings.database_url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        tenant = await conn.fetchrow(
            "SELECT id, schema_name, time_zone FROM catalog.tenants WHERE slug = $1", slug
        )
        schema, time_zone = tenant["schema_name"], tenant["time_zone"]
        s = _ident(schema)
        today = now.astimezone(ZoneInfo(time_zone)).date()
        pipeline_id = await conn.fetchval(
            f"SELECT id FROM {s}.pipelines WHERE is_default AND deleted_at IS NULL"
        )
        stages = [
            dict(r)
            for r in await conn.fetch(
                f"SELECT id, name, position, probability, kind FROM {s}.pipeline_stages "
                "WHERE pipeline_id = $1 AND deleted_at IS NULL ORDER BY position",
                pipeline_id,
            )
        ]
        users = {
            r["email"]: r
            for r in await conn.fetch(f"SELECT id, email, role FROM {s}.users WHERE active")
        }
        rep_id = users[REP_EMAIL]["id"]
        admin_id = users[bench_db.ADMIN_EMAIL]["id"]
        # The bench's people who own things (bench_db.fill_tenant's owners): the admin,
        # two sales reps and a manager.
        owners = [users[email]["id"] for email in sorted(users)]  # ids differ per run
        await _prepare(conn, schema)
        customers = await conn.fetchval("SELECT count(*) FROM bench_customer")
        if customers == 0:
            raise RuntimeError(f"{slug} has no customers to hang opportunities on")
        # The deepest timeline is on a customer the rep can see (their own, else one in
        # the pool), so both roles read the same feed; four more hot ones at random.
        deep = await conn.fetchrow(
            "SELECT n, id, name, owner_id FROM bench_customer "
            "WHERE owner_id = $1 OR owner_id IS NULL ORDER BY owner_id IS NULL, n LIMIT 1",
            rep_id,
        )
        if deep is None:
            raise RuntimeError(f"no customer of {slug} is visible to {REP_EMAIL}")
        others = await conn.fetch(
            "SELECT n FROM bench_customer WHERE n <> $1 ORDER BY pg_temp.rnd(n, 40) LIMIT $2",
            deep["n"],
            HOT_CUSTOMERS - 1,
        )
        hot = [deep["n"], *(r["n"] for r in others)]
        won = next(st["id"] for st in stages if st["kind"] == "won")
        lost = next(st["id"] for st in stages if st["kind"] == "lost")
        params = {
            "now": now, "today": today, "time_zone": time_zone, "owners": owners,
            "open": [st for st in stages if st["kind"] == "open"], "won": won, "lost": lost,
            "customers": customers, "hot": hot, "pipeline_id": pipeline_id,
        }  # fmt: skip
        seconds["prepare"] = time.perf_counter() - started

        t = time.perf_counter()
        parts = max(1, min(4, os.cpu_count() or 1))
        opp_ranges, act_ranges = _ranges(opportunities, parts), _ranges(activities, parts)
        await asyncio.gather(
            *(
                _fill_part(url, schema, o, a, params)
                for o, a in zip(
                    opp_ranges + [None] * (parts - len(opp_ranges)),
                    act_ranges + [None] * (parts - len(act_ranges)),
                    strict=True,
                )
            )
        )
        seconds["opportunities_and_activities"] = time.perf_counter() - t

        t = time.perf_counter()
        tasks = max(1, activities // TASKS_PER_ACTIVITY)
        appointments = max(1, activities // APPOINTMENTS_PER_ACTIVITY)
        await conn.execute(TASKS.format(s=s), tasks, now, owners, deep["n"], customers)
        await conn.execute(
            APPOINTMENTS.format(s=s), appointments, now, owners, deep["n"], customers
        )
        # Three owner changes of the deepest customer, ending with its current owner.
        chain = [None, *[o for o in owners if o not in (deep["owner_id"], rep_id)][:2]]
        chain.append(deep["owner_id"])
        for n, (before, after) in enumerate(zip(chain, chain[1:], strict=False)):
            change = {"owner_id": {"from": before and str(before), "to": after and str(after)}}
            await conn.execute(
                OWNER_CHANGE.format(s=s), now - dt.timedelta(days=300 - 100 * n), admin_id,
                deep["id"], json.dumps(change),
            )  # fmt: skip
        seconds["tasks_appointments_audit"] = time.perf_counter() - t

        t = time.perf_counter()
        for table in TOUCHED:
            await conn.execute(f"VACUUM ANALYZE {s}.{table}")
        seconds["vacuum_analyze"] = time.perf_counter() - t

        rows = {}
        for table in TOUCHED:
            rows[table] = await conn.fetchval(f"SELECT count(*) FROM {s}.{table}")
        expect = {
            "admin": await _expectations(conn, s, None, deep["id"], pipeline_id, today),
            "sales": await _expectations(conn, s, rep_id, deep["id"], pipeline_id, today),
        }
    finally:
        await conn.close()

    engine = create_engine(settings, owner=True, pool_size=1)
    try:
        rep_token = await issue_access_token(
            keyring=KeyRing(engine), settings=settings, tenant_id=tenant["id"], user_id=rep_id,
            roles=[users[REP_EMAIL]["role"]], ttl_seconds=3600,
        )  # fmt: skip
    finally:
        await engine.dispose()
    seconds["total"] = time.perf_counter() - started
    data = PipelineData(
        now=now, today=today, time_zone=time_zone, pipeline_id=pipeline_id, stages=stages,
        rep_id=rep_id, rep_token=rep_token, deep_customer_id=deep["id"],
        deep_customer_name=deep["name"], rows=rows, seconds=seconds, expect=expect,
    )  # fmt: skip
    return data


async def _expectations(
    conn: asyncpg.Connection, s: str, owner: uuid.UUID | None, customer: uuid.UUID,
    pipeline_id: uuid.UUID, today: dt.date,
) -> dict[str, int]:  # fmt: skip
    """What the answers must add up to for a caller who sees every opportunity (owner
    None) or only `owner`'s; `owner` also limits the feed's tasks and appointments."""
    start, end = forecast_period(today)
    mine = "($1::uuid IS NULL OR owner_id = $1)"
    row = await conn.fetchrow(
        f"""
        SELECT
          (SELECT count(*) FROM {s}.opportunities WHERE deleted_at IS NULL AND {mine}
             AND pipeline_id = $2 AND status = 'open') AS open,
          (SELECT count(*) FROM {s}.opportunities WHERE deleted_at IS NULL AND {mine})
             AS visible,
          (SELECT count(*) FROM {s}.opportunities WHERE deleted_at IS NULL AND {mine}
             AND status = 'open' AND expected_close_date BETWEEN $3 AND $4) AS forecast,
          (SELECT count(*) FROM {s}.activities WHERE deleted_at IS NULL AND customer_id = $5)
             AS activities,
          (SELECT count(*) + count(completed_at) FROM {s}.tasks WHERE deleted_at IS NULL
             AND customer_id = $5 AND ($1::uuid IS NULL OR assignee_id = $1)) AS task_items,
          (SELECT count(*) FROM {s}.appointments WHERE deleted_at IS NULL AND {mine}
             AND customer_id = $5) AS appointments,
          (SELECT count(*) FROM {s}.audit_log WHERE entity_type = 'customer'
             AND entity_id = $5 AND action = 'customer.update' AND changes ? 'owner_id')
             AS owner_changes
        """,
        owner, pipeline_id, start, end, customer,
    )  # fmt: skip
    result = dict(row)
    result["timeline"] = sum(
        result[k] for k in ("activities", "task_items", "appointments", "owner_changes")
    )
    return result


# -- the requests -------------------------------------------------------------------------


def operation(name: str) -> str:
    """A shipped operation document, as clients send it."""
    return (OPERATIONS / f"{name}.graphql").read_text()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def distribution(ms: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms),
    }


class CheckFailed(RuntimeError):
    pass


def request(url: str, token: str, query: str, variables: dict) -> tuple[float, bytes, dict]:
    """Milliseconds, body and parsed document of one request; 200 without errors."""
    started = time.perf_counter()
    status, body = bench_procs.post_json(url, token, {"query": query, "variables": variables})
    elapsed = (time.perf_counter() - started) * 1000
    document = json.loads(body) if body[:1] == b"{" else {}
    if status != 200 or document.get("errors") or "data" not in document:
        raise CheckFailed(f"answered {status}: {body[:500]!r}")
    return elapsed, body, document


@dataclass
class Case:
    key: str
    label: str
    query: str
    variables: dict
    check: Callable[[dict], str | None]


def _require(condition: bool, message: str) -> str | None:
    return None if condition else message


def check_summary(data: PipelineData, expect: dict) -> Callable[[dict], str | None]:
    def check(document: dict) -> str | None:
        summary = document["data"]["pipelineSummary"]
        if summary is None:
            return "pipelineSummary is null"
        stages = summary["stages"]
        counted = sum(s["count"] for s in stages)
        currencies = {a["currency"] for s in stages for a in s["amounts"]}
        return (
            _require(summary["pipeline"]["id"] == str(data.pipeline_id), "not the default pipeline")
            or _require(
                len(stages) == len(data.open_stages),
                f"{len(stages)} stages, expected {len(data.open_stages)} open ones",
            )
            or _require(counted == expect["open"], f"{counted} open, expected {expect['open']}")
            or _require(currencies <= {"CNY", "USD"}, f"currencies {sorted(currencies)}")
            or _require(
                all(s["entered"] >= s["advanced"] >= 0 for s in stages), "advanced > entered"
            )
        )

    return check


def check_forecast(expect: dict) -> Callable[[dict], str | None]:
    def check(document: dict) -> str | None:
        f = document["data"]["forecast"]
        sums = {k: sum(r["count"] for r in f[k]) for k in ("byMonth", "byOwner", "byTeam")}
        months = {r["month"] for r in f["byMonth"]}
        return _require(
            set(sums.values()) == {expect["forecast"]},
            f"counts {sums}, expected {expect['forecast']} each",
        ) or _require(len(months) <= 12, f"{len(months)} months")

    return check


def check_opportunities(expect: dict) -> Callable[[dict], str | None]:
    def check(document: dict) -> str | None:
        page = document["data"]["opportunities"]
        edges = page["edges"]
        amounts = [Decimal(e["node"]["amount"]) for e in edges]
        return (
            _require(
                page["totalCount"] == expect["visible"],
                f"totalCount {page['totalCount']}, expected {expect['visible']}",
            )
            or _require(
                len(edges) == min(PAGE, expect["visible"]), f"{len(edges)} edges, expected {PAGE}"
            )
            or _require(amounts == sorted(amounts, reverse=True), "amounts not descending")
            or _require(
                all(e["node"][k] for e in edges for k in ("customer", "owner", "stage")),
                "a node without customer, owner or stage",
            )
        )

    return check


def check_timeline(expected_edges: int) -> Callable[[dict], str | None]:
    def check(document: dict) -> str | None:
        feed = document["data"]["customerTimeline"]
        if feed is None:
            return "customerTimeline is null"
        edges = feed["edges"]
        types = {e["node"]["__typename"] for e in edges}
        ats = [dt.datetime.fromisoformat(e["node"]["at"]) for e in edges]
        return (
            _require(len(edges) == expected_edges, f"{len(edges)} edges, expected {expected_edges}")
            or _require(types <= TIMELINE_TYPES, f"types {sorted(types)}")
            or _require(ats == sorted(ats, reverse=True), "items not newest first")
        )

    return check


def walk_timeline(url: str, token: str, customer: uuid.UUID, pages: int, total: int) -> dict:
    """Follow endCursor from the first page for up to `pages` pages; the cursor that
    opens the last one reached (the deep page), and checks over the whole walk: no
    item twice, newest first across pages, as many items as the database holds."""
    query = operation("customerTimeline")
    after, seen, last_at, timings = None, set(), None, []
    page = 0
    deep_after, deep_page, deep_edges = None, 1, 0
    while page < pages:
        variables = {"customerId": str(customer), "first": PAGE}
        if after is not None:
            variables["after"] = after
        ms, _, document = request(url, token, query, variables)
        timings.append(ms)
        feed = document["data"]["customerTimeline"]
        if feed is None:
            raise CheckFailed("customerTimeline is null for the deepest customer")
        page += 1
        deep_after, deep_page, deep_edges = after, page, len(feed["edges"])
        for edge in feed["edges"]:
            node = edge["node"]
            key = (node["kind"], node["id"])
            if key in seen:
                raise CheckFailed(f"timeline item {key} twice (page {page})")
            seen.add(key)
            at = dt.datetime.fromisoformat(node["at"])
            if last_at is not None and at > last_at:
                raise CheckFailed(f"timeline not newest first at page {page}")
            last_at = at
        if not feed["pageInfo"]["hasNextPage"]:
            break
        after = feed["pageInfo"]["endCursor"]
    expected = min(total, pages * PAGE)
    if len(seen) != expected:
        raise CheckFailed(f"walked {len(seen)} timeline items, expected {expected}")
    return {
        "pages": page, "items": len(seen), "total": total, "page_ms": timings,
        "deep_page": deep_page, "deep_after": deep_after, "deep_edges": deep_edges,
    }  # fmt: skip


def timed(url: str, token: str, case: Case, requests: int, warmup: int) -> dict:
    """`warmup` requests, then up to `requests` timed ones one after the other (fewer
    when a slow query passes MAX_WARMUP_SECONDS, MAX_CASE_SECONDS); every answer checked."""
    started = time.perf_counter()
    for n in range(warmup):
        _, _, document = request(url, token, case.query, case.variables)
        if problem := case.check(document):
            raise CheckFailed(f"{case.label}: {problem}")
        if n >= 2 and time.perf_counter() - started > MAX_WARMUP_SECONDS:
            break
    timings, sizes = [], []
    started = time.perf_counter()
    for _ in range(requests):
        ms, body, document = request(url, token, case.query, case.variables)
        if problem := case.check(document):
            raise CheckFailed(f"{case.label}: {problem}")
        timings.append(ms)
        sizes.append(len(body))
        if len(timings) >= MIN_SAMPLES and time.perf_counter() - started > MAX_CASE_SECONDS:
            break
    return {
        "requests": len(timings),
        "latency_ms": distribution(timings),
        "bytes": statistics.fmean(sizes),
    }


def cases(data: PipelineData, role: str, walk: dict) -> list[Case]:
    expect = data.expect[role]
    start, end = data.summary_period
    f_start, f_end = data.forecast_period
    customer = str(data.deep_customer_id)
    deep = {"customerId": customer, "first": PAGE}
    if walk["deep_after"] is not None:
        deep["after"] = walk["deep_after"]
    return [
        Case("summary", "pipelineSummary (1 year)", operation("pipelineSummary"),
             {"filter": {"from": start.isoformat(), "to": end.isoformat()}},
             check_summary(data, expect)),
        Case("forecast", "forecast (12 months)", operation("forecast"),
             {"from": f_start.isoformat(), "to": f_end.isoformat()}, check_forecast(expect)),
        Case("opportunities", f"opportunities({PAGE}, amount desc)", operation("opportunities"),
             {"first": PAGE, "orderBy": [{"field": "AMOUNT", "direction": "DESC"}]},
             check_opportunities(expect)),
        Case("timeline_first", f"customerTimeline page 1 ({PAGE})",
             operation("customerTimeline"), {"customerId": customer, "first": PAGE},
             check_timeline(min(PAGE, expect["timeline"]))),
        Case("timeline_deep", f"customerTimeline page {walk['deep_page']} ({PAGE})",
             operation("customerTimeline"), deep, check_timeline(walk["deep_edges"])),
    ]  # fmt: skip


def measure(port: int, data: PipelineData, admin_token: str, requests: int, pages: int) -> dict:
    """Every case as the admin and as the rep, one request at a time."""
    url = f"http://127.0.0.1:{port}/graphql"
    warmup = max(3, requests // 10)
    results: dict = {"requests_per_case": requests, "warmup_per_case": warmup, "roles": {}}
    for role, token in (("admin", admin_token), ("sales", data.rep_token)):
        expect = data.expect[role]
        walk = walk_timeline(url, token, data.deep_customer_id, pages, expect["timeline"])
        measured = {c.key: {"label": c.label, **timed(url, token, c, requests, warmup)}
                    for c in cases(data, role, walk)}  # fmt: skip
        results["roles"][role] = {"cases": measured, "walk": walk}
    return results


def load_cases(data: PipelineData) -> list[dict]:
    """What the concurrent window runs (as the admin): query, variables, the list in
    the answer whose length loadgen checks, and that length."""
    start, end = data.summary_period
    expect = data.expect["admin"]
    return [
        {"key": "summary", "label": "pipelineSummary (1 year)",
         "query": operation("pipelineSummary"),
         "variables": {"filter": {"from": start.isoformat(), "to": end.isoformat()}},
         "items": "pipelineSummary.stages", "expect": len(data.open_stages)},
        {"key": "timeline_first", "label": f"customerTimeline page 1 ({PAGE})",
         "query": operation("customerTimeline"),
         "variables": {"customerId": str(data.deep_customer_id), "first": PAGE},
         "items": "customerTimeline.edges", "expect": min(PAGE, expect["timeline"])},
    ]  # fmt: skip


# -- EXPLAIN ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    """A data scope as the app's query functions take it (app.auth.principal.Scoped)."""

    user_id: uuid.UUID | None
    data_scope: str
    team_path: str | None = None


def _plan_summary(plan: dict) -> dict:
    """Execution time, the top node, the node with the most time of its own, buffers."""
    root = plan["Plan"]
    nodes = []

    def visit(node: dict) -> None:
        children = node.get("Plans", [])
        inclusive = node["Actual Total Time"] * node["Actual Loops"]
        below = sum(c["Actual Total Time"] * c["Actual Loops"] for c in children)
        nodes.append((max(0.0, inclusive - below), node))
        for child in children:
            visit(child)

    visit(root)

    def describe(node: dict) -> str:
        text = node["Node Type"]
        if node.get("Index Name"):
            text += f" using {node['Index Name']}"
        if node.get("Relation Name"):
            text += f" on {node['Relation Name']}"
        return text

    own_ms, heaviest = max(nodes, key=lambda item: item[0])
    return {
        "execution_ms": plan["Execution Time"],
        "planning_ms": plan["Planning Time"],
        "top": describe(root),
        "rows": root["Actual Rows"],
        "shared_hit": root.get("Shared Hit Blocks", 0),
        "shared_read": root.get("Shared Read Blocks", 0),
        "temp_written": root.get("Temp Written Blocks", 0),
        "heaviest": {
            "node": describe(heaviest),
            "own_ms": own_ms,
            "rows": heaviest["Actual Rows"] * heaviest["Actual Loops"],
            "loops": heaviest["Actual Loops"],
        },
        "plan": plan,
    }


async def explain(settings: Settings, schema: str, data: PipelineData, walks: dict) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of the summary's three statements and the timeline's
    (first and deep page), built by the app's own functions, for each role."""
    from sqlalchemy.ext.compiler import compiles
    from sqlalchemy.sql.expression import ClauseElement, Executable

    from app.activities import timeline
    from app.api.pagination import decode_cursor
    from app.db import tenant_transaction
    from app.pipeline import analytics, queries

    class Explain(Executable, ClauseElement):
        inherit_cache = False

        def __init__(self, statement) -> None:
            self.statement = statement

    @compiles(Explain, "postgresql")
    def _compile(element, compiler, **kw):
        return "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + compiler.process(
            element.statement, **kw
        )

    engine = create_engine(settings, owner=True, pool_size=1)
    results: dict = {}
    start, end = data.summary_period
    try:
        async with tenant_transaction(engine, schema) as conn:
            stages = (await queries.stages_by_pipeline(conn, [data.pipeline_id]))[data.pipeline_id]
            ids = [st.id for st in stages if st.kind == "open"]
            when = analytics.span(start, end, data.time_zone)

            def during(column):
                return analytics.period(column, start, end, data.time_zone)

            for role, who in (
                ("admin", Who(None, "all")),
                ("sales", Who(data.rep_id, "own")),
            ):
                scoped = analytics._scoped(who, data.pipeline_id, None)
                after = walks[role]["deep_after"]
                cursor = timeline.parse_after(decode_cursor(after, 3, "after")) if after else None
                statements = {
                    "summary: open amounts": analytics.open_amounts_query(scoped),
                    "summary: movements": analytics.movements_query(
                        who, data.pipeline_id, None, ids, when
                    ),
                    "summary: won/lost": analytics.closed_query(scoped, during),
                    "timeline: page 1": timeline.timeline_statement(
                        who, data.deep_customer_id, limit=PAGE + 1
                    ),
                    f"timeline: page {walks[role]['deep_page']}": timeline.timeline_statement(
                        who, data.deep_customer_id, limit=PAGE + 1, after=cursor
                    ),
                }
                results[role] = {}
                for name, statement in statements.items():
                    raw = (await conn.execute(Explain(statement))).scalar_one()
                    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]
                    results[role][name] = _plan_summary(plan)
    finally:
        await engine.dispose()
    return results


# -- the report ---------------------------------------------------------------------------


def summary_lines(results: dict) -> list[str]:
    fill = results["fill"]
    rows, secs = fill["rows"], fill["seconds"]
    expect = fill["expect"]
    lines = [
        f"Pipeline and timeline ({results['tenant']}): {rows['opportunities']:,} opportunities "
        f"({rows['opportunity_stage_history']:,} stage changes), {rows['activities']:,} "
        f"activities, {rows['tasks']:,} tasks, {rows['appointments']:,} appointments",
        f"  filled in {secs['total']:.1f} s: {secs['opportunities_and_activities']:.1f} s "
        f"opportunities, history, activities; {secs['tasks_appointments_audit']:.1f} s tasks, "
        f"appointments, owner changes; {secs['vacuum_analyze']:.1f} s VACUUM ANALYZE",
        f"  visible: admin {expect['admin']['visible']:,} opportunities "
        f"({expect['admin']['open']:,} open), sales rep {expect['sales']['visible']:,} "
        f"({expect['sales']['open']:,} open)",
        f"  deepest timeline, {fill['deep_customer']['name']} (one the rep can see):",
    ]
    for role, e in expect.items():
        lines.append(
            f"    {role:5} {e['timeline']:,} items: {e['activities']:,} activities, "
            f"{e['task_items']:,} task created/completed, {e['appointments']:,} appointments, "
            f"{e['owner_changes']} owner changes"
        )
    if "error" in results:
        return [*lines, f"  FAILED: {results['error']}"]
    seq = results["sequential"]
    lines.append(
        f"  one request at a time, ms ({seq['warmup_per_case']} warm-up, then up to "
        f"{seq['requests_per_case']} timed; n: how many):"
    )
    lines.append(
        f"  {'':34}{'role':>6}{'n':>5}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'bytes':>8}"
    )
    roles = seq["roles"]
    for key in roles["admin"]["cases"]:
        for role in roles:
            c = roles[role]["cases"][key]
            lat = c["latency_ms"]
            label = c["label"] if role == "admin" else ""
            lines.append(
                f"  {label:34}{role:>6}{c['requests']:5d}{lat['p50']:8.1f}{lat['p95']:8.1f}"
                f"{lat['p99']:8.1f}{lat['max']:8.1f}{c['bytes']:8.0f}"
            )
    for role, r in roles.items():
        walk = r["walk"]
        lines.append(
            f"  timeline walk ({role}): {walk['pages']} pages, {walk['items']:,} items, "
            f"p50 {statistics.median(walk['page_ms']):.1f} ms a page; none twice, newest first"
        )
    if results.get("load"):
        first = next(iter(results["load"].values()))
        lines.append(
            f"  concurrent, admin, {first['connections']} connections, "
            f"{first['warmup_seconds']:g} s warm-up + {first['seconds']:.0f} s:"
        )
        lines.append(
            f"  {'':34}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>8}{'server':>8}{'postgres':>9}"
            f"{'failed':>7}"
        )
        lines.append(f"  {'':57}{'CPU ms/request':>15}")
        for r in results["load"].values():
            cpu, lat = r["cpu_ms_per_request"], r["latency_ms"]
            if not r["requests"]:  # every request outlasted the window
                lines.append(f"  {r['label']:34}  none answered within the window")
                continue
            lines.append(
                f"  {r['label']:34}{r['requests_per_second']:7.1f}{lat['p50']:8.1f}"
                f"{lat['p99']:8.1f}{cpu['server']:8.2f}{cpu['postgres']:9.2f}"
                f"{r['checked']['failures']:7d}"
            )
    plans = results.get("explain")
    if isinstance(plans, dict) and "error" not in plans:
        lines.append("  EXPLAIN (ANALYZE, BUFFERS) of the app's statements for these queries:")
        for role, statements in plans.items():
            for name, p in statements.items():
                temp = f", temp written {p['temp_written']:,}" if p["temp_written"] else ""
                lines.append(
                    f"    {role:5} {name:22}{p['execution_ms']:8.1f} ms  {p['top']}, "
                    f"{p['rows']:,} rows; buffers hit {p['shared_hit']:,} read "
                    f"{p['shared_read']:,}{temp}"
                )
                top = p["heaviest"]
                lines.append(
                    f"    {'':28}most own time: {top['node']}, {top['own_ms']:.1f} ms, "
                    f"{top['rows']:,} rows in {top['loops']:,} loop(s)"
                )
    elif isinstance(plans, dict):
        lines.append(f"  EXPLAIN skipped: {plans['error']}")
    return lines
