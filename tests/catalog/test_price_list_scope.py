"""Data scope of price lists: products and tenant-wide lists are for every product
reader; a customer's own list, and resolving prices for a customer, only for those
who may see that customer (by owner, team and pool; by assignment for partners).
Reads, counts, filters, nested lists and writes all obey it."""

from __future__ import annotations

import pytest
from catalog_helpers import (
    CREATE_LIST,
    GET_LIST,
    LIST_LISTS,
    RESOLVE,
    SET_ITEMS,
    UPDATE_LIST,
    new_customer,
    new_price_list,
    new_product,
    new_role,
    user_token,
)
from helpers import make_tenant

CREATE_TEAM = """mutation($input: CreateTeamInput!) {
  createTeam(input: $input) { team { id } userErrors { field code message } } }"""


@pytest.fixture(scope="module")
async def org(api, owner, services):
    tenant = await make_tenant(owner, services, "pricescope")
    admin = tenant.tokens["admin"]
    teams = {}
    for name in ("east", "west"):
        data = await api.gql(CREATE_TEAM, {"input": {"name": name}}, token=admin)
        teams[name] = data["createTeam"]["team"]["id"]
    # A rep's custom role that may also manage prices (own scope), and a distributor
    # role (assigned scope) that may read products.
    await new_role(
        api,
        tenant,
        "pricing-rep",
        ["customers:read", "customers:write", "products:read", "prices:manage"],
        "OWN",
    )
    await new_role(api, tenant, "distributor", ["customers:read", "products:read"], "ASSIGNED")
    people, tokens = {}, {"admin": admin}
    for name, role, team in (
        ("rep_east", "sales", "east"), ("rep_west", "sales", "west"),
        ("mgr_east", "manager", "east"), ("pricer_east", "pricing-rep", "east"),
        ("dist", "distributor", None),
    ):  # fmt: skip
        people[name], tokens[name] = await user_token(
            api, services, tenant, name, role, teams.get(team)
        )
    product = await new_product(api, admin, listPrice="100")
    item = [{"productId": product["id"], "unitPrice": "50"}]
    customers = {
        "east": await new_customer(api, admin, "东部客户", ownerId=people["rep_east"]),
        "west": await new_customer(api, admin, "西部客户", ownerId=people["rep_west"]),
        "pool": await new_customer(api, admin, "公海客户"),
        "assigned": await new_customer(api, admin, "经销客户", ownerId=people["rep_west"],
                                       partnerId=people["dist"]),
    }  # fmt: skip
    lists = {"all": (await new_price_list(api, admin, name="通用", items=item))["id"]}
    for key, customer in customers.items():
        made = await new_price_list(
            api, admin, name=f"{key} 专享", target="CUSTOMER", customerId=customer, items=item
        )
        lists[key] = made["id"]
    return {"tenant": tenant, "tokens": tokens, "people": people, "product": product["id"],
            "customers": customers, "lists": lists}  # fmt: skip


SEES = {  # which customers' lists (and customers) each person sees, besides "all"
    "admin": {"east", "west", "pool", "assigned"},
    "rep_east": {"east", "pool"},
    "rep_west": {"west", "pool", "assigned"},
    "mgr_east": {"east", "pool"},
    "pricer_east": {"pool"},  # owns nothing: the pool only
    "dist": {"assigned"},
}


@pytest.mark.parametrize("person", list(SEES))
async def test_lists_counts_and_by_id_follow_the_customer(api, org, person):
    token = org["tokens"][person]
    expected = {org["lists"][k] for k in SEES[person]} | {org["lists"]["all"]}
    data = await api.gql(LIST_LISTS, token=token)
    assert {e["node"]["id"] for e in data["priceLists"]["edges"]} == expected
    assert data["priceLists"]["totalCount"] == len(expected)
    targeted = await api.gql(LIST_LISTS, {"filter": {"target": {"eq": "CUSTOMER"}}}, token=token)
    assert targeted["priceLists"]["totalCount"] == len(SEES[person])
    for key, list_id in org["lists"].items():
        got = await api.gql(GET_LIST, {"id": list_id}, token=token)
        assert (got["priceList"] is not None) == (key == "all" or key in SEES[person]), key
        by_customer = await api.gql(
            LIST_LISTS, {"filter": {"customerId": {"eq": org["customers"].get(key)}}}, token=token
        ) if key != "all" else None  # fmt: skip
        if by_customer is not None:
            assert by_customer["priceLists"]["totalCount"] == (key in SEES[person])


