"""pipelineSummary and forecast, checked against numbers worked out here in Python
from the data the test wrote: opportunities in three currencies walked through the
stages, with the stage history's times set to known instants (through the owner's
engine), and each user's data scope applied to every number."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pytest
from pipeline_ops import build_org, operation
from sqlalchemy import select, update

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.customers import service as customers
from app.db import tenant_transaction
from app.pipeline import pipelines as pipeline_service
from app.pipeline import service
from app.pipeline.tables import opportunities, opportunity_stage_history, pipeline_stages, pipelines

SUMMARY = operation("pipelineSummary")
FORECAST = operation("forecast")
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
PERIOD = (dt.date(2027, 1, 10), dt.date(2027, 1, 31))
FORECAST_PERIOD = (dt.date(2027, 2, 1), dt.date(2027, 3, 31))
PROBABILITY = {
    "初步接洽": 10,
    "需求确认": 30,
    "方案报价": 50,
    "商务谈判": 70,
    "赢单": 100,
    "输单": 0,
}
FUNNEL = ["初步接洽", "需求确认", "方案报价", "商务谈判"]
RANK = {name: i for i, name in enumerate(FUNNEL)} | {"赢单": len(FUNNEL)}


def day(n: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """Day n of January 2027 (n > 31 runs into February), Shanghai time."""
    return dt.datetime(2026, 12, 31, hour, minute, tzinfo=SHANGHAI) + dt.timedelta(days=n)


@dataclass
class Deal:
    owner: str
    currency: str
    amount: str
    steps: list[tuple[str, dt.datetime]]
    close_date: dt.date | None = None
    pipeline: str = "default"

    @property
    def stage(self) -> str:
        return self.steps[-1][0]

    @property
    def status(self) -> str:
        return {"赢单": "won", "输单": "lost"}.get(self.stage, "open")


DEALS = [
    Deal("rep_a", "CNY", "1000.00", [("初步接洽", day(5)), ("需求确认", day(12)), ("方案报价", day(15))],
         dt.date(2027, 2, 10)),
    Deal("rep_a", "USD", "333.33", [("初步接洽", day(11)), ("需求确认", day(14))], dt.date(2027, 2, 20)),
    Deal("rep_a", "CNY", "2500.50", [("初步接洽", day(11))], dt.date(2027, 3, 5)),
    Deal("rep_b", "CNY", "4000.00", [("初步接洽", day(1)), ("需求确认", day(10)), ("商务谈判", day(20)),
                                     ("赢单", day(25))], dt.date(2027, 2, 1)),
    Deal("rep_b", "USD", "10.01", [("初步接洽", day(12)), ("输单", day(13))]),
    Deal("rep_a", "CNY", "700.00", [("初步接洽", day(2)), ("需求确认", day(3)), ("输单", day(40))]),
    Deal("rep_b", "EUR", "99.99", [("初步接洽", day(12)), ("需求确认", day(16)), ("方案报价", day(18)),
                                   ("商务谈判", day(30))], dt.date(2027, 2, 28)),
    Deal("rep_a", "USD", "1234.56", [("初步接洽", day(20)), ("赢单", day(22))]),
    # Moved back a stage.
    Deal("rep_b", "CNY", "50.00", [("初步接洽", day(11)), ("方案报价", day(14)), ("需求确认", day(17))]),
    # A stay ending late on the period's last day counts; one ending 00:30 on the next
    # day in Shanghai (still 31 January in UTC) does not.
    Deal("rep_a", "CNY", "100.00", [("初步接洽", day(29)), ("需求确认", day(31, 23, 30))],
         dt.date(2027, 3, 31)),
    Deal("rep_b", "CNY", "100.00", [("初步接洽", day(30)), ("需求确认", day(32, 0, 30))],
         dt.date(2027, 4, 1)),
    # The manager's own, and one in another pipeline (not in this funnel; forecast yes).
    Deal("mgr_east", "CNY", "8888.88", [("初步接洽", day(12)), ("需求确认", day(13))],
         dt.date(2027, 3, 15)),
    Deal("rep_a", "CNY", "5000.00", [("线索", day(12))], dt.date(2027, 3, 15), pipeline="other"),
]  # fmt: skip
OTHER_STAGES = [
    {"name": "线索", "probability": Decimal(20), "kind": "open"},
    {"name": "成交", "probability": Decimal(100), "kind": "won"},
    {"name": "丢单", "probability": Decimal(0), "kind": "lost"},
]
PEOPLE = {
    "mgr_east": ("manager", "east"),
    "rep_a": ("sales", "east"),
    "rep_b": ("sales", "west"),
}
VISIBLE = {
    "admin": {"rep_a", "rep_b", "mgr_east"},
    "mgr_east": {"rep_a", "mgr_east"},
    "rep_a": {"rep_a"},
    "rep_b": {"rep_b"},
}


@pytest.fixture(scope="module")
async def funnel(api, owner, services):
    org = await build_org(
        api, owner, services, "funnel", [("sales", None), ("east", "sales"), ("west", "sales")],
        PEOPLE,
    )  # fmt: skip
    schema = org.tenant.schema
    async with tenant_transaction(services.engine, schema) as conn:
        other = await pipeline_service.create_pipeline(
            conn, actor=SYSTEM, pipeline_id=None, fields={"name": "渠道"},
            stages=[dict(s) for s in OTHER_STAGES],
        )  # fmt: skip
        stage_rows = (await conn.execute(select(pipeline_stages))).all()
        default = (
            await conn.execute(select(pipelines.c.id).where(pipelines.c.is_default))
        ).scalar()
        stage_ids = {
            ("default" if r.pipeline_id == default else "other", r.name): r.id for r in stage_rows
        }
        customer = await customers.create_customer(
            conn, actor=SYSTEM, who=EVERYTHING, customer_id=None, fields={"name": "漏斗客户"}
        )
        created = []
        for deal in DEALS:
            first = stage_ids[(deal.pipeline, deal.steps[0][0])]
            row = await service.create_opportunity(
                conn, actor=SYSTEM, who=EVERYTHING, opportunity_id=None, customer_id=customer.id,
                pipeline_id=other.id if deal.pipeline == "other" else None, stage_id=first,
                fields={"name": "机会", "amount": Decimal(deal.amount), "currency": deal.currency,
                        "expected_close_date": deal.close_date, "owner_id": org.ids[deal.owner]},
            )  # fmt: skip
            for name, _ in deal.steps[1:]:
                args = {
                    "actor": SYSTEM,
                    "who": EVERYTHING,
                    "opportunity_id": row.id,
                    "version": None,
                }
                if name == "赢单":
                    await service.close_opportunity(conn, **args, outcome="won", reason=None)
                elif name == "输单":
                    await service.close_opportunity(conn, **args, outcome="lost", reason="价格")
                else:
                    await service.move_opportunity(
                        conn, **args, stage_id=stage_ids[(deal.pipeline, name)]
                    )
            created.append(row.id)
    # Known instants for every move, and for closing, through the owner's engine.
    h = opportunity_stage_history
    async with tenant_transaction(owner, schema) as conn:
        for deal, opportunity_id in zip(DEALS, created, strict=True):
            previous = None
            for name, when in deal.steps:
                to_stage = stage_ids[(deal.pipeline, name)]
                done = await conn.execute(
                    update(h)
                    .where(h.c.opportunity_id == opportunity_id, h.c.to_stage_id == to_stage,
                           h.c.from_stage_id.is_not_distinct_from(previous))
                    .values(changed_at=when)
                )  # fmt: skip
                assert done.rowcount == 1
                previous = to_stage
            if deal.status != "open":
                await conn.execute(
                    update(opportunities)
                    .where(opportunities.c.id == opportunity_id)
                    .values(closed_at=deal.steps[-1][1])
                )
    return {"org": org, "other": str(other.id), "ids": created}


def _in(when: dt.datetime, period: tuple[dt.date, dt.date]) -> bool:
    return period[0] <= when.astimezone(SHANGHAI).date() <= period[1]


def _cents(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def expected_summary(owners: set[str], period=PERIOD) -> dict:
    """The funnel worked out from DEALS alone."""
    deals = [d for d in DEALS if d.owner in owners and d.pipeline == "default"]
    stages = []
    for name in FUNNEL:
        here = [d for d in deals if d.status == "open" and d.stage == name]
        money: dict[str, Decimal] = defaultdict(Decimal)
        for d in here:
            money[d.currency] += Decimal(d.amount)
        entered, advanced, stays = set(), set(), []
        for i, d in enumerate(deals):
            for j, (stage, when) in enumerate(d.steps):
                if stage == name and _in(when, period):
                    entered.add(i)
                    if any(RANK.get(s, -1) > RANK[name] for s, t in d.steps[j + 1 :] if t >= when):
                        advanced.add(i)
                if stage == name and j + 1 < len(d.steps) and _in(d.steps[j + 1][1], period):
                    stays.append((d.steps[j + 1][1] - when).total_seconds() / 86400)
        stages.append({
            "stage": {"name": name, "probability": f"{PROBABILITY[name]}.00"},
            "count": len(here),
            "amounts": [
                {"currency": c, "amount": _cents(a), "weighted": _cents(a * PROBABILITY[name] / 100)}
                for c, a in sorted(money.items())
            ],
            "entered": len(entered),
            "advanced": len(advanced),
            "conversionRate": len(advanced) / len(entered) if entered else None,
            "staysEnded": len(stays),
            "averageDaysInStage": sum(stays) / len(stays) if stays else None,
        })  # fmt: skip
    closed = [d for d in deals if d.status != "open" and _in(d.steps[-1][1], period)]
    won = sum(d.status == "won" for d in closed)
    return {
        "stages": stages,
        "won": won,
        "lost": len(closed) - won,
        "winRate": won / len(closed) if closed else None,
    }


def _comparable(summary: dict) -> dict:
    """The API's answer, without ids, floats rounded for comparison."""
    out = {k: summary[k] for k in ("won", "lost")}
    out["winRate"] = summary["winRate"] and round(summary["winRate"], 9)
    out["stages"] = []
    for s in summary["stages"]:
        s = dict(s, stage={k: s["stage"][k] for k in ("name", "probability")})
        for key in ("conversionRate", "averageDaysInStage"):
            s[key] = s[key] if s[key] is None else round(s[key], 9)
        out["stages"].append(s)
    return out


