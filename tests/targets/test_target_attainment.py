"""targetAttainment and salesRanking against numbers worked out in target_model.py
from the deals alone: month boundaries in the tenant's calendar, currencies kept
apart, a team's subtree rolled up, lost/open/deleted deals ignored, and each person's
data scope deciding which targets and whose deals they see."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from target_helpers import ATTAINMENT, RANKING
from target_model import (
    PEOPLE,
    TARGETS,
    Target,
    achieved,
    ranking,
    sees,
    visible_people,
)

JAN_FEB = ("2027-01-01", "2027-02-28")
EVERYONE = ["admin", *PEOPLE]


def _name(org, scope: str, team_id, user_id) -> str | None:
    if scope == "TEAM":
        return next(n for n, i in org.teams.items() if i == team_id)
    if scope == "USER":
        return next(n for n, i in org.ids.items() if str(i) == user_id)
    return None


def _ratio(amount: Decimal, done: Decimal) -> float | None:
    return float(done / amount) if amount else None


async def _report(api, org, person: str, start: str, end: str, currency: str | None = None):
    variables = {"from": start, "to": end}
    if currency:
        variables["currency"] = currency
    data = await api.gql(ATTAINMENT, variables, token=org.tokens[person])
    return data["targetAttainment"]


def _in_range(t: Target, start: str, end: str, currency: str) -> bool:
    first = dt.date.fromisoformat(start).replace(day=1)
    return t.currency == currency and first <= t.period <= dt.date.fromisoformat(end)


@pytest.mark.parametrize("person", EVERYONE)
async def test_attainment_matches_the_model_within_each_scope(api, org, person):
    report = await _report(api, org, person, *JAN_FEB)
    got = {
        (r["target"]["scope"].lower(),
         _name(org, r["target"]["scope"], r["target"]["teamId"], r["target"]["userId"]),
         r["target"]["period"]): (Decimal(r["target"]["amount"]), Decimal(r["achieved"]), r["ratio"])
        for r in report["targets"]
    }  # fmt: skip
    wanted = [t for t in TARGETS if _in_range(t, *JAN_FEB, "CNY") and sees(person, t)]
    assert got == {
        (t.scope, t.subject, t.period.isoformat()):
            (Decimal(t.amount), achieved(t), _ratio(Decimal(t.amount), achieved(t)))
        for t in wanted
    }  # fmt: skip
    # Totals: each subject's months summed.
    totals = {
        (s["scope"].lower(), _name(org, s["scope"], s["teamId"], s["userId"])):
            (s["months"], Decimal(s["targetAmount"]), Decimal(s["achieved"]), s["ratio"])
        for s in report["totals"]
    }  # fmt: skip
    expected: dict = {}
    for t in wanted:
        months, amount, done, _ = expected.get(
            (t.scope, t.subject), (0, Decimal(0), Decimal(0), None)
        )
        amount, done = amount + Decimal(t.amount), done + achieved(t)
        expected[(t.scope, t.subject)] = (months + 1, amount, done, _ratio(amount, done))
    assert totals == expected


async def test_the_numbers_themselves(api, org):
    """A few of the model's numbers written out, so the model is checked too."""
    report = await _report(api, org, "admin", *JAN_FEB)
    by_key = {
        (_name(org, r["target"]["scope"], r["target"]["teamId"], r["target"]["userId"]),
         r["target"]["period"]): r
        for r in report["targets"]
    }  # fmt: skip
    # east in January: rep_e1 1000 + rep_e2 (east_sub, below east) 3000 + mgr_east 3000.
    assert by_key[("east", "2027-01-01")]["achieved"] == "7000.00"
    assert by_key[("east", "2027-01-01")]["ratio"] == 0.875
    assert by_key[("east_sub", "2027-01-01")]["achieved"] == "3000.00"
    # The company in January: lost, open and deleted deals and USD do not count.
    assert by_key[(None, "2027-01-01")]["achieved"] == "12100.00"
    # 00:30 on 1 February in Shanghai is February's.
    assert by_key[(None, "2027-02-01")]["achieved"] == "2400.00"
    assert by_key[("rep_w", "2027-01-01")]["ratio"] == 1.25
    assert by_key[("rep_e2", "2027-01-01")]["ratio"] is None  # a zero target
    company = next(s for s in report["totals"] if s["scope"] == "COMPANY")
    assert (company["months"], company["targetAmount"], company["achieved"]) == (
        2, "30000.00", "14500.00",
    )  # fmt: skip


