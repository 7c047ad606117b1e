"""The stays and daily counts behind pipelineSummary (migration 0012): random moves,
closes, reopens and owner changes through the API, the history then re-timed to known
instants (so periods, day edges, ties and a DST change all matter), and every number
checked against one worked out here in Python from the history itself, for each
data scope, the owner filter and two time zones. Also: what the triggers keep equals
what the migration's backfill makes; concurrent moves never make stays overlap; the
summary's statements do not grow with the data and never sort the history."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from helpers import make_tenant
from pipeline_ops import (
    CLOSE,
    CREATE,
    MOVE,
    REOPEN,
    UPDATE,
    build_org,
    default_pipeline,
    new_customer,
    operation,
)
from sqlalchemy import func, select, text, update

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.customers import service as customers
from app.db import tenant_transaction
from app.pipeline import analytics
from app.pipeline import service as pipeline_service
from app.pipeline.tables import (
    opportunities,
    opportunity_stage_history,
    opportunity_stage_stays,
    pipeline_stages,
    pipelines,
    stage_entry_days,
    stage_exit_days,
    stage_sets,
)
from tenants import grants
from tenants.catalog import tenants
from tenants.migrations import MIGRATIONS_DIR

SUMMARY = operation("pipelineSummary")
PEOPLE = {"mgr": ("manager", "east"), "rep_a": ("sales", "east"), "rep_b": ("sales", "west")}
VISIBLE = {
    "admin": {"admin", "mgr", "rep_a", "rep_b"},
    "mgr": {"mgr", "rep_a"},
    "rep_a": {"rep_a"},
    "rep_b": {"rep_b"},
}
OWNERS = ["admin", "mgr", "rep_a", "rep_b"]
SEED = 20261123
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
FIRST = NOW - dt.timedelta(days=110)  # re-timed history runs from here, over ~100 days
ZONES = ["Asia/Shanghai", "America/New_York"]  # the second has a DST change in the span
DAY = 86400


def _migration():
    path = MIGRATIONS_DIR / "tenant" / "versions" / "0012_stage_stays.py"
    spec = importlib.util.spec_from_file_location("migration_0012", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the data --------------------------------------------------------------------------


@dataclass
class Data:
    """The tenant's state as read back: the history and the opportunities."""

    history: dict[uuid.UUID, list]  # per opportunity, ordered by (changed_at, id)
    opportunities: dict[uuid.UUID, object]
    stages: dict[uuid.UUID, object]
    funnel: list[uuid.UUID]
    won: uuid.UUID
    pipeline_id: uuid.UUID


async def read(engine, schema: str) -> Data:
    h, o, s = opportunity_stage_history, opportunities, pipeline_stages
    async with tenant_transaction(engine, schema) as conn:
        default = (await conn.execute(select(pipelines).where(pipelines.c.is_default))).one()
        stages = (
            await conn.execute(
                select(s).where(s.c.pipeline_id == default.id).order_by(s.c.position)
            )
        ).all()
        opps = {r.id: r for r in await conn.execute(select(o))}
        history: dict[uuid.UUID, list] = defaultdict(list)
        for row in await conn.execute(select(h).order_by(h.c.changed_at, h.c.id)):
            history[row.opportunity_id].append(row)
    live = [st for st in stages if st.deleted_at is None]
    return Data(
        history=dict(history), opportunities=opps, stages={st.id: st for st in stages},
        funnel=[st.id for st in live if st.kind == "open"],
        won=next(st.id for st in live if st.kind == "won"), pipeline_id=default.id,
    )  # fmt: skip