@pytest.mark.parametrize("person", list(VISIBLE))
async def test_summary_matches_the_numbers_worked_out_here(api, funnel, person):
    org = funnel["org"]
    data = await api.gql(
        SUMMARY, {"filter": {"from": "2027-01-10", "to": "2027-01-31"}}, token=org.tokens[person]
    )
    summary = data["pipelineSummary"]
    assert summary["pipeline"]["name"] == "销售漏斗"
    assert _comparable(summary) == _comparable(expected_summary(VISIBLE[person]))


async def test_summary_of_the_whole_sample_is_what_we_think(api, funnel):
    """The worked-out numbers themselves, spelled out once for the admin."""
    expected = expected_summary(VISIBLE["admin"])
    lead, needs, offer, talks = expected["stages"]
    assert (lead["count"], lead["amounts"]) == (
        1, [{"currency": "CNY", "amount": "2500.50", "weighted": "250.05"}]
    )  # fmt: skip
    assert needs["amounts"] == [
        {"currency": "CNY", "amount": "9138.88", "weighted": "2741.66"},
        {"currency": "USD", "amount": "333.33", "weighted": "100.00"},
    ]
    assert talks["amounts"] == [{"currency": "EUR", "amount": "99.99", "weighted": "69.99"}]
    # Entered 初步接洽 in the period: 11 Jan x3, 12 Jan x3, 20, 29 and 30 Jan; all but
    # the one still there and the one lost went on.
    assert (lead["entered"], lead["advanced"]) == (9, 7)
    assert expected["won"] == 2 and expected["lost"] == 1
    data = await api.gql(
        SUMMARY, {"filter": {"from": "2027-01-10", "to": "2027-01-31"}},
        token=funnel["org"].tokens["admin"],
    )  # fmt: skip
    assert data["pipelineSummary"]["winRate"] == pytest.approx(2 / 3)