async def test_other_currencies_are_their_own_targets(api, org):
    report = await _report(api, org, "admin", *JAN_FEB, currency="usd")
    assert [(r["target"]["currency"], r["target"]["amount"], r["achieved"], r["ratio"])
            for r in report["targets"]] == [("USD", "1000.00", "500.00", 0.5)]  # fmt: skip


async def test_a_range_takes_the_months_it_touches(api, org):
    report = await _report(api, org, "admin", "2027-01-20", "2027-01-25")
    assert {r["target"]["period"] for r in report["targets"]} == {"2027-01-01"}
    report = await _report(api, org, "admin", "2027-02-15", "2027-03-02")
    assert {r["target"]["period"] for r in report["targets"]} == {"2027-02-01", "2027-03-01"}


@pytest.mark.parametrize(
    "variables",
    [{"from": "2027-02-01", "to": "2027-01-01"}, {"from": "2027-01-01", "to": "2027-01-31",
                                                  "currency": "RMB1"},
     {"from": "2020-01-01", "to": "2027-01-31"}],
)  # fmt: skip
async def test_bad_arguments_are_bad_user_input(api, org, variables):
    errors = await api.errors(ATTAINMENT, variables, token=org.tokens["admin"])
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("person", ["admin", "mgr_east", "viewer_east", "rep_e1", "mgr_west"])
async def test_ranking_matches_the_model_within_each_scope(api, org, person):
    for start, end in (("2027-01-01", "2027-01-31"), ("2027-02-01", "2027-02-01"),
                       ("2026-12-01", "2027-03-31")):  # fmt: skip
        data = await api.gql(RANKING, {"from": start, "to": end, "first": 100},
                             token=org.tokens[person])  # fmt: skip
        got = [(r["rank"], r["user"]["name"], Decimal(r["wonAmount"]), r["wonCount"])
               for r in data["salesRanking"]]  # fmt: skip
        expected = ranking(visible_people(person), dt.date.fromisoformat(start),
                           dt.date.fromisoformat(end))  # fmt: skip
        assert got == expected, (person, start, end)


async def test_ranking_ties_share_a_rank_and_first_cuts(api, org):
    data = await api.gql(RANKING, {"from": "2027-01-01", "to": "2027-01-31"},
                         token=org.tokens["admin"])  # fmt: skip
    assert [(r["rank"], r["user"]["name"], r["wonAmount"]) for r in data["salesRanking"]] == [
        (1, "rep_w", "5000.00"), (2, "mgr_east", "3000.00"), (2, "rep_e2", "3000.00"),
        (4, "rep_e1", "1000.00"), (5, "admin", "100.00"),
    ]  # fmt: skip
    top = await api.gql(RANKING, {"from": "2027-01-01", "to": "2027-01-31", "first": 2},
                        token=org.tokens["admin"])  # fmt: skip
    assert [r["user"]["name"] for r in top["salesRanking"]] == ["rep_w", "mgr_east"]
    usd = await api.gql(RANKING, {"from": "2027-01-01", "to": "2027-01-31", "currency": "USD"},
                        token=org.tokens["admin"])  # fmt: skip
    assert [(r["user"]["name"], r["wonAmount"], r["currency"]) for r in usd["salesRanking"]] == [
        ("rep_e1", "500.00", "USD")
    ]
    errors = await api.errors(RANKING, {"from": "2027-01-01", "to": "2027-01-31", "first": 0},
                              token=org.tokens["admin"])  # fmt: skip
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