def _cents(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def expected_summary(data: Data, owners: set[uuid.UUID], start, end, zone: str) -> dict:
    """pipelineSummary's numbers straight from the history, as documented: entered
    (opportunities that entered the stage in the period), advanced (of those, the
    ones that from such an entry on, or at the same instant, entered a stage ranked
    after it), stays ended in the period and their average length, the open ones now,
    and won/lost by closing time."""
    tz = ZoneInfo(zone)
    lower = None if start is None else dt.datetime.combine(start, dt.time(), tz)
    upper = None if end is None else dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz)

    def inside(when: dt.datetime) -> bool:
        return (lower is None or when >= lower) and (upper is None or when < upper)

    ranks = {stage: i for i, stage in enumerate(data.funnel)} | {data.won: len(data.funnel)}
    opps = {
        i: o
        for i, o in data.opportunities.items()
        if o.owner_id in owners and o.deleted_at is None and o.pipeline_id == data.pipeline_id
    }
    stages = []
    for stage in data.funnel:
        money: dict[str, Decimal] = defaultdict(Decimal)
        here = [o for o in opps.values() if o.status == "open" and o.stage_id == stage]
        for o in here:
            money[o.currency] += o.amount
        probability = data.stages[stage].probability
        entered, advanced, stays = set(), set(), []
        for i in opps:
            rows = data.history.get(i, [])
            for j, row in enumerate(rows):
                if row.to_stage_id != stage:
                    continue
                if inside(row.changed_at):
                    entered.add(i)
                    later = [r for r in rows if r.changed_at >= row.changed_at]
                    if any(ranks.get(r.to_stage_id, -1) > ranks[stage] for r in later):
                        advanced.add(i)
                if j + 1 < len(rows) and inside(rows[j + 1].changed_at):
                    stays.append((rows[j + 1].changed_at - row.changed_at).total_seconds() / DAY)
        stages.append({
            "stage": data.stages[stage].name,
            "count": len(here),
            "amounts": [
                {"currency": c, "amount": _cents(a), "weighted": _cents(a * probability / 100)}
                for c, a in sorted(money.items())
            ],
            "entered": len(entered),
            "advanced": len(advanced),
            "conversionRate": len(advanced) / len(entered) if entered else None,
            "staysEnded": len(stays),
            "averageDaysInStage": sum(stays) / len(stays) if stays else None,
        })  # fmt: skip
    closed = [o for o in opps.values() if o.status != "open" and inside(o.closed_at)]
    won = sum(o.status == "won" for o in closed)
    return {
        "stages": stages,
        "won": won,
        "lost": len(closed) - won,
        "winRate": won / len(closed) if closed else None,
    }


def comparable(summary: dict) -> dict:
    out = {k: summary[k] for k in ("won", "lost", "winRate")}
    out["stages"] = [
        dict(s, stage=s["stage"] if isinstance(s["stage"], str) else s["stage"]["name"])
        for s in summary["stages"]
    ]
    return out


def assert_same(got: dict, want: dict, context) -> None:
    got, want = comparable(got), comparable(want)
    for key in ("won", "lost"):
        assert got[key] == want[key], (context, key, got, want)
    _close(got["winRate"], want["winRate"], context)
    for a, b in zip(got["stages"], want["stages"], strict=True):
        for key in ("stage", "count", "amounts", "entered", "advanced", "staysEnded"):
            assert a[key] == b[key], (context, a["stage"], key, a, b)
        for key in ("conversionRate", "averageDaysInStage"):
            _close(a[key], b[key], (context, a["stage"], key, a, b))


def _close(got: float | None, want: float | None, context) -> None:
    if want is None:
        assert got is None, context
    else:
        assert got == pytest.approx(want, rel=1e-12), context


# -- what the stays and counts must hold ------------------------------------------------


def expected_stays(data: Data) -> dict:
    """One stay per history row, worked out from the history."""
    stays = {}
    for rows in data.history.values():
        for j, row in enumerate(rows):
            nxt = rows[j + 1] if j + 1 < len(rows) else None
            prior = [r.changed_at for r in rows[:j] if r.to_stage_id == row.to_stage_id]
            reached = {r.to_stage_id for r in rows if r.changed_at >= row.changed_at}
            stays[row.id] = (
                row.opportunity_id, row.to_stage_id, row.changed_at,
                nxt and nxt.changed_at, nxt and nxt.to_stage_id, prior[-1] if prior else None,
                tuple(sorted(reached)),
            )  # fmt: skip
    return stays


def _seconds(delta: dt.timedelta) -> Decimal:
    return Decimal(delta.days * DAY + delta.seconds) + Decimal(delta.microseconds) / 10**6


def expected_counts(data: Data, stays: dict) -> tuple[dict, dict]:
    entries: dict[tuple, int] = defaultdict(int)
    exits: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    for opportunity_id, stage, entered, left, _, prior, reached in stays.values():
        o = data.opportunities[opportunity_id]
        if o.deleted_at is not None:
            continue
        if prior is None:
            entries[(stage, o.owner_id, entered.astimezone(dt.UTC).date(), reached)] += 1
        if left is not None:
            key = (stage, o.owner_id, left.astimezone(dt.UTC).date())
            exits[key][0] += 1
            exits[key][1] += _seconds(left - entered)
    return dict(entries), {k: tuple(v) for k, v in exits.items()}


