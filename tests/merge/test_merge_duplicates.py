"""duplicateCustomers: candidate pairs with their score and reasons, highest first,
paged, only of live customers, and only pairs whose two customers the caller sees."""

from __future__ import annotations

import uuid

import pytest
from helpers import make_tenant
from merge_helpers import DELETE_CUSTOMER, DUPLICATES, duplicates, new_customer, pair_names


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "mdup")


@pytest.fixture(scope="module")
async def made(api, tenant) -> dict[str, dict]:
    """Customers of three owners: the rep (sales), another person (manager), the pool."""
    admin = tenant.tokens["admin"]
    rep, other = str(tenant.user_ids["sales"]), str(tenant.user_ids["manager"])
    spec = {
        "hd1": ("佛山华达电子有限公司", {"ownerId": rep, "phone": "+86 138 0013 8000"}),
        "hd2": ("华达电子", {"ownerId": rep, "phone": "13800138000"}),
        "hd3": ("华达电子", {"ownerId": other}),
        "tf1": ("腾飞科技有限公司", {"email": "info@tengfei.cn"}),
        "tf2": ("深圳腾飞科技", {"ownerId": other, "email": "INFO@tengfei.cn"}),
        "xy1": ("鑫源商行", {"phone": "0757-8888 1234"}),
        "xy2": ("顺德鑫源五金", {"phone": "+86 757 8888 1234"}),
        "mj1": ("美佳化妆品", {"email": "a@meijia.cn"}),
        "mj2": ("上海美佳化妆品股份有限公司", {"email": "A@meijia.cn"}),
        "jh1": ("京华贸易", {}),
        "jh2": ("北京京华贸易有限责任公司", {}),
        "ab1": ("ABC Trading", {"phone": "020-12345678", "email": "x@abc.cn"}),
        "ab2": ("XYZ Ltd", {"phone": "02012345678", "email": "X@abc.cn"}),
        "gone": ("华达电子厂", {"phone": "13800138000"}),
    }
    customers = {}
    for key, (name, fields) in spec.items():
        customers[key] = await new_customer(api, admin, name, **fields)
        customers[key]["name"] = name
    gone = customers["gone"]
    data = await api.gql(
        DELETE_CUSTOMER, {"input": {"id": gone["id"], "version": gone["version"]}}, token=admin
    )
    assert data["deleteCustomer"]["userErrors"] == []
    return customers


def _pair(made, a: str, b: str) -> frozenset[str]:
    return frozenset((made[a]["name"], made[b]["name"]))


def _ids(connection: dict) -> set[frozenset[str]]:
    return {
        frozenset((e["node"]["customer"]["id"], e["node"]["duplicate"]["id"]))
        for e in connection["edges"]
    }


def _by_ids(made, *pairs: tuple[str, str]) -> set[frozenset[str]]:
    return {frozenset((made[a]["id"], made[b]["id"])) for a, b in pairs}


SALES_PAIRS = {
    ("hd1", "hd2"): (100, ["NAME", "PHONE"]),
    ("xy1", "xy2"): (40, ["PHONE"]),
    ("mj1", "mj2"): (100, ["EMAIL", "NAME"]),
    ("jh1", "jh2"): (60, ["NAME"]),
    ("ab1", "ab2"): (80, ["EMAIL", "PHONE"]),
}
ONLY_ADMIN_PAIRS = {
    ("tf1", "tf2"): (100, ["EMAIL", "NAME"]),
    ("hd1", "hd3"): (60, ["NAME"]),
    ("hd2", "hd3"): (60, ["NAME"]),
}


async def test_pairs_with_scores_and_reasons_highest_first(api, tenant, made):
    found = await duplicates(api, tenant.tokens["admin"])
    assert found["totalCount"] == len(SALES_PAIRS) + len(ONLY_ADMIN_PAIRS)
    names = {frozenset((e["node"]["customer"]["id"], e["node"]["duplicate"]["id"])): (
        e["node"]["score"], e["node"]["reasons"]) for e in found["edges"]}  # fmt: skip
    expected = {**SALES_PAIRS, **ONLY_ADMIN_PAIRS}
    assert names == {frozenset((made[a]["id"], made[b]["id"])): v for (a, b), v in expected.items()}
    scores = [e["node"]["score"] for e in found["edges"]]
    assert scores == sorted(scores, reverse=True)
    # The older customer of a pair comes first: the usual survivor.
    for edge in found["edges"]:
        node = edge["node"]
        assert node["customer"]["createdAt"] <= node["duplicate"]["createdAt"]
    # A deleted customer pairs with nothing (华达电子厂 shares name and phone with 华达).
    assert made["gone"]["id"] not in {i for pair in _ids(found) for i in pair}


async def test_min_score(api, tenant, made):
    found = await duplicates(api, tenant.tokens["admin"], minScore=80)
    assert _ids(found) == _by_ids(made, ("hd1", "hd2"), ("mj1", "mj2"), ("ab1", "ab2"),
                                  ("tf1", "tf2"))  # fmt: skip
    errors = await api.errors(DUPLICATES, {"minScore": 101}, token=tenant.tokens["admin"])
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_pages_follow_each_other(api, tenant, made):
    seen: list[frozenset[str]] = []
    after = None
    while True:
        page = await duplicates(api, tenant.tokens["admin"], first=3, after=after)
        seen += [
            frozenset((e["node"]["customer"]["id"], e["node"]["duplicate"]["id"]))
            for e in page["edges"]
        ]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == len(SALES_PAIRS) + len(ONLY_ADMIN_PAIRS)


async def test_a_rep_sees_only_pairs_of_customers_they_see(api, tenant, made):
    """Own scope: the rep's customers and the pool. 深圳腾飞科技 and the manager's
    华达电子 are someone else's: no pair with them shows, not even with the rep's own."""
    found = await duplicates(api, tenant.tokens["sales"])
    assert pair_names(found) == {_pair(made, a, b): v for (a, b), v in SALES_PAIRS.items()}
    assert found["totalCount"] == len(SALES_PAIRS)


async def test_a_key_many_customers_share_is_no_evidence(api, tenant, made):
    """A switchboard or placeholder number on 21 customers pairs none of them."""
    admin = tenant.tokens["admin"]
    marker = uuid.uuid4().hex[:6]
    many = [
        (await new_customer(api, admin, f"门店{marker}{i:02d}号", phone="400-800-8888"))["id"]
        for i in range(21)
    ]
    found = await duplicates(api, admin)
    assert not {i for pair in _ids(found) for i in pair} & set(many)
