"""The organisation of the target tests as plain data, and the expected numbers
computed from it independently of the SQL (importable as `target_model`)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

SHANGHAI = dt.timezone(dt.timedelta(hours=8))

TEAMS = [("sales", None), ("east", "sales"), ("east_sub", "east"), ("west", "sales")]
PEOPLE = {
    "mgr_east": ("manager", "east"),
    "rep_e1": ("sales", "east"),
    "rep_e2": ("sales", "east_sub"),
    "rep_w": ("sales", "west"),
    "viewer_east": ("viewer", "east"),
    "mgr_west": ("manager", "west"),
}


def at(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2027) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Deal:
    owner: str
    amount: str
    currency: str
    closed: dt.datetime | None
    status: str = "won"
    deleted: bool = False


DEALS = [
    Deal("rep_e1", "1000.00", "CNY", at(1, 5)),
    Deal("rep_e1", "2000.00", "CNY", at(2, 10)),
    Deal("rep_e1", "500.00", "USD", at(1, 6)),
    Deal("rep_e1", "123.00", "CNY", at(12, 31, year=2026)),  # before the range
    # Late on 31 January in Shanghai (still January), and half past midnight on
    # 1 February (February here, 31 January in UTC).
    Deal("rep_e2", "3000.00", "CNY", at(1, 31, 23, 30)),
    Deal("rep_e2", "400.00", "CNY", at(2, 1, 0, 30)),
    Deal("rep_w", "5000.00", "CNY", at(1, 15)),
    Deal("rep_w", "9999.00", "CNY", at(1, 20), status="lost"),
    Deal("rep_w", "7777.00", "CNY", None, status="open"),
    Deal("rep_w", "8888.00", "CNY", at(1, 21), deleted=True),
    Deal("rep_w", "250.00", "CNY", at(3, 1, 0, 0)),  # after the range
    Deal("mgr_east", "3000.00", "CNY", at(1, 20)),
    Deal("admin", "100.00", "CNY", at(1, 3)),
]


@dataclass(frozen=True)
class Target:
    scope: str  # company, team, user
    subject: str | None  # a team's or a person's name
    month: int
    amount: str
    currency: str = "CNY"

    @property
    def period(self) -> dt.date:
        return dt.date(2027, self.month, 1)


TARGETS = [
    Target("company", None, 1, "20000"),
    Target("company", None, 2, "10000"),
    Target("company", None, 3, "10000"),
    Target("team", "east", 1, "8000"),
    Target("team", "east", 2, "5000"),
    Target("team", "east_sub", 1, "2000"),
    Target("team", "west", 1, "5000"),
    Target("user", "rep_e1", 1, "2000"),
    Target("user", "rep_e1", 2, "2000"),
    Target("user", "rep_e1", 1, "1000", "USD"),
    Target("user", "rep_e2", 1, "0"),
    Target("user", "rep_w", 1, "4000"),
]


def target_input(org, t: Target) -> dict:
    out = {"period": t.period.isoformat(), "scope": t.scope.upper(), "amount": t.amount,
           "currency": t.currency}  # fmt: skip
    if t.scope == "team":
        out["teamId"] = org.teams[t.subject]
    elif t.scope == "user":
        out["userId"] = str(org.ids[t.subject])
    return out


PARENT = dict(TEAMS)


def subtree(team: str) -> set[str]:
    """The team and every team below it."""

    def below(name: str | None) -> bool:
        while name is not None:
            if name == team:
                return True
            name = PARENT[name]
        return False

    return {name for name, _ in TEAMS if below(name)}


def team_of(person: str) -> str | None:
    return PEOPLE.get(person, (None, None))[1]


def counts(d: Deal) -> bool:
    return d.status == "won" and not d.deleted


def local_month(d: Deal) -> dt.date:
    return d.closed.astimezone(SHANGHAI).date().replace(day=1)


def achieved(t: Target) -> Decimal:
    total = Decimal(0)
    for d in DEALS:
        if not counts(d) or d.currency != t.currency or local_month(d) != t.period:
            continue
        if (
            t.scope == "company"
            or (t.scope == "user" and d.owner == t.subject)
            or (t.scope == "team" and team_of(d.owner) in subtree(t.subject))
        ):
            total += Decimal(d.amount)
    return total


def sees(person: str, t: Target) -> bool:
    """The documented visibility of targets (app/targets/queries.py)."""
    role, team = ("admin", None) if person == "admin" else PEOPLE[person]
    if role == "admin":
        return True
    if t.scope == "company":
        return True
    if role == "sales":
        return t.scope == "user" and t.subject == person
    # manager and viewer: team scope
    mine = subtree(team)
    if t.scope == "team":
        return t.subject in mine
    return team_of(t.subject) in mine


def ranking(people: set[str], start: dt.date, end: dt.date, currency: str = "CNY") -> list:
    """(rank, name, amount, count) of reps who won in [start, end], best first, equal
    amounts sharing a rank, ties by name."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    won: dict[str, int] = defaultdict(int)
    for d in DEALS:
        if counts(d) and d.currency == currency and d.owner in people:
            if start <= d.closed.astimezone(SHANGHAI).date() <= end:
                totals[d.owner] += Decimal(d.amount)
                won[d.owner] += 1
    order = sorted(totals, key=lambda name: (-totals[name], name))
    out = []
    for i, name in enumerate(order):
        rank = out[-1][0] if out and totals[name] == out[-1][2] else i + 1
        out.append((rank, name, totals[name], won[name]))
    return out


def visible_people(person: str) -> set[str]:
    """Whose opportunities a person sees (owner-based data scope)."""
    everyone = set(PEOPLE) | {"admin"}
    if person == "admin":
        return everyone
    role, team = PEOPLE[person]
    if role == "sales":
        return {person}
    return {p for p in PEOPLE if team_of(p) in subtree(team)}