async def stored(engine, schema: str) -> tuple[dict, dict, dict]:
    """The stays and daily counts as stored (reached sets as stage ids; counts that
    went back to zero left out)."""
    st, e, x, sets = opportunity_stage_stays, stage_entry_days, stage_exit_days, stage_sets
    async with tenant_transaction(engine, schema) as conn:
        set_ids = {r.id: tuple(sorted(r.stage_ids)) for r in await conn.execute(select(sets))}
        stays = {
            r.id: (r.opportunity_id, r.stage_id, r.entered_at, r.left_at, r.next_stage_id,
                   r.prior_entry_at, set_ids[r.reached_set])
            for r in await conn.execute(select(st))
        }  # fmt: skip
        entries = {
            (r.stage_id, r.owner_id, r.day, set_ids[r.reached_set]): r.entered
            for r in await conn.execute(select(e).where(e.c.entered != 0))
        }
        exits = {
            (r.stage_id, r.owner_id, r.day): (r.stays, r.seconds)
            for r in await conn.execute(select(x).where((x.c.stays != 0) | (x.c.seconds != 0)))
        }
    return stays, entries, exits


async def assert_derived_match_history(engine, schema: str) -> None:
    data = await read(engine, schema)
    stays = expected_stays(data)
    got_stays, got_entries, got_exits = await stored(engine, schema)
    assert got_stays == stays
    entries, exits = expected_counts(data, stays)
    assert got_entries == entries
    assert got_exits == exits


# -- the scenario ----------------------------------------------------------------------


class Driver:
    """Random moves, closes, reopens and owner changes through the API (the admin's
    token), each with the version the last answer gave."""

    def __init__(self, api, org, pipeline: dict, rng: random.Random) -> None:
        self.api, self.org, self.rng = api, org, rng
        self.token = org.tokens["admin"]
        self.open_stages = [s["id"] for s in pipeline["stages"] if s["kind"] == "OPEN"]
        self.state: dict[str, dict] = {}

    async def _call(self, document: str, name: str, payload: dict) -> None:
        data = await self.api.gql(document, {"input": payload}, token=self.token)
        result = data[name]
        assert result["userErrors"] == [], result["userErrors"]
        self.state[result["opportunity"]["id"]] = result["opportunity"]

    async def create(self, customer_id: str) -> None:
        rng = self.rng
        owner = rng.choice(OWNERS)
        await self._call(CREATE, "createOpportunity", {
            "customerId": customer_id, "name": f"机会{len(self.state)}",
            "amount": f"{rng.randint(100, 900000)}.{rng.randint(0, 99):02d}",
            "currency": rng.choice(["CNY", "CNY", "USD"]),
            "ownerId": str(self.org.ids[owner]), "stageId": rng.choice(self.open_stages),
        })  # fmt: skip

    async def step(self) -> None:
        rng = self.rng
        opp = self.state[rng.choice(sorted(self.state))]
        ident = {"id": opp["id"], "version": opp["version"]}
        roll = rng.random()
        if roll < 0.1:
            owner = str(self.org.ids[rng.choice(OWNERS)])
            await self._call(UPDATE, "updateOpportunity", ident | {"ownerId": owner})
        elif opp["status"] != "OPEN":
            stage = rng.choice([None, *self.open_stages])
            await self._call(REOPEN, "reopenOpportunity", ident | {"stageId": stage})
        elif roll < 0.65:
            stage = rng.choice([s for s in self.open_stages if s != opp["stageId"]])
            await self._call(MOVE, "moveOpportunity", ident | {"stageId": stage})
        elif roll < 0.85:
            await self._call(CLOSE, "closeOpportunity", ident | {"outcome": "WON"})
        else:
            await self._call(
                CLOSE, "closeOpportunity", ident | {"outcome": "LOST", "reason": "价格"}
            )