async def test_owner_filter_and_open_period(api, funnel):
    org = funnel["org"]
    by_owner = await api.gql(
        SUMMARY,
        {"filter": {"ownerId": str(org.ids["rep_b"]), "from": "2027-01-10", "to": "2027-01-31"}},
        token=org.tokens["admin"],
    )
    assert _comparable(by_owner["pipelineSummary"]) == _comparable(expected_summary({"rep_b"}))
    # A rep filtering by someone else's id sees nothing of theirs.
    hidden = await api.gql(
        SUMMARY, {"filter": {"ownerId": str(org.ids["rep_b"])}}, token=org.tokens["rep_a"]
    )
    assert all(s["count"] == 0 and s["entered"] == 0 for s in hidden["pipelineSummary"]["stages"])
    everything = await api.gql(SUMMARY, {}, token=org.tokens["admin"])
    whole = (dt.date(2000, 1, 1), dt.date(2999, 12, 31))
    assert _comparable(everything["pipelineSummary"]) == _comparable(
        expected_summary(VISIBLE["admin"], whole)
    )


async def test_summary_of_another_pipeline_and_unknown_ones(api, funnel):
    org = funnel["org"]
    other = await api.gql(
        SUMMARY, {"filter": {"pipelineId": funnel["other"]}}, token=org.tokens["admin"]
    )
    (lead,) = other["pipelineSummary"]["stages"]
    assert (lead["stage"]["name"], lead["count"], lead["amounts"]) == (
        "线索", 1, [{"currency": "CNY", "amount": "5000.00", "weighted": "1000.00"}]
    )  # fmt: skip
    missing = await api.gql(
        SUMMARY, {"filter": {"pipelineId": str(uuid.uuid4())}}, token=org.tokens["admin"]
    )
    assert missing["pipelineSummary"] is None
    errors = await api.errors(
        SUMMARY, {"filter": {"from": "2027-02-01", "to": "2027-01-01"}}, token=org.tokens["admin"]
    )
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


