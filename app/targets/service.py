"""Setting sales targets: an upsert by (month, subject, metric, currency), each
creation or change audited, in the caller's transaction. Everything is checked
first; any user error (named `targets[i].field`) and nothing is written."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.ids import parse_uuid
from app.audit.service import Actor
from app.auth.principal import Scoped
from app.auth.scope import people_visible
from app.errors import UserError, UserErrors, fail
from app.pipeline.rules import CURRENCY, check_amount
from app.records import apply_change, insert_once
from app.targets.tables import METRICS, SCOPES, sales_targets
from app.teams.tables import teams
from app.users.tables import users

MAX_TARGETS = 200
PERIODS = (dt.date(2000, 1, 1), dt.date(2999, 12, 1))
t = sales_targets.c


@dataclass(frozen=True)
class TargetInput:
    """One target as a client sent it (ids raw)."""

    period: dt.date
    scope: str
    amount: Decimal | None
    team_id: Any = None
    user_id: Any = None
    metric: str = "won_amount"
    currency: str = "CNY"


@dataclass
class _Checked:
    period: dt.date
    scope: str
    team_id: uuid.UUID | None
    user_id: uuid.UUID | None
    metric: str
    currency: str
    amount: Decimal

    @property
    def key(self) -> tuple:
        return (self.period, self.scope, self.team_id, self.user_id, self.metric, self.currency)


def _check_fields(i: int, target: TargetInput, errors: list[UserError]) -> _Checked:
    field = f"targets[{i}]"
    period = target.period
    if period.day != 1:
        errors.append(UserError(f"{field}.period", "INVALID",
                                "period is a month: give its first day (e.g. 2027-03-01)"))  # fmt: skip
    elif not PERIODS[0] <= period <= PERIODS[1]:
        errors.append(UserError(f"{field}.period", "INVALID", "period must be from 2000 to 2999"))
    if target.scope not in SCOPES:
        errors.append(
            UserError(f"{field}.scope", "INVALID", f"scope must be one of {', '.join(SCOPES)}")
        )
    if target.metric not in METRICS:
        errors.append(
            UserError(f"{field}.metric", "INVALID", f"metric must be one of {', '.join(METRICS)}")
        )
    currency = (target.currency or "").strip().upper()
    if not CURRENCY.match(currency):
        errors.append(UserError(f"{field}.currency", "INVALID",
                                "currency must be an ISO 4217 code of three letters"))  # fmt: skip
    if error := check_amount(f"{field}.amount", target.amount):
        errors.append(error)
    subject: dict[str, uuid.UUID | None] = {"team_id": None, "user_id": None}
    for key, api, wanted in (("team_id", "teamId", "team"), ("user_id", "userId", "user")):
        raw = getattr(target, key)
        if target.scope == wanted:
            if raw is None:
                errors.append(
                    UserError(f"{field}.{api}", "REQUIRED", f"a {wanted} target names its {wanted}")
                )
            elif (parsed := parse_uuid(raw)) is None:
                errors.append(UserError(f"{field}.{api}", "NOT_FOUND", f"no such {wanted}"))
            else:
                subject[key] = parsed
        elif raw is not None:
            errors.append(UserError(f"{field}.{api}", "INVALID",
                                    f"only a {wanted} target names a {wanted}"))  # fmt: skip
    return _Checked(period, target.scope, subject["team_id"], subject["user_id"],
                    target.metric, currency, target.amount or Decimal(0))  # fmt: skip


async def _check_subjects(
    conn: AsyncConnection, who: Scoped, checked: list[_Checked], errors: list[UserError]
) -> None:
    """Each subject exists and is within what `who` may set targets for."""
    team_ids = {c.team_id for c in checked if c.team_id}
    user_ids = {c.user_id for c in checked if c.user_id}
    found_teams = {}
    if team_ids:
        rows = await conn.execute(select(teams.c.id, teams.c.path).where(teams.c.id.in_(team_ids)))
        found_teams = {r.id: r.path for r in rows}
    found_users = {}
    if user_ids:
        rows = await conn.execute(
            select(users.c.id, users.c.active, people_visible(who, users.c.id).label("mine"))
            .where(users.c.id.in_(user_ids))
        )  # fmt: skip
        found_users = {r.id: r for r in rows}
    scope = who.data_scope
    for i, c in enumerate(checked):
        field = f"targets[{i}]"
        if c.scope == "company" and scope != "all":
            errors.append(UserError(f"{field}.scope", "FORBIDDEN",
                                    "only users who see all records set the company's targets"))  # fmt: skip
        elif c.team_id is not None:
            path = found_teams.get(c.team_id)
            if path is None:
                errors.append(UserError(f"{field}.teamId", "NOT_FOUND", "no such team"))
            elif scope != "all" and not (
                scope == "team" and who.team_path is not None and path.startswith(who.team_path)
            ):
                errors.append(UserError(f"{field}.teamId", "FORBIDDEN",
                                        "you set targets only for your team and the teams below it"))  # fmt: skip
        elif c.user_id is not None:
            person = found_users.get(c.user_id)
            if person is None or not person.active:
                errors.append(
                    UserError(f"{field}.userId", "NOT_FOUND", "no active user with this id")
                )
            elif not person.mine:
                errors.append(UserError(f"{field}.userId", "FORBIDDEN",
                                        "you set targets only for the people of your team"))  # fmt: skip


def _subject_is(c: _Checked):
    return and_(
        t.period == c.period, t.scope == c.scope, t.team_id.is_not_distinct_from(c.team_id),
        t.user_id.is_not_distinct_from(c.user_id), t.metric == c.metric, t.currency == c.currency,
    )  # fmt: skip


async def set_targets(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, targets: list[TargetInput]
) -> list[Row]:
    """Create or change each target; the rows afterwards, in the order given."""
    if not targets:
        return []
    if len(targets) > MAX_TARGETS:
        raise fail("targets", "TOO_MANY", f"at most {MAX_TARGETS} targets at once")
    errors: list[UserError] = []
    checked, sound = [], []
    for i, target in enumerate(targets):
        found = len(errors)
        checked.append(_check_fields(i, target, errors))
        sound.append(len(errors) == found)
    seen: set[tuple] = set()
    for i, c in enumerate(checked):
        if not sound[i]:
            continue
        if c.key in seen:
            errors.append(UserError(f"targets[{i}]", "DUPLICATE",
                                    "the same month, subject, metric and currency twice"))  # fmt: skip
        seen.add(c.key)
    await _check_subjects(conn, who, checked, errors)
    if errors:
        raise UserErrors(errors)
    taken = UserError("targets", "CONFLICT", "someone set these targets at the same time; retry")
    rows = []
    for c in checked:
        current = (
            await conn.execute(select(sales_targets).where(_subject_is(c)).with_for_update())
        ).first()
        if current is not None:
            row = await apply_change(
                conn, sales_targets, current, actor=actor, entity="sales_target",
                action="update", values={"amount": c.amount},
            )  # fmt: skip
        else:
            row, _ = await insert_once(
                conn, sales_targets, actor=actor, entity="sales_target", row_id=None,
                values={"period": c.period, "scope": c.scope, "team_id": c.team_id,
                        "user_id": c.user_id, "metric": c.metric, "currency": c.currency,
                        "amount": c.amount},
                unique={"uq_sales_targets_subject": taken},
            )  # fmt: skip
        rows.append(row)
    return rows
