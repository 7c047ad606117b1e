"""Operations and a small client for custom field tests (shared by the test modules)."""

from __future__ import annotations

DEFINE = """mutation($input: DefineCustomFieldInput!) {
  defineCustomField(input: $input) {
    customField { id key label type required options position version
                  validation { maxLength min max } }
    userErrors { field code message }
  }
}"""
UPDATE = """mutation($input: UpdateCustomFieldInput!) {
  updateCustomField(input: $input) {
    customField { id key label type required options position version
                  validation { maxLength min max } }
    userErrors { field code message }
  }
}"""
REMOVE = """mutation($input: RemoveCustomFieldInput!) {
  removeCustomField(input: $input) {
    customField { id deletedAt }
    userErrors { field code message }
  }
}"""
DEFINITIONS = """query { customFieldDefinitions(entity: CUSTOMER) {
  id key label type required options position } }"""
VALUES = """customFields { key label type value textValue numberValue decimalValue
                           dateValue boolValue optionValues }"""
CREATE = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id version VALUES_HERE } userErrors { field code message } } }""".replace(
    "VALUES_HERE", VALUES
)
UPDATE_CUSTOMER = """mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
  customer { id version VALUES_HERE } userErrors { field code message } } }""".replace(
    "VALUES_HERE", VALUES
)
CUSTOMER = "query($id: ID!) { customer(id: $id) { id version VALUES_HERE } }".replace(
    "VALUES_HERE", VALUES
)
LIST = """query($filter: CustomerFilter) {
  customers(first: 100, filter: $filter, orderBy: {field: NAME}) {
    totalCount edges { node { name } } } }"""


class Fields:
    def __init__(self, api) -> None:
        self.api = api

    async def define(self, token: str, **input) -> dict:
        input.setdefault("entity", "CUSTOMER")
        input.setdefault("label", input["key"])
        data = await self.api.gql(DEFINE, {"input": input}, token=token)
        return data["defineCustomField"]

    async def ok(self, token: str, **input) -> dict:
        payload = await self.define(token, **input)
        assert payload["userErrors"] == [], payload
        return payload["customField"]

    async def create(self, token: str, name: str, values: dict | None = None, **fields) -> dict:
        input = {"name": name, **fields}
        if values is not None:
            input["customFields"] = [{"key": k, "value": v} for k, v in values.items()]
        return (await self.api.gql(CREATE, {"input": input}, token=token))["createCustomer"]

    async def update(self, token: str, customer: dict, values: dict, **fields) -> dict:
        input = {
            "id": customer["id"],
            "version": customer["version"],
            "customFields": [{"key": k, "value": v} for k, v in values.items()],
            **fields,
        }
        data = await self.api.gql(UPDATE_CUSTOMER, {"input": input}, token=token)
        return data["updateCustomer"]

    async def names(self, token: str, filter: dict) -> list[str]:
        data = await self.api.gql(LIST, {"filter": filter}, token=token)
        return [e["node"]["name"] for e in data["customers"]["edges"]]
