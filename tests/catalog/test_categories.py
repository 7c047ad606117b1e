"""The category tree: create, rename, move (never into a cycle, even with concurrent
moves), delete only when empty; read as children or as the whole tree depth first;
filter products by a category's whole subtree."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from catalog_helpers import (
    CREATE_CATEGORY,
    DELETE_CATEGORY,
    LIST_PRODUCTS,
    TREE,
    UPDATE_CATEGORY,
    UPDATE_PRODUCT,
    new_category,
    new_product,
)
from helpers import make_tenant


@pytest.fixture
async def tree(api, owner, services):
    """A fresh tenant with 电子 > (手机 > 配件, 电脑) and 食品."""
    tenant = await make_tenant(owner, services, "cattree")
    admin = tenant.tokens["admin"]
    electronics = await new_category(api, admin, "电子")
    phones = await new_category(api, admin, "手机", electronics["id"])
    parts = await new_category(api, admin, "配件", phones["id"])
    computers = await new_category(api, admin, "电脑", electronics["id"])
    food = await new_category(api, admin, "食品")
    ids = {"电子": electronics, "手机": phones, "配件": parts, "电脑": computers, "食品": food}
    return tenant, ids


def _names(categories: list[dict]) -> list[tuple[str, int | None]]:
    return [(c["name"], c["depth"]) for c in categories]


async def test_children_and_whole_tree(api, tree):
    tenant, ids = tree
    token = tenant.tokens["viewer"]
    roots = (await api.gql(TREE, token=token))["productCategories"]
    assert sorted(c["name"] for c in roots) == ["电子", "食品"]
    children = await api.gql(TREE, {"parentId": ids["电子"]["id"]}, token=token)
    assert {c["name"] for c in children["productCategories"]} == {"手机", "电脑"}
    whole = (await api.gql(TREE, {"descendants": True}, token=token))["productCategories"]
    # Depth first, siblings by name in Chinese order (电脑 diannao before 手机 shouji).
    assert _names(whole) == [("电子", 0), ("电脑", 1), ("手机", 1), ("配件", 2), ("食品", 0)]
    assert whole[3]["parentId"] == ids["手机"]["id"]
    subtree = await api.gql(TREE, {"parentId": ids["电子"]["id"], "descendants": True}, token=token)
    assert _names(subtree["productCategories"]) == [("电脑", 0), ("手机", 0), ("配件", 1)]
    one = await api.gql(
        "query($id: ID!) { productCategory(id: $id) { name parentId } }",
        {"id": ids["配件"]["id"]}, token=token,
    )  # fmt: skip
    assert one["productCategory"] == {"name": "配件", "parentId": ids["手机"]["id"]}
    assert (await api.gql(TREE, {"parentId": "bad"}, token=token))["productCategories"] == []


async def test_rename_move_and_validation(api, tree):
    tenant, ids = tree
    admin = tenant.tokens["admin"]
    phones = ids["手机"]
    renamed = await api.gql(
        UPDATE_CATEGORY, {"input": {"id": phones["id"], "version": 1, "name": "移动电话"}},
        token=admin,
    )  # fmt: skip
    assert renamed["updateProductCategory"]["category"]["name"] == "移动电话"
    moved = await api.gql(
        UPDATE_CATEGORY,
        {"input": {"id": phones["id"], "version": 2, "parentId": ids["食品"]["id"]}},
        token=admin,
    )
    assert moved["updateProductCategory"]["category"]["parentId"] == ids["食品"]["id"]
    root = await api.gql(
        UPDATE_CATEGORY, {"input": {"id": phones["id"], "version": 3, "parentId": None}},
        token=admin,
    )  # fmt: skip
    assert root["updateProductCategory"]["category"]["parentId"] is None
    stale = await api.gql(
        UPDATE_CATEGORY, {"input": {"id": phones["id"], "version": 1, "name": "x"}}, token=admin
    )
    assert stale["updateProductCategory"]["userErrors"][0]["code"] == "CONFLICT"
    taken = await api.gql(CREATE_CATEGORY, {"input": {"name": "电子"}}, token=admin)
    assert taken["createProductCategory"]["userErrors"] == [
        {"field": "name", "code": "TAKEN",
         "message": "a category of this name already exists under this parent"}
    ]  # fmt: skip
    same_name_elsewhere = await api.gql(
        CREATE_CATEGORY, {"input": {"name": "电子", "parentId": ids["食品"]["id"]}}, token=admin
    )
    assert same_name_elsewhere["createProductCategory"]["userErrors"] == []
    for values, field, code in (
        ({"name": " "}, "name", "REQUIRED"),
        ({"name": "x" * 101}, "name", "TOO_LONG"),
        ({"name": "孤儿", "parentId": str(uuid.uuid4())}, "parentId", "NOT_FOUND"),
        ({"name": "孤儿", "parentId": "bad"}, "parentId", "NOT_FOUND"),
    ):
        data = await api.gql(CREATE_CATEGORY, {"input": values}, token=admin)
        assert data["createProductCategory"]["category"] is None
        assert [(e["field"], e["code"]) for e in data["createProductCategory"]["userErrors"]] == [
            (field, code)
        ]
    whole = (await api.gql(TREE, {"descendants": True}, token=admin))["productCategories"]
    assert "孤儿" not in {c["name"] for c in whole}


@pytest.mark.parametrize(
    ("moved", "below"), [("电子", "电子"), ("电子", "手机"), ("电子", "配件"), ("手机", "配件")]
)
async def test_moves_into_a_cycle_are_refused(api, tree, moved, below):
    tenant, ids = tree
    admin = tenant.tokens["admin"]
    data = await api.gql(
        UPDATE_CATEGORY,
        {"input": {"id": ids[moved]["id"], "version": 1, "parentId": ids[below]["id"]}},
        token=admin,
    )
    assert data["updateProductCategory"]["userErrors"] == [
        {"field": "parentId", "code": "CYCLE",
         "message": "a category cannot move below itself or its subcategories"}
    ]  # fmt: skip
    whole = (await api.gql(TREE, {"descendants": True}, token=admin))["productCategories"]
    assert len(whole) == 5 and all(c["version"] == 1 for c in whole)


async def test_concurrent_crossing_moves_never_make_a_cycle(api, tree):
    """手机 below 食品 and, at the same time, 食品 below 配件 (which is below 手机):
    each alone is fine, both would make a cycle, so one must lose."""
    tenant, _ = tree
    admin = tenant.tokens["admin"]

    async def current() -> dict[str, dict]:
        whole = await api.gql(TREE, {"descendants": True}, token=admin)
        return {c["name"]: c for c in whole["productCategories"]}

    async def move(now: dict, name: str, below: str | None) -> dict:
        data = await api.gql(
            UPDATE_CATEGORY,
            {"input": {"id": now[name]["id"], "version": now[name]["version"],
                       "parentId": now[below]["id"] if below else None}},
            token=admin,
        )  # fmt: skip
        return data["updateProductCategory"]

    for _ in range(3):
        now = await current()
        results = await asyncio.gather(move(now, "手机", "食品"), move(now, "食品", "配件"))
        assert sorted(bool(r["userErrors"]) for r in results) == [False, True], results
        assert [e["code"] for r in results for e in r["userErrors"]] == ["CYCLE"]
        after = await current()
        assert len(after) == 5  # every category still reachable from a root: no cycle
        for name, parent in (("手机", "电子"), ("食品", None)):  # back for the next round
            if after[name]["parentId"] != (after[parent]["id"] if parent else None):
                assert (await move(after, name, parent))["userErrors"] == []


async def test_delete_only_when_empty(api, tree):
    tenant, ids = tree
    admin = tenant.tokens["admin"]
    product = await new_product(api, admin, categoryId=ids["电脑"]["id"])
    for name, reason in (("电子", "subcategories"), ("电脑", "products")):
        data = await api.gql(DELETE_CATEGORY, {"input": {"id": ids[name]["id"]}}, token=admin)
        assert data["deleteProductCategory"]["deletedId"] is None
        (error,) = data["deleteProductCategory"]["userErrors"]
        assert (error["field"], error["code"]) == ("id", "NOT_EMPTY")
        assert reason in error["message"]
    # Even a deactivated product keeps its category.
    await api.gql(
        UPDATE_PRODUCT, {"input": {"id": product["id"], "version": 1, "active": False}},
        token=admin,
    )  # fmt: skip
    data = await api.gql(DELETE_CATEGORY, {"input": {"id": ids["电脑"]["id"]}}, token=admin)
    assert data["deleteProductCategory"]["userErrors"][0]["code"] == "NOT_EMPTY"
    await api.gql(
        UPDATE_PRODUCT, {"input": {"id": product["id"], "version": 2, "categoryId": None}},
        token=admin,
    )  # fmt: skip
    stale = await api.gql(
        DELETE_CATEGORY, {"input": {"id": ids["电脑"]["id"], "version": 7}}, token=admin
    )
    assert stale["deleteProductCategory"]["userErrors"][0]["code"] == "CONFLICT"
    gone = await api.gql(
        DELETE_CATEGORY, {"input": {"id": ids["电脑"]["id"], "version": 1}}, token=admin
    )
    assert gone["deleteProductCategory"] == {"deletedId": ids["电脑"]["id"], "userErrors": []}
    again = await api.gql(DELETE_CATEGORY, {"input": {"id": ids["电脑"]["id"]}}, token=admin)
    assert again["deleteProductCategory"]["userErrors"][0]["code"] == "NOT_FOUND"
    leaf = await api.gql(DELETE_CATEGORY, {"input": {"id": ids["配件"]["id"]}}, token=admin)
    assert leaf["deleteProductCategory"]["userErrors"] == []


async def test_products_of_a_subtree(api, tree):
    tenant, ids = tree
    admin = tenant.tokens["admin"]
    placed = {}
    for name in ("电子", "手机", "配件", "电脑", "食品"):
        placed[name] = (await new_product(api, admin, categoryId=ids[name]["id"]))["code"]
    loose = (await new_product(api, admin))["code"]

    async def codes(filter_: dict) -> set[str]:
        data = await api.gql(LIST_PRODUCTS, {"filter": filter_, "first": 100}, token=admin)
        return {e["node"]["code"] for e in data["products"]["edges"]}

    assert await codes({"underCategory": ids["电子"]["id"]}) == {
        placed[n] for n in ("电子", "手机", "配件", "电脑")
    }
    assert await codes({"underCategory": ids["手机"]["id"]}) == {placed["手机"], placed["配件"]}
    assert await codes({"categoryId": {"eq": ids["手机"]["id"]}}) == {placed["手机"]}
    assert await codes({"categoryId": {"isNull": True}}) == {loose}
    assert await codes(
        {"or": [{"underCategory": ids["手机"]["id"]}, {"underCategory": ids["食品"]["id"]}]}
    ) == {placed["手机"], placed["配件"], placed["食品"]}
    assert await codes({"underCategory": str(uuid.uuid4())}) == set()
    # A move takes the subtree's products along.
    await api.gql(
        UPDATE_CATEGORY,
        {"input": {"id": ids["手机"]["id"], "version": 1, "parentId": ids["食品"]["id"]}},
        token=admin,
    )
    assert await codes({"underCategory": ids["食品"]["id"]}) == {
        placed["食品"], placed["手机"], placed["配件"]
    }  # fmt: skip


async def test_writing_categories_needs_products_write(api, tree):
    tenant, ids = tree
    for query, input_ in (
        (CREATE_CATEGORY, {"name": "x"}),
        (UPDATE_CATEGORY, {"id": ids["电子"]["id"], "version": 1, "name": "x"}),
        (DELETE_CATEGORY, {"id": ids["食品"]["id"]}),
    ):
        errors = await api.errors(query, {"input": input_}, token=tenant.tokens["manager"])
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