def _instants(rng: random.Random, count: int, zones: list[ZoneInfo]) -> list[dt.datetime]:
    """`count` non-decreasing instants from about FIRST on: mostly random gaps, some
    ties, some exactly on a midnight (UTC, or local in one of `zones`)."""
    at = FIRST + dt.timedelta(seconds=rng.randint(0, 20 * DAY))
    out = []
    for _ in range(count):
        roll = rng.random()
        if out and roll < 0.08:
            pass  # the same instant as the row before
        elif roll < 0.2:
            zone = rng.choice([dt.UTC, *zones])
            local = (at + dt.timedelta(days=rng.randint(1, 5))).astimezone(zone)
            at = dt.datetime.combine(local.date(), dt.time(), zone).astimezone(dt.UTC)
            at = max(at, out[-1] if out else at)
        else:
            at += dt.timedelta(
                seconds=rng.randint(60, 4 * DAY), microseconds=rng.randint(0, 999999)
            )
        out.append(at)
    return out


RETIME = """
UPDATE opportunity_stage_history h SET changed_at = v.at
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v (id uuid, at timestamptz)
WHERE h.id = v.id
"""
CLOSED_AT = """
UPDATE opportunities o SET closed_at = last.at
FROM (SELECT DISTINCT ON (opportunity_id) opportunity_id, changed_at AS at
      FROM opportunity_stage_history ORDER BY opportunity_id, changed_at DESC, id DESC) last
WHERE o.id = last.opportunity_id AND o.status <> 'open'
"""


async def retime(owner, schema: str, rng: random.Random) -> None:
    """Each opportunity's history keeps its order but moves to known instants over
    the past ~100 days (one statement: the triggers' bulk path); closed ones close at
    their last change."""
    data = await read(owner, schema)
    zones = [ZoneInfo(z) for z in ZONES]
    rows = []
    for history in data.history.values():
        for row, at in zip(history, _instants(rng, len(history), zones), strict=True):
            rows.append({"id": str(row.id), "at": at.isoformat()})
    async with tenant_transaction(owner, schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        await conn.execute(text(RETIME), {"rows": json.dumps(rows)})
        await conn.execute(text(CLOSED_AT))


@pytest.fixture(scope="module")
async def scene(api, owner, services):
    rng = random.Random(SEED)
    org = await build_org(
        api, owner, services, "stays", [("sales", None), ("east", "sales"), ("west", "sales")],
        PEOPLE,
    )  # fmt: skip
    schema = org.tenant.schema
    pipeline = await default_pipeline(api, org.tokens["admin"])
    driver = Driver(api, org, pipeline, rng)
    customer = await new_customer(api, org.tokens["admin"], "停留客户")
    for _ in range(24):
        await driver.create(customer)
    for _ in range(110):
        await driver.step()
    await retime(owner, schema, rng)
    # More through the API after re-timing (now, after every re-timed instant).
    for _ in range(30):
        await driver.step()
    # Writers other than the app: a soft delete, an owner change of several at once, a
    # history row deleted, all in SQL.
    ids = sorted(uuid.UUID(i) for i in driver.state)
    async with tenant_transaction(owner, schema) as conn:
        o, h = opportunities, opportunity_stage_history
        await conn.execute(update(o).where(o.c.id == ids[0]).values(deleted_at=NOW))
        await conn.execute(update(o).where(o.c.id.in_(ids[1:4])).values(owner_id=org.ids["rep_b"]))
        victim = (
            await conn.execute(
                select(h.c.id).where(h.c.opportunity_id == ids[4]).order_by(h.c.changed_at)
            )
        ).first()
        await conn.execute(h.delete().where(h.c.id == victim.id))
    return {"org": org, "schema": schema, "driver": driver, "rng": rng}


def _periods(rng: random.Random) -> list[tuple[dt.date | None, dt.date | None]]:
    first, today = FIRST.date(), NOW.date()
    dst = dt.date(2026, 11, 1) if first <= dt.date(2026, 11, 1) <= today else today
    periods = [(None, None), (first, today), (today, today), (dst, dst), (dst, None),
               (None, dst), (today - dt.timedelta(days=7), None)]  # fmt: skip
    for _ in range(8):
        a = first + dt.timedelta(days=rng.randint(-3, 110))
        periods.append((a, a + dt.timedelta(days=rng.choice([0, 0, 1, 2, 6, 13, 30, 60]))))
    return periods


async def _set_zone(owner, tenant_id: uuid.UUID, zone: str) -> None:
    async with owner.begin() as conn:
        await conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(time_zone=zone))
    await asyncio.sleep(1.2)  # the tests' principal cache holds the tenant for 1 s


