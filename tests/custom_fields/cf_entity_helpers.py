"""A small client for custom fields on contacts, leads and opportunities (and the
customers' list for sorting), so every test runs the same steps on each entity."""

from __future__ import annotations

from dataclasses import dataclass

from custom_field_helpers import DEFINE, VALUES

VALUE_KEYS = "customFields { key type value }"


@dataclass(frozen=True)
class Kind:
    name: str  # the custom field entity, as stored
    enum: str  # CustomFieldEntity
    node: str  # the payload's and the single query's field
    plural: str  # the list query
    type: str  # the GraphQL type name
    needs_customer: bool
    order_is_list: bool = True

    @property
    def create(self) -> str:
        return f"create{self.type}"

    @property
    def update(self) -> str:
        return f"update{self.type}"


CONTACT = Kind("contact", "CONTACT", "contact", "contacts", "Contact", True, False)
LEAD = Kind("lead", "LEAD", "lead", "leads", "Lead", False)
OPPORTUNITY = Kind("opportunity", "OPPORTUNITY", "opportunity", "opportunities", "Opportunity",
                   True)  # fmt: skip
CUSTOMER = Kind("customer", "CUSTOMER", "customer", "customers", "Customer", False)
NEW_KINDS = [CONTACT, LEAD, OPPORTUNITY]
ALL_KINDS = [CUSTOMER, CONTACT, LEAD, OPPORTUNITY]


class Records:
    """Custom fields of one kind of record, over the API."""

    def __init__(self, api, kind: Kind, customer_id: str | None = None) -> None:
        self.api = api
        self.kind = kind
        self.customer_id = customer_id

    async def define(self, token: str, **input) -> dict:
        input.setdefault("entity", self.kind.enum)
        input.setdefault("label", input["key"])
        return (await self.api.gql(DEFINE, {"input": input}, token=token))["defineCustomField"]

    async def ok(self, token: str, **input) -> dict:
        payload = await self.define(token, **input)
        assert payload["userErrors"] == [], payload
        return payload["customField"]

    def _mutation(self, name: str, input_type: str) -> str:
        return (
            f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ "
            f"{self.kind.node} {{ id version {VALUES} }} userErrors {{ field code message }} }} }}"
        )

    async def create(self, token: str, name: str, values: dict | None = None, **fields) -> dict:
        input = {"name": name, **fields}
        if self.kind.needs_customer:
            input.setdefault("customerId", self.customer_id)
        if values is not None:
            input["customFields"] = [{"key": k, "value": v} for k, v in values.items()]
        operation = self._mutation(self.kind.create, f"Create{self.kind.type}Input")
        return (await self.api.gql(operation, {"input": input}, token=token))[self.kind.create]

    async def update(self, token: str, record: dict, values: dict | None, **fields) -> dict:
        input = {"id": record["id"], "version": record["version"], **fields}
        if values is not None:
            input["customFields"] = [{"key": k, "value": v} for k, v in values.items()]
        operation = self._mutation(self.kind.update, f"Update{self.kind.type}Input")
        return (await self.api.gql(operation, {"input": input}, token=token))[self.kind.update]

    async def get(self, token: str, record_id: str) -> dict | None:
        operation = f"query($id: ID!) {{ {self.kind.node}(id: $id) {{ id version {VALUES} }} }}"
        return (await self.api.gql(operation, {"id": record_id}, token=token))[self.kind.node]

    def list_query(self, selection: str = "name") -> str:
        order = f"[{self.kind.type}Order!]" if self.kind.order_is_list else f"{self.kind.type}Order"
        return (
            f"query($first: Int, $after: String, $last: Int, $before: String, "
            f"$filter: {self.kind.type}Filter, $orderBy: {order}) {{ "
            f"{self.kind.plural}(first: $first, after: $after, last: $last, before: $before, "
            f"filter: $filter, orderBy: $orderBy) {{ totalCount "
            f"pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} "
            f"edges {{ cursor node {{ id {selection} }} }} }} }}"
        )

    async def names(self, token: str, filter: dict, order_by=None) -> list[str]:
        variables = {"first": 100, "filter": filter, "orderBy": order_by or {"field": "NAME"}}
        data = await self.api.gql(self.list_query(), variables, token=token)
        return [e["node"]["name"] for e in data[self.kind.plural]["edges"]]

    async def list_errors(self, token: str, filter: dict | None = None, order_by=None) -> list:
        variables = {"first": 10, "filter": filter, "orderBy": order_by}
        return await self.api.errors(self.list_query(), variables, token=token)