def expected_forecast(owners: set[str], org) -> dict:
    rows: dict[tuple, list[Decimal]] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    team_of = {p: (org.teams[t], t) for p, (_, t) in PEOPLE.items()}
    for d in DEALS:
        if d.owner not in owners or d.status != "open" or d.close_date is None:
            continue
        if not FORECAST_PERIOD[0] <= d.close_date <= FORECAST_PERIOD[1]:
            continue
        month = d.close_date.replace(day=1).isoformat()
        probability = PROBABILITY.get(d.stage) or 20  # 线索 in the other pipeline
        weighted = Decimal(d.amount) * probability / 100
        for key in (("month", month, d.currency), ("owner", month, d.currency, d.owner),
                    ("team", month, d.currency, *team_of[d.owner])):  # fmt: skip
            rows[key][0] += 1
            rows[key][1] += Decimal(d.amount)
            rows[key][2] += weighted

    def money(key) -> dict:
        count, amount, weighted = rows[key]
        return {"month": key[1], "currency": key[2], "count": count, "amount": _cents(amount),
                "weighted": _cents(weighted)}  # fmt: skip

    return {
        "byMonth": [money(k) for k in rows if k[0] == "month"],
        "byOwner": [
            money(k) | {"ownerId": str(org.ids[k[3]]), "owner": {"name": k[3]}}
            for k in rows
            if k[0] == "owner"
        ],  # fmt: skip
        "byTeam": [money(k) | {"teamId": k[3], "teamName": k[4]} for k in rows if k[0] == "team"],
    }


@pytest.mark.parametrize("person", list(VISIBLE))
async def test_forecast_matches_the_numbers_worked_out_here(api, funnel, person):
    org = funnel["org"]
    data = await api.gql(
        FORECAST, {"from": "2027-02-01", "to": "2027-03-31"}, token=org.tokens[person]
    )
    got = {
        k: sorted(v, key=lambda r: sorted(r.items(), key=str)) for k, v in data["forecast"].items()
    }
    expected = {
        k: sorted(v, key=lambda r: sorted(r.items(), key=str))
        for k, v in expected_forecast(VISIBLE[person], org).items()
    }
    assert got == expected
    if person == "admin":
        assert {r["currency"] for r in got["byMonth"]} == {"CNY", "USD", "EUR"}
        usd = next(r for r in got["byMonth"] if r["currency"] == "USD")
        assert (usd["amount"], usd["weighted"]) == ("333.33", "100.00")  # 99.999, rounded once


async def test_forecast_arguments(api, funnel):
    token = funnel["org"].tokens["admin"]
    for variables in ({"from": "2027-02-01", "to": "2027-01-01"},
                      {"from": "2020-01-01", "to": "2030-01-01"}):  # fmt: skip
        errors = await api.errors(FORECAST, variables, token=token)
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
