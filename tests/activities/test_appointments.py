"""Appointments: scheduling, OVERLAP warnings (the write still succeeds), updates,
cancelling, validation and the calendar window filter."""

from __future__ import annotations

import datetime as dt
import uuid

from activity_helpers import CANCEL_APPOINTMENT, count_rows, iso
from helpers import make_tenant

from app.activities.tables import appointments

DAY = dt.datetime(2031, 3, 3, 9, 0, tzinfo=dt.UTC)


async def test_overlaps_succeed_with_a_warning(api, gql, owner, services):
    tenant = await make_tenant(owner, services, "calendar")
    token = tenant.tokens["sales"]
    first = await gql.schedule(token, DAY, 60, title="Visit 华达", location="佛山")
    assert first["userErrors"] == [] and first["warnings"] == []
    assert first["appointment"]["ownerId"] == str(tenant.user_ids["sales"])
    # Back to back is no overlap.
    adjacent = await gql.schedule(token, DAY + dt.timedelta(minutes=60), 30)
    assert adjacent["warnings"] == []
    # Someone else's calendar is theirs.
    elsewhere = await gql.schedule(tenant.tokens["admin"], DAY, 60)
    assert elsewhere["warnings"] == []

    clash = await gql.schedule(token, DAY + dt.timedelta(minutes=30), 60, title="Call 美的")
    assert clash["userErrors"] == []
    assert clash["appointment"]["title"] == "Call 美的"
    (warning,) = clash["warnings"]
    assert warning["code"] == "OVERLAP"
    assert set(warning["appointmentIds"]) == {
        first["appointment"]["id"],
        adjacent["appointment"]["id"],
    }
    assert "2 other appointments" in warning["message"]

    # Moving the clash away clears the warning; moving it back brings it again.
    moved = await gql.update_appointment(
        token, id=clash["appointment"]["id"], version=1,
        startsAt=iso(DAY + dt.timedelta(hours=3)), endsAt=iso(DAY + dt.timedelta(hours=4)),
    )  # fmt: skip
    assert moved["warnings"] == [] and moved["appointment"]["version"] == 2
    inverted = await gql.update_appointment(
        token, id=clash["appointment"]["id"], version=2, startsAt=iso(DAY + dt.timedelta(hours=5))
    )
    assert inverted["userErrors"] == [
        {"field": "endsAt", "code": "INVALID", "message": "endsAt must be after startsAt"}
    ]
    back = await gql.update_appointment(
        token, id=clash["appointment"]["id"], version=2,
        startsAt=iso(DAY + dt.timedelta(minutes=75)), endsAt=iso(DAY + dt.timedelta(hours=2)),
    )  # fmt: skip
    assert back["warnings"][0]["appointmentIds"] == [adjacent["appointment"]["id"]]

    # A cancelled appointment no longer clashes.
    cancelled = await api.gql(
        CANCEL_APPOINTMENT, {"input": {"id": first["appointment"]["id"]}}, token=token
    )
    assert cancelled["cancelAppointment"]["appointment"]["cancelledAt"] is not None
    again = await gql.schedule(token, DAY + dt.timedelta(minutes=10), 20)
    assert again["warnings"] == []
    twice = await api.gql(
        CANCEL_APPOINTMENT, {"input": {"id": first["appointment"]["id"]}}, token=token
    )
    assert twice["cancelAppointment"]["appointment"]["version"] == 2
    locked = await gql.update_appointment(
        token, id=first["appointment"]["id"], version=2, title="revive"
    )
    assert locked["userErrors"][0]["code"] == "CANCELLED"


async def test_long_appointments_are_found_by_the_bounded_search(gql, owner, services):
    tenant = await make_tenant(owner, services, "trade-show")
    token = tenant.tokens["sales"]
    show = await gql.schedule(token, DAY, 13 * 24 * 60, title="广交会")
    late = await gql.schedule(token, DAY + dt.timedelta(days=12, hours=23), 30)
    assert late["warnings"][0]["appointmentIds"] == [show["appointment"]["id"]]


async def test_validation_writes_nothing(gql, services, tenant_a):
    token = tenant_a.tokens["sales"]
    marker = f"bad-{uuid.uuid4().hex[:6]}"
    payload = await gql.schedule(
        token, DAY, -30, title=marker, ownerId=str(tenant_a.user_ids["admin"]),
        customerId=str(uuid.uuid4()),
    )  # fmt: skip
    fields = {e["field"]: e["code"] for e in payload["userErrors"]}
    assert fields == {"endsAt": "INVALID", "ownerId": "NOT_FOUND", "customerId": "NOT_FOUND"}
    naive = await gql.schedule(token, DAY, 30, startsAt="2031-03-03T09:00:00")
    assert naive["userErrors"][0]["field"] == "startsAt"
    assert await count_rows(services, tenant_a, appointments, appointments.c.title == marker) == 0


async def test_client_id_is_idempotent_and_keeps_warning(gql, owner, services):
    tenant = await make_tenant(owner, services, "retry")
    token = tenant.tokens["sales"]
    await gql.schedule(token, DAY, 60)
    appointment_id = str(uuid.uuid4())
    first = await gql.schedule(token, DAY, 30, id=appointment_id)
    again = await gql.schedule(token, DAY, 30, id=appointment_id)
    assert first["appointment"] == again["appointment"]
    assert again["warnings"] == first["warnings"] != []


CALENDAR = """query($filter: AppointmentFilter) {
  appointments(first: 50, filter: $filter) { totalCount edges { node { title } } } }"""


async def test_calendar_window(api, gql, owner, services):
    tenant = await make_tenant(owner, services, "window")
    token = tenant.tokens["admin"]
    customer = await gql.customer(token)
    for title, hours, minutes, extra in (
        ("early", 0, 60, {}),
        ("long", 1, 48 * 60, {"customerId": customer}),
        ("late", 30, 60, {}),
        ("rep", 2, 60, {"ownerId": str(tenant.user_ids["sales"])}),
    ):
        await gql.schedule(token, DAY + dt.timedelta(hours=hours), minutes, title=title, **extra)

    async def titles(filter_):
        data = await api.gql(CALENDAR, {"filter": filter_}, token=token)
        return [e["node"]["title"] for e in data["appointments"]["edges"]]

    assert await titles({}) == ["early", "long", "rep", "late"]
    window = {"from": iso(DAY + dt.timedelta(hours=20)), "to": iso(DAY + dt.timedelta(hours=31))}
    assert await titles(window) == ["long", "late"]
    assert await titles({"to": iso(DAY + dt.timedelta(hours=1))}) == ["early"]
    assert await titles({"ownerId": {"eq": str(tenant.user_ids["sales"])}}) == ["rep"]
    assert await titles({"customerId": {"eq": customer}}) == ["long"]
    rep_view = await api.gql(CALENDAR, {"filter": {}}, token=tenant.tokens["sales"])
    assert [e["node"]["title"] for e in rep_view["appointments"]["edges"]] == ["rep"]