@pytest.mark.parametrize("zone", ZONES)
async def test_summary_matches_the_history(api, owner, scene, zone):
    org = scene["org"]
    await _set_zone(owner, org.tenant.id, zone)
    data = await read(owner, scene["schema"])
    rng = random.Random(f"{SEED}-{zone}")
    people = [(p, None) for p in VISIBLE] + [("admin", "rep_a"), ("mgr", "rep_b")]
    try:
        for start, end in _periods(rng):
            for person, filter_owner in people:
                variables = {"from": start and start.isoformat(), "to": end and end.isoformat()}
                if filter_owner:
                    variables["ownerId"] = str(org.ids[filter_owner])
                got = await api.gql(SUMMARY, {"filter": variables}, token=org.tokens[person])
                owners = {org.ids[p] for p in VISIBLE[person]}
                if filter_owner:
                    owners &= {org.ids[filter_owner]}
                want = expected_summary(data, owners, start, end, zone)
                assert_same(got["pipelineSummary"], want, (zone, person, filter_owner, start, end))
    finally:
        await _set_zone(owner, org.tenant.id, "Asia/Shanghai")


async def test_summary_counts_something(owner, scene):
    """The scenario is not vacuous: re-entries, ties, stays ended on both sides of
    midnights, closed and reopened ones."""
    data = await read(owner, scene["schema"])
    stays = expected_stays(data)
    assert sum(1 for s in stays.values() if s[5] is not None) >= 10  # entered again
    assert sum(len(v) for v in data.history.values()) >= 120
    ties = sum(
        a.changed_at == b.changed_at
        for rows in data.history.values()
        for a, b in zip(rows, rows[1:], strict=False)
    )
    assert ties >= 3
    assert {o.status for o in data.opportunities.values()} == {"open", "won", "lost"}


async def test_stays_and_daily_counts_match_the_history(owner, scene):
    await assert_derived_match_history(owner, scene["schema"])


async def test_assigned_scope_counts_nothing(owner, scene):
    @dataclass(frozen=True)
    class Partner:
        user_id: uuid.UUID
        data_scope: str = "assigned"
        team_path: str | None = None

    async with tenant_transaction(owner, scene["schema"]) as conn:
        stages = (
            await conn.execute(
                select(pipeline_stages)
                .join(pipelines, pipelines.c.id == pipeline_stages.c.pipeline_id)
                .where(pipelines.c.is_default, pipeline_stages.c.deleted_at.is_(None))
                .order_by(pipeline_stages.c.position)
            )
        ).all()
        summary = await analytics.pipeline_summary(
            conn, Partner(scene["org"].ids["rep_a"]), stages=stages, owner_id=None,
            start=None, end=None, time_zone="Asia/Shanghai",
        )  # fmt: skip
    assert all(
        (n.count, n.entered, n.advanced, n.stays_ended) == (0, 0, 0, 0) for n in summary.stages
    )
    assert (summary.won, summary.lost) == (0, 0)


async def test_concurrent_moves_never_overlap(owner, services, scene):
    """Moves of one opportunity from several transactions at once queue on its row;
    moves of many opportunities of one owner at once (the same daily counts) neither
    deadlock nor lose a count; and writers of the history that take no lock of their
    own (SQL) are serialised by the trigger's."""
    schema = scene["schema"]
    data = await read(owner, schema)
    open_ones = sorted(
        i for i, o in data.opportunities.items() if o.status == "open" and o.deleted_at is None
    )
    rng = random.Random(f"{SEED}-concurrent")

    async def move(opportunity_id: uuid.UUID) -> None:
        async with tenant_transaction(services.engine, schema) as conn:
            o = opportunities
            current = (
                await conn.execute(
                    select(o.c.stage_id).where(o.c.id == opportunity_id).with_for_update()
                )
            ).scalar()
            await pipeline_service.move_opportunity(
                conn, actor=SYSTEM, who=EVERYTHING, opportunity_id=opportunity_id, version=None,
                stage_id=rng.choice([s for s in data.funnel if s != current]),
            )  # fmt: skip
            await asyncio.sleep(0.02)  # hold the transaction open a little

    async def insert(opportunity_id: uuid.UUID, stage_id: uuid.UUID, at: dt.datetime) -> None:
        async with tenant_transaction(owner, schema) as conn:
            await conn.execute(
                opportunity_stage_history.insert().values(
                    id=uuid.uuid4(), opportunity_id=opportunity_id, to_stage_id=stage_id,
                    changed_at=at,
                )
            )  # fmt: skip
            await asyncio.sleep(0.05)

    target = open_ones[0]
    for _ in range(3):
        await asyncio.gather(*(move(target) for _ in range(4)))
        await asyncio.gather(*(move(i) for i in open_ones[1:9]))
    later = NOW + dt.timedelta(days=1)
    await asyncio.gather(
        *(insert(target, data.funnel[k % 4], later + dt.timedelta(hours=k)) for k in range(5))
    )
    after = await read(owner, schema)
    rows = after.history[target]
    assert len(rows) == len(data.history[target]) + 12 + 5
    got, _, _ = await stored(owner, schema)
    mine = sorted((got[r.id] for r in rows), key=lambda s: (s[2], s[3] is None))
    for a, b in zip(mine, mine[1:], strict=False):
        assert a[3] == b[2]  # each stay ends where the next begins: none overlap
    assert mine[-1][3] is None
    await assert_derived_match_history(owner, schema)


