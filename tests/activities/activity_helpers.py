"""What the activity tests share (importable as `activity_helpers`: pytest puts this
folder on the path): operations and one-line mutation helpers, over HTTP with real
tokens."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select

from app.db import tenant_transaction

ACTIVITY_FIELDS = (
    "id kind subject body occurredAt durationMinutes outcome nextStep customerId contactId "
    "ownerId version"
)
TASK_FIELDS = (
    "id title description dueAt priority status completedAt assigneeId customerId contactId version"
)
APPOINTMENT_FIELDS = (
    "id title startsAt endsAt location ownerId customerId contactId cancelledAt version"
)
ERRORS = "userErrors { field code message }"

LOG_ACTIVITY = f"""mutation($input: LogActivityInput!) {{
  logActivity(input: $input) {{ activity {{ {ACTIVITY_FIELDS} }} {ERRORS} }} }}"""
UPDATE_ACTIVITY = f"""mutation($input: UpdateActivityInput!) {{
  updateActivity(input: $input) {{ activity {{ {ACTIVITY_FIELDS} }} {ERRORS} }} }}"""
DELETE_ACTIVITY = f"""mutation($input: DeleteActivityInput!) {{
  deleteActivity(input: $input) {{ activity {{ id version }} {ERRORS} }} }}"""
CREATE_TASK = f"""mutation($input: CreateTaskInput!) {{
  createTask(input: $input) {{ task {{ {TASK_FIELDS} }} {ERRORS} }} }}"""
UPDATE_TASK = f"""mutation($input: UpdateTaskInput!) {{
  updateTask(input: $input) {{ task {{ {TASK_FIELDS} }} {ERRORS} }} }}"""
COMPLETE_TASK = f"""mutation($input: CompleteTaskInput!) {{
  completeTask(input: $input) {{ task {{ {TASK_FIELDS} }} {ERRORS} }} }}"""
SCHEDULE = f"""mutation($input: ScheduleAppointmentInput!) {{
  scheduleAppointment(input: $input) {{
    appointment {{ {APPOINTMENT_FIELDS} }}
    warnings {{ code message appointmentIds }} {ERRORS} }} }}"""
UPDATE_APPOINTMENT = f"""mutation($input: UpdateAppointmentInput!) {{
  updateAppointment(input: $input) {{
    appointment {{ {APPOINTMENT_FIELDS} }}
    warnings {{ code message appointmentIds }} {ERRORS} }} }}"""
CANCEL_APPOINTMENT = f"""mutation($input: CancelAppointmentInput!) {{
  cancelAppointment(input: $input) {{
    appointment {{ {APPOINTMENT_FIELDS} }} warnings {{ code }} {ERRORS} }} }}"""
CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id version } userErrors { field code } } }"""
CREATE_CONTACT = """mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } userErrors { field code } } }"""
CREATE_OPPORTUNITY = """mutation($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id customerId } userErrors { field code } } }"""
CREATE_LEAD = """mutation($input: CreateLeadInput!) {
  createLead(input: $input) { lead { id ownerId } userErrors { field code } } }"""


def iso(value: dt.datetime) -> str:
    return value.isoformat()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class Gql:
    """Mutations as one-liners: each returns the payload (asserting no top-level errors)."""

    def __init__(self, api) -> None:
        self.api = api

    async def _run(self, operation: str, name: str, token: str, input: dict) -> dict:
        return (await self.api.gql(operation, {"input": input}, token=token))[name]

    async def customer(self, token: str, owner_id: Any = None, **fields) -> str:
        fields.setdefault("name", f"Cust {uuid.uuid4().hex[:8]}")
        if owner_id is not None:
            fields["ownerId"] = str(owner_id)
        payload = await self._run(CREATE_CUSTOMER, "createCustomer", token, fields)
        assert payload["userErrors"] == [], payload
        return payload["customer"]["id"]

    async def contact(self, token: str, customer_id: str, name: str = "联系人") -> str:
        payload = await self._run(
            CREATE_CONTACT, "createContact", token, {"customerId": customer_id, "name": name}
        )
        assert payload["userErrors"] == [], payload
        return payload["contact"]["id"]

    async def opportunity(self, token: str, customer_id: str, **fields) -> str:
        fields = {"customerId": customer_id, "name": f"Deal {uuid.uuid4().hex[:6]}", **fields}
        payload = await self._run(CREATE_OPPORTUNITY, "createOpportunity", token, fields)
        assert payload["userErrors"] == [], payload
        return payload["opportunity"]["id"]

    async def lead(self, token: str, **fields) -> str:
        fields = {"name": "王先生", "company": f"线索公司{uuid.uuid4().hex[:6]}", **fields}
        payload = await self._run(CREATE_LEAD, "createLead", token, fields)
        assert payload["userErrors"] == [], payload
        return payload["lead"]["id"]

    async def log(self, token: str, customer_id: str, **fields) -> dict:
        fields = {"kind": "CALL", "subject": "Follow-up call", "customerId": customer_id, **fields}
        return await self._run(LOG_ACTIVITY, "logActivity", token, fields)

    async def task(self, token: str, **fields) -> dict:
        fields.setdefault("title", "Send the quote")
        fields.setdefault("dueAt", iso(now() + dt.timedelta(days=1)))
        return await self._run(CREATE_TASK, "createTask", token, fields)

    async def update_task(self, token: str, **fields) -> dict:
        return await self._run(UPDATE_TASK, "updateTask", token, fields)

    async def complete(self, token: str, task_id: str, **fields) -> dict:
        return await self._run(COMPLETE_TASK, "completeTask", token, {"id": task_id, **fields})

    async def schedule(self, token: str, start: dt.datetime, minutes: int = 60, **fields) -> dict:
        fields = {
            "title": "Visit",
            "startsAt": iso(start),
            "endsAt": iso(start + dt.timedelta(minutes=minutes)),
            **fields,
        }
        return await self._run(SCHEDULE, "scheduleAppointment", token, fields)

    async def update_appointment(self, token: str, **fields) -> dict:
        return await self._run(UPDATE_APPOINTMENT, "updateAppointment", token, fields)


async def count_rows(services, tenant, table, *conditions) -> int:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return await conn.scalar(select(func.count()).select_from(table).where(*conditions))
