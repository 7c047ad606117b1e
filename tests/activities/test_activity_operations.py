"""The published example operations of this capability (graphql/operations/) run as a
front end would use them: log, list, change, plan, remind, read the timeline."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from activity_helpers import iso, now
from helpers import make_tenant

from workers.scheduled import run_in_tenant

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


async def test_example_operations_run_in_order(api, gql, owner, services):
    tenant = await make_tenant(owner, services, "examples")
    token = tenant.tokens["sales"]

    async def run(name: str, variables: dict) -> dict:
        return await api.gql((OPERATIONS / f"{name}.graphql").read_text(), variables, token=token)

    customer = await gql.customer(token, owner_id=tenant.user_ids["sales"], name="示例电子")
    activity_id = str(uuid.uuid4())
    logged = await run(
        "logActivity",
        {"input": {"id": activity_id, "customerId": customer, "kind": "CALL", "subject": "首次电话",
                   "outcome": "有意向", "nextStep": "发报价"}},
    )  # fmt: skip
    assert logged["logActivity"]["userErrors"] == []
    listed = await run("activities", {"filter": {"customerId": {"eq": customer}}})
    assert listed["activities"]["edges"][0]["node"]["owner"]["name"] == "sales"
    updated = await run(
        "updateActivity", {"input": {"id": activity_id, "version": 1, "outcome": "已报价"}}
    )
    assert updated["updateActivity"]["activity"]["version"] == 2

    task = await run(
        "createTask",
        {"input": {"title": "发报价", "dueAt": iso(now() + dt.timedelta(minutes=5)),
                   "priority": "HIGH", "customerId": customer}},
    )  # fmt: skip
    task_id = task["createTask"]["task"]["id"]
    open_tasks = await run("tasks", {})
    assert [e["node"]["id"] for e in open_tasks["tasks"]["edges"]] == [task_id]

    start = now() + dt.timedelta(minutes=10)
    visit = await run(
        "scheduleAppointment",
        {"input": {"title": "拜访", "startsAt": iso(start),
                   "endsAt": iso(start + dt.timedelta(hours=1)), "customerId": customer}},
    )  # fmt: skip
    assert visit["scheduleAppointment"]["warnings"] == []
    calendar = await run("appointments", {"filter": {"from": iso(start), "to": iso(start)}})
    assert calendar["appointments"]["edges"] == []  # [from, to) of zero length
    calendar = await run(
        "appointments", {"filter": {"from": iso(start), "to": iso(start + dt.timedelta(hours=1))}}
    )
    assert len(calendar["appointments"]["edges"]) == 1

    await run_in_tenant(services.engine, "reminders", tenant.schema)
    inbox = await run("notifications", {"unreadOnly": True})
    assert inbox["unreadCount"] == 2
    ids = [e["node"]["id"] for e in inbox["notifications"]["edges"]]
    read = await run("markNotificationsRead", {"ids": ids})
    assert read["markNotificationsRead"]["unreadCount"] == 0

    done = await run("completeTask", {"input": {"id": task_id}})
    assert done["completeTask"]["task"]["status"] == "DONE"
    cancelled = await run(
        "cancelAppointment", {"input": {"id": visit["scheduleAppointment"]["appointment"]["id"]}}
    )
    assert cancelled["cancelAppointment"]["appointment"]["cancelledAt"]

    feed = await run("customerTimeline", {"customerId": customer})
    kinds = [e["node"]["kind"] for e in feed["customerTimeline"]["edges"]]
    assert sorted(kinds) == ["ACTIVITY", "APPOINTMENT", "TASK_COMPLETED", "TASK_CREATED"]