@pytest.mark.parametrize("person", list(SEES))
async def test_resolving_for_a_customer_needs_seeing_them(api, org, person):
    token = org["tokens"][person]
    line = {"productId": org["product"], "quantity": "1"}
    for key, customer in org["customers"].items():
        variables = {"input": {"customerId": customer, "lines": [line]}}
        if key in SEES[person]:
            data = await api.gql(RESOLVE, variables, token=token)
            (priced,) = data["resolvePrices"]["lines"]
            assert (priced["source"], priced["priceListId"]) == (
                "CUSTOMER_LIST", org["lists"][key]
            )  # fmt: skip
        else:
            errors = await api.errors(RESOLVE, variables, token=token)
            assert errors[0]["extensions"]["code"] == "NOT_FOUND", key
    anyone = await api.gql(RESOLVE, {"input": {"lines": [line]}}, token=token)
    assert anyone["resolvePrices"]["lines"][0]["priceListId"] == org["lists"]["all"]


async def test_nested_price_list_of_a_resolved_price(api, org):
    query = """query($input: ResolvePricesInput!) { resolvePrices(input: $input) {
      lines { priceList { id name customer { name } } product { code } } } }"""
    data = await api.gql(
        query,
        {"input": {"customerId": org["customers"]["east"],
                   "lines": [{"productId": org["product"], "quantity": "2"}]}},
        token=org["tokens"]["rep_east"],
    )  # fmt: skip
    (line,) = data["resolvePrices"]["lines"]
    assert line["priceList"]["customer"] == {"name": "东部客户"}


async def test_writes_follow_the_customer_too(api, org):
    token = org["tokens"]["pricer_east"]
    lists, customers = org["lists"], org["customers"]
    for key in ("east", "west"):  # lists of customers the pricer does not see
        data = await api.gql(
            UPDATE_LIST, {"input": {"id": lists[key], "version": 1, "name": "x"}}, token=token
        )
        assert data["updatePriceList"]["userErrors"][0]["code"] == "NOT_FOUND"
        items = await api.gql(
            SET_ITEMS, {"input": {"priceListId": lists[key], "version": 1, "items": []}},
            token=token,
        )  # fmt: skip
        assert items["setPriceListItems"]["userErrors"][0]["field"] == "priceListId"
        created = await api.gql(
            CREATE_LIST,
            {"input": {"name": "x", "currency": "CNY", "target": "CUSTOMER",
                       "customerId": customers[key]}},
            token=token,
        )  # fmt: skip
        assert created["createPriceList"]["userErrors"][0]["field"] == "customerId"
        # nor move a visible list onto such a customer
        moved = await api.gql(
            UPDATE_LIST,
            {"input": {"id": lists["pool"], "version": 1, "customerId": customers[key]}},
            token=token,
        )
        assert moved["updatePriceList"]["userErrors"][0]["field"] == "customerId"
    fine = await api.gql(
        UPDATE_LIST, {"input": {"id": lists["pool"], "version": 1, "name": "公海专享"}},
        token=token,
    )  # fmt: skip
    assert fine["updatePriceList"]["userErrors"] == []
    admin = org["tokens"]["admin"]
    west = await api.gql(GET_LIST, {"id": lists["west"]}, token=admin)
    assert (west["priceList"]["name"], west["priceList"]["version"]) == ("west 专享", 1)


async def test_built_in_partners_see_tenant_wide_lists_only(api, org, services):
    """The built-in partner reads products (for distributors' orders): tenant-wide lists,
    and no customer's own list (none is assigned to this one)."""
    _, partner = await user_token(api, services, org["tenant"], "plain-partner", "partner")
    data = await api.gql(LIST_LISTS, token=partner)
    assert data["priceLists"]["totalCount"] >= 1
    assert {e["node"]["customerId"] for e in data["priceLists"]["edges"]} == {None}