def _statements(counter) -> list[str]:
    return [s for s in counter.statements if "pipeline" in s or "opportunit" in s]


async def test_backfill_as_the_migration_runs_it_equals_live_upkeep(owner, services, scene):
    """Migration 0012 run again on this tenant (its downgrade, then its upgrade with
    the backfill, in one transaction with the tenant's search_path, as
    tenants/migrations.py runs it) makes exactly what the triggers kept."""
    schema = scene["schema"]
    live = await stored(owner, schema)
    migration = _migration()
    async with owner.begin() as conn:
        await conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')

        def rerun(sync) -> None:
            with Operations.context(MigrationContext.configure(sync)):
                migration.downgrade()
                migration.upgrade()
            grants.grant_tenant(sync, schema, services.settings.app_role)

        await conn.run_sync(rerun)
    assert await stored(owner, schema) == live
    await assert_derived_match_history(owner, schema)


async def test_backfill_of_history_written_before_the_migration(owner, services):
    """History that predates the triggers (written with them off) is what the backfill
    statement turns into stays and counts, the same as if written live."""
    tenant = await make_tenant(owner, services, "staysold")
    schema = tenant.schema
    async with tenant_transaction(services.engine, schema) as conn:
        customer = await customers.create_customer(
            conn, actor=SYSTEM, who=EVERYTHING, customer_id=None, fields={"name": "旧客户"}
        )
    async with tenant_transaction(owner, schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        await conn.execute(text("ALTER TABLE opportunity_stage_history DISABLE TRIGGER USER"))
        await conn.execute(text(FILL), {"customer": customer.id, "owner": tenant.user_ids["sales"],
                                        "n": 300, "days": 20})  # fmt: skip
        await conn.execute(text(STAGE_NOW))
        await conn.execute(text("ALTER TABLE opportunity_stage_history ENABLE TRIGGER USER"))
    assert (await stored(owner, schema))[0] == {}
    async with owner.begin() as conn:
        await conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
        await conn.exec_driver_sql(_migration().BACKFILL)
    await assert_derived_match_history(owner, schema)


# -- statements and plans --------------------------------------------------------------

# Opportunities walked through the funnel in SQL: the i-th enters stages 0..(i % 4) one
# after another, starting at a time spread over `days` days (the triggers run, unless
# turned off); then each sits in the last stage it entered.
FILL = """
WITH funnel AS (
    SELECT p.id AS pipeline_id, array_agg(s.id ORDER BY s.position) AS ids
    FROM pipelines p JOIN pipeline_stages s ON s.pipeline_id = p.id
    WHERE p.is_default AND s.kind = 'open' AND s.deleted_at IS NULL
    GROUP BY p.id
), made AS (
    INSERT INTO opportunities (id, customer_id, name, amount, owner_id, pipeline_id, stage_id)
    SELECT gen_random_uuid(), :customer, '机会' || i, i * 10, :owner, f.pipeline_id, f.ids[1]
    FROM funnel f, generate_series(1, :n) AS i
    RETURNING id
), numbered AS (
    SELECT m.id, row_number() OVER (ORDER BY m.id) AS i FROM made m
)
INSERT INTO opportunity_stage_history (id, opportunity_id, from_stage_id, to_stage_id, changed_at)
SELECT gen_random_uuid(), n.id, CASE WHEN j > 0 THEN f.ids[j] END, f.ids[j + 1],
       TIMESTAMPTZ '2026-01-01 00:00+00' + (n.i * interval '1 day' * :days / :n)
       + j * interval '17 hours 13 minutes'
FROM numbered n, funnel f, generate_series(0, (n.i % 4)::int) AS j
"""
STAGE_NOW = """
UPDATE opportunities o SET stage_id = h.to_stage_id
FROM (SELECT DISTINCT ON (opportunity_id) opportunity_id, to_stage_id
      FROM opportunity_stage_history ORDER BY opportunity_id, changed_at DESC, id DESC) h
WHERE h.opportunity_id = o.id AND o.stage_id <> h.to_stage_id
"""


@pytest.fixture(scope="module")
async def crowded(owner, services):
    tenant = await make_tenant(owner, services, "stayscrowd")
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        customer = await customers.create_customer(
            conn, actor=SYSTEM, who=EVERYTHING, customer_id=None, fields={"name": "大户"}
        )
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}"'))
        await conn.execute(text(FILL), {"customer": customer.id, "owner": tenant.user_ids["sales"],
                                        "n": 4000, "days": 60})  # fmt: skip
        await conn.execute(text(STAGE_NOW))
    async with owner.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("opportunities", "opportunity_stage_history", "opportunity_stage_stays",
                      "stage_entry_days", "stage_exit_days", "stage_sets"):  # fmt: skip
            await conn.exec_driver_sql(f'VACUUM ANALYZE "{tenant.schema}".{table}')
    return tenant


