"""What the merge tests share (importable as `merge_helpers`): the published example
operations, customers and their linked rows made through the API, and reading back
what a merge may have written."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from app.audit.tables import audit_log
from app.customers.tables import customers
from app.db import tenant_transaction
from app.leads.tables import leads
from app.merge.tables import MOVED

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"
DUPLICATES = (OPERATIONS / "duplicateCustomers.graphql").read_text()
MERGE = (OPERATIONS / "mergeCustomers.graphql").read_text()
MERGED_INTO = (OPERATIONS / "customerMergedInto.graphql").read_text()

ERRORS = "userErrors { field code message }"
CREATE_CUSTOMER = f"""mutation($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{ customer {{ id version }} {ERRORS} }} }}"""
CREATE_CONTACT = f"""mutation($input: CreateContactInput!) {{
  createContact(input: $input) {{ contact {{ id }} {ERRORS} }} }}"""
LOG_ACTIVITY = f"""mutation($input: LogActivityInput!) {{
  logActivity(input: $input) {{ activity {{ id }} {ERRORS} }} }}"""
CREATE_TASK = f"""mutation($input: CreateTaskInput!) {{
  createTask(input: $input) {{ task {{ id }} {ERRORS} }} }}"""
SCHEDULE = f"""mutation($input: ScheduleAppointmentInput!) {{
  scheduleAppointment(input: $input) {{ appointment {{ id }} {ERRORS} }} }}"""
CREATE_OPPORTUNITY = f"""mutation($input: CreateOpportunityInput!) {{
  createOpportunity(input: $input) {{ opportunity {{ id }} {ERRORS} }} }}"""
CREATE_PRODUCT = f"""mutation($input: CreateProductInput!) {{
  createProduct(input: $input) {{ product {{ id }} {ERRORS} }} }}"""
CREATE_WAREHOUSE = f"""mutation($input: CreateWarehouseInput!) {{
  createWarehouse(input: $input) {{ warehouse {{ id }} {ERRORS} }} }}"""
CREATE_QUOTE = f"""mutation($input: CreateQuoteInput!) {{
  createQuote(input: $input) {{ quote {{ id }} {ERRORS} }} }}"""
CREATE_ORDER = f"""mutation($input: CreateSalesOrderInput!) {{
  createSalesOrder(input: $input) {{ salesOrder {{ id }} {ERRORS} }} }}"""
RECEIVE = f"""mutation($input: ReceiveStockInput!) {{
  receiveStock(input: $input) {{ postingId {ERRORS} }} }}"""
CONFIRM_ORDER = f"""mutation($input: ConfirmSalesOrderInput!) {{
  confirmSalesOrder(input: $input) {{ salesOrder {{ id lines {{ id }} }} {ERRORS} }} }}"""
SHIP = f"""mutation($input: CreateShipmentInput!) {{
  createShipment(input: $input) {{ shipment {{ id }} {ERRORS} }} }}"""
INVOICE = f"""mutation($input: CreateInvoiceInput!) {{
  createInvoice(input: $input) {{ invoice {{ id }} {ERRORS} }} }}"""
PAY = f"""mutation($input: RecordPaymentInput!) {{
  recordPayment(input: $input) {{ payment {{ id }} {ERRORS} }} }}"""
RETURN = f"""mutation($input: CreateSalesReturnInput!) {{
  createSalesReturn(input: $input) {{ salesReturn {{ id creditNoteId }} {ERRORS} }} }}"""
DELETE_CUSTOMER = f"""mutation($input: DeleteCustomerInput!) {{
  deleteCustomer(input: $input) {{ customer {{ id version }} {ERRORS} }} }}"""
CUSTOMER = """query($id: ID!) { customer(id: $id) { id name deletedAt version } }"""


async def payload(api, operation: str, name: str, token: str, input: dict) -> dict:
    data = await api.gql(operation, {"input": input}, token=token)
    result = data[name]
    assert result["userErrors"] == [], result
    return result


async def new_customer(api, token: str, name: str, **fields: Any) -> dict:
    """{id, version} of a new customer (fields in the API's names)."""
    result = await payload(api, CREATE_CUSTOMER, "createCustomer", token, {"name": name, **fields})
    return result["customer"]


def _later(hours: float) -> str:
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=hours)
    return start.isoformat()


async def populate(api, services, tenant, token: str, customer_id: str, *, tag: str) -> None:
    """One of everything that refers to a customer: two contacts (one primary), an
    activity, a task, an appointment, an opportunity, a quote, a sales order and a
    converted lead (ownership history comes from creating the customer with an owner)."""
    primary = await payload(api, CREATE_CONTACT, "createContact", token,
                            {"customerId": customer_id, "name": f"{tag}主联系人", "isPrimary": True})  # fmt: skip
    await payload(api, CREATE_CONTACT, "createContact", token,
                  {"customerId": customer_id, "name": f"{tag}联系人"})  # fmt: skip
    await payload(api, LOG_ACTIVITY, "logActivity", token,
                  {"customerId": customer_id, "kind": "CALL", "subject": f"{tag}电话"})  # fmt: skip
    await payload(api, CREATE_TASK, "createTask", token,
                  {"customerId": customer_id, "title": f"{tag}回访", "dueAt": _later(24)})  # fmt: skip
    hours = 48 + len(tag)  # appointments of one owner must not overlap much; any start works
    await payload(api, SCHEDULE, "scheduleAppointment", token,
                  {"customerId": customer_id, "title": f"{tag}拜访", "startsAt": _later(hours),
                   "endsAt": _later(hours + 1)})  # fmt: skip
    await payload(api, CREATE_OPPORTUNITY, "createOpportunity", token,
                  {"customerId": customer_id, "name": f"{tag}机会"})  # fmt: skip
    code = f"M-{uuid.uuid4().hex[:10]}"
    product = (await payload(api, CREATE_PRODUCT, "createProduct", token,
                             {"code": code, "name": f"{tag}产品", "unit": "件",
                              "listPrice": "10"}))["product"]["id"]  # fmt: skip
    warehouse = (await payload(api, CREATE_WAREHOUSE, "createWarehouse", token,
                               {"code": code, "name": f"{tag}仓库"}))["warehouse"]["id"]  # fmt: skip
    line = [{"productId": product, "quantity": "2"}]
    await payload(api, CREATE_QUOTE, "createQuote", token,
                  {"customerId": customer_id, "lines": line})  # fmt: skip
    order = (await payload(api, CREATE_ORDER, "createSalesOrder", token,
                           {"customerId": customer_id, "warehouseId": warehouse,
                            "lines": line}))["salesOrder"]["id"]  # fmt: skip
    # The order goes on to cash: a shipment, an invoice, a payment, a return (credit note).
    await payload(api, RECEIVE, "receiveStock", token, {"warehouseId": warehouse, "lines": [
        {"productId": product, "quantity": "10"}]})  # fmt: skip
    confirmed = await payload(api, CONFIRM_ORDER, "confirmSalesOrder", token, {"id": order})
    order_line = confirmed["salesOrder"]["lines"][0]["id"]
    await payload(api, SHIP, "createShipment", token, {"orderId": order, "lines": [
        {"orderLineId": order_line, "quantity": "2"}]})  # fmt: skip
    invoice = (await payload(api, INVOICE, "createInvoice", token,
                             {"orderId": order}))["invoice"]["id"]  # fmt: skip
    await payload(api, PAY, "recordPayment", token, {
        "customerId": customer_id, "currency": "CNY", "amount": "1.00",
        "allocations": [{"invoiceId": invoice, "amount": "1.00"}]})  # fmt: skip
    await payload(api, RETURN, "createSalesReturn", token, {"orderId": order, "lines": [
        {"orderLineId": order_line, "quantity": "1"}]})  # fmt: skip
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await conn.execute(
            insert(leads).values(
                id=uuid.uuid4(),
                name=f"{tag}线索",
                status="qualified",
                converted_at=func.now(),
                converted_customer_id=uuid.UUID(customer_id),
                converted_contact_id=uuid.UUID(primary["contact"]["id"]),
            )  # fmt: skip
        )


async def linked_counts(services, tenant, customer_id: str) -> dict[str, int]:
    """Rows of each kind a merge moves that refer to this customer (deleted ones too)."""
    found = {}
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        for name, column in MOVED.items():
            found[name] = await conn.scalar(
                select(func.count())
                .select_from(column.table)
                .where(column == uuid.UUID(customer_id))
            )
    return found


async def customer_row(services, tenant, customer_id: str):
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return (
            await conn.execute(select(customers).where(customers.c.id == uuid.UUID(customer_id)))
        ).one()


async def audit_records(services, tenant, customer_id: str, action: str) -> list:
    a = audit_log.c
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = await conn.execute(
            select(audit_log)
            .where(a.entity_id == uuid.UUID(customer_id), a.action == action)
            .order_by(a.id)
        )
        return list(rows)


def merge_input(survivor: dict, merged: dict) -> dict:
    return {
        "survivorId": survivor["id"],
        "mergedId": merged["id"],
        "survivorVersion": survivor["version"],
        "mergedVersion": merged["version"],
    }


async def merge(api, token: str, survivor: dict, merged: dict) -> dict:
    data = await api.gql(MERGE, {"input": merge_input(survivor, merged)}, token=token)
    return data["mergeCustomers"]


async def version(services, tenant, customer_id: str) -> int:
    return (await customer_row(services, tenant, customer_id)).version


async def fresh(services, tenant, customer: dict) -> dict:
    """The customer as {id, version} at its current version."""
    return {"id": customer["id"], "version": await version(services, tenant, customer["id"])}


async def duplicates(api, token: str, **variables: Any) -> dict:
    variables.setdefault("first", 100)
    return (await api.gql(DUPLICATES, variables, token=token))["duplicateCustomers"]


def pair_names(connection: dict) -> dict[frozenset[str], tuple[int, list[str]]]:
    """{ {name, name}: (score, reasons) } of a duplicateCustomers page."""
    return {
        frozenset((e["node"]["customer"]["name"], e["node"]["duplicate"]["name"])): (
            e["node"]["score"],
            e["node"]["reasons"],
        )
        for e in connection["edges"]
    }