PERIOD = {"filter": {"from": "2026-01-03", "to": "2026-02-25"}}


async def test_statement_count_does_not_grow_with_the_data(api, scene, crowded, sql_counter):
    counts = []
    for token in (scene["org"].tokens["admin"], crowded.tokens["admin"], crowded.tokens["sales"]):
        await api.gql("{ me { user { id } } }", token=token)  # the principal, cached
        sql_counter.statements.clear()
        await api.gql(SUMMARY, PERIOD, token=token)
        counts.append((sql_counter.count, len(_statements(sql_counter))))
    assert counts[0] == counts[1] == counts[2], counts
    # The pipeline, its stages, then open amounts, movements and won/lost: all of them.
    assert counts[0] == (5, 5), sql_counter.statements


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("role", ["admin", "sales"])
async def test_movements_never_sort_the_history(api, owner, services, crowded, sql_counter, role):
    """EXPLAIN ANALYZE of the movements statement the API ran, on 4,000 opportunities
    over 60 days: no window function, the history is not read, the stays only through
    their indexes and only at the period's ends, and nothing sorted is anywhere near
    the size of the history."""
    await api.gql("{ me { user { id } } }", token=crowded.tokens[role])
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(SUMMARY, PERIOD, token=crowded.tokens[role])
    (statement, parameters) = next(
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if "opportunity_stage_stays" in s
    )
    async with services.engine.begin() as conn:
        raw = await conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
        plan = raw.scalar()
        plan = plan if isinstance(plan, list) else json.loads(plan)
    async with tenant_transaction(owner, crowded.schema) as conn:
        history = await conn.scalar(select(func.count()).select_from(opportunity_stage_history))
    nodes = list(_nodes(plan[0]["Plan"]))
    kinds = {n["Node Type"] for n in nodes}
    relations = {n.get("Relation Name") for n in nodes}
    assert "WindowAgg" not in kinds
    assert "opportunity_stage_history" not in relations
    stays = [n for n in nodes if n.get("Relation Name") == "opportunity_stage_stays"]
    assert stays and all(n["Node Type"] in ("Index Scan", "Bitmap Heap Scan", "Index Only Scan")
                         for n in stays), [n["Node Type"] for n in stays]  # fmt: skip
    assert sum(n["Actual Rows"] * n["Actual Loops"] for n in stays) < history / 10
    sorted_rows = [n["Actual Rows"] for n in nodes if n["Node Type"] == "Sort"]
    assert all(rows < history / 4 for rows in sorted_rows), (sorted_rows, history)


async def test_crowded_summary_matches_the_history(api, owner, crowded):
    data = await read(owner, crowded.schema)
    got = await api.gql(SUMMARY, PERIOD, token=crowded.tokens["admin"])
    want = expected_summary(
        data, set(crowded.user_ids.values()), dt.date(2026, 1, 3), dt.date(2026, 2, 25),
        "Asia/Shanghai",
    )  # fmt: skip
    assert_same(got["pipelineSummary"], want, "crowded")
    await assert_derived_match_history(owner, crowded.schema)
