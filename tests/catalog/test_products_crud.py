"""Products: create (idempotent with a client id), read, change with optimistic
versions, deactivate; every validation error names its field and writes nothing."""

from __future__ import annotations

import uuid

import pytest
from catalog_helpers import (
    CREATE_PRODUCT,
    GET_PRODUCT,
    LIST_PRODUCTS,
    UPDATE_PRODUCT,
    code,
    new_category,
    new_product,
)
from sqlalchemy import func, select

from app.audit.service import SYSTEM
from app.audit.tables import audit_log
from app.catalog import service as catalog
from app.catalog.tables import products
from app.db import tenant_transaction
from app.errors import UserErrors


async def test_create_read_and_defaults(api, tenant_a):
    admin = tenant_a.tokens["admin"]
    category = await new_category(api, admin, "紧固件")
    sku = code("M8")
    product = await new_product(
        api, admin, code=f"  {sku} ", name=" 六角螺栓 M8×30 ", unit="盒", listPrice="12.5",
        categoryId=category["id"], taxRate="0.13",
    )  # fmt: skip
    assert product == {
        "id": product["id"], "code": sku, "name": "六角螺栓 M8×30", "categoryId": category["id"],
        "unit": "盒", "listPrice": "12.5000", "taxRate": "0.1300", "batchTracked": False,
        "active": True, "version": 1,
    }  # fmt: skip
    got = await api.gql(GET_PRODUCT, {"id": product["id"]}, token=tenant_a.tokens["viewer"])
    assert got["product"]["category"] == {"id": category["id"], "name": "紧固件"}
    assert (await api.gql(GET_PRODUCT, {"id": "nope"}, token=admin))["product"] is None
    assert (await api.gql(GET_PRODUCT, {"id": str(uuid.uuid4())}, token=admin))["product"] is None


async def test_create_is_idempotent_with_a_client_id(api, services, tenant_a):
    admin = tenant_a.tokens["admin"]
    product_id, sku = str(uuid.uuid4()), code()
    values = {"id": product_id, "code": sku, "name": "离线录入", "unit": "件",
              "listPrice": "9.90"}  # fmt: skip
    first = await api.gql(CREATE_PRODUCT, {"input": values}, token=admin)
    again = await api.gql(CREATE_PRODUCT, {"input": values}, token=admin)
    assert first == again
    assert first["createProduct"]["product"]["id"] == product_id
    other = await api.gql(CREATE_PRODUCT, {"input": {**values, "name": "别的"}}, token=admin)
    assert other["createProduct"]["userErrors"] == [
        {"field": "id", "code": "CONFLICT", "message": "another product already has this id"}
    ]
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        assert await conn.scalar(select(func.count()).where(products.c.code == sku)) == 1
        audits = await conn.scalar(
            select(func.count()).where(
                audit_log.c.entity_id == uuid.UUID(product_id),
                audit_log.c.action == "product.create",
            )
        )
        assert audits == 1


async def test_codes_are_unique(api, tenant_a):
    admin = tenant_a.tokens["admin"]
    product = await new_product(api, admin)
    data = await api.gql(
        CREATE_PRODUCT,
        {"input": {"code": product["code"], "name": "重复", "unit": "件", "listPrice": "1"}},
        token=admin,
    )
    assert data["createProduct"] == {
        "product": None,
        "userErrors": [{"field": "code", "code": "TAKEN",
                        "message": "another product already has this code"}],
    }  # fmt: skip
    # The code is fixed once created (never reused): updateProduct has no code.
    errors = await api.errors(
        UPDATE_PRODUCT, {"input": {"id": product["id"], "version": 1, "code": "NEW"}}, token=admin
    )
    assert "code" in errors[0]["message"]


async def test_the_service_refuses_to_change_a_code(services, tenant_a, api):
    product = await new_product(api, tenant_a.tokens["admin"])
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        with pytest.raises(UserErrors) as raised:
            await catalog.update_product(
                conn, actor=SYSTEM, product_id=uuid.UUID(product["id"]), version=None,
                fields={"code": "OTHER"},
            )  # fmt: skip
    assert raised.value.errors[0].code == "IMMUTABLE"


INVALID = [
    ({"code": ""}, "code", "REQUIRED"),
    ({"code": "has space"}, "code", "INVALID"),
    ({"code": "X" * 65}, "code", "INVALID"),
    ({"name": "  "}, "name", "REQUIRED"),
    ({"name": "名" * 201}, "name", "TOO_LONG"),
    ({"unit": ""}, "unit", "REQUIRED"),
    ({"listPrice": "-1"}, "listPrice", "INVALID"),
    ({"listPrice": "1.00001"}, "listPrice", "INVALID"),
    ({"listPrice": "1e14"}, "listPrice", "INVALID"),
    ({"listPrice": "NaN"}, "listPrice", "INVALID"),
    ({"costPrice": "-0.01"}, "costPrice", "INVALID"),
    ({"taxRate": "1"}, "taxRate", "INVALID"),
    ({"taxRate": "-0.01"}, "taxRate", "INVALID"),
    ({"taxRate": "0.12345"}, "taxRate", "INVALID"),
    ({"categoryId": str(uuid.uuid4())}, "categoryId", "NOT_FOUND"),
    ({"categoryId": "not-a-uuid"}, "categoryId", "NOT_FOUND"),
    ({"batchTracked": None}, "batchTracked", "REQUIRED"),
]


@pytest.mark.parametrize(("change", "field", "error"), INVALID, ids=lambda v: str(v)[:40])
async def test_invalid_create_names_the_field_and_writes_nothing(
    api, services, tenant_a, change, field, error
):
    sku = code("BAD")
    values = {"code": sku, "name": "坏数据", "unit": "件", "listPrice": "1", **change}
    data = await api.gql(CREATE_PRODUCT, {"input": values}, token=tenant_a.tokens["admin"])
    assert data["createProduct"]["product"] is None
    assert [(e["field"], e["code"]) for e in data["createProduct"]["userErrors"]] == [
        (field, error)
    ]
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        assert await conn.scalar(select(func.count()).where(products.c.code == sku)) == 0


async def test_several_errors_at_once(api, tenant_a):
    data = await api.gql(
        CREATE_PRODUCT,
        {"input": {"code": "", "name": "", "unit": "", "listPrice": "-5"}},
        token=tenant_a.tokens["admin"],
    )
    fields = {e["field"] for e in data["createProduct"]["userErrors"]}
    assert fields == {"code", "name", "unit", "listPrice"}


async def test_update_versions_and_deactivation(api, services, tenant_a):
    admin = tenant_a.tokens["admin"]
    product = await new_product(api, admin, listPrice="10")
    changed = await api.gql(
        UPDATE_PRODUCT,
        {"input": {"id": product["id"], "version": 1, "listPrice": "11.5", "batchTracked": True}},
        token=admin,
    )
    assert changed["updateProduct"]["product"]["version"] == 2
    assert changed["updateProduct"]["product"]["listPrice"] == "11.5000"
    stale = await api.gql(
        UPDATE_PRODUCT, {"input": {"id": product["id"], "version": 1, "name": "旧版本"}},
        token=admin,
    )  # fmt: skip
    assert stale["updateProduct"]["userErrors"][0]["field"] == "version"
    assert stale["updateProduct"]["userErrors"][0]["code"] == "CONFLICT"
    same = await api.gql(
        UPDATE_PRODUCT, {"input": {"id": product["id"], "version": 2, "listPrice": "11.50"}},
        token=admin,
    )  # fmt: skip
    assert same["updateProduct"]["product"]["version"] == 2  # nothing changed, nothing written
    off = await api.gql(
        UPDATE_PRODUCT, {"input": {"id": product["id"], "version": 2, "active": False}},
        token=admin,
    )  # fmt: skip
    assert off["updateProduct"]["product"]["active"] is False
    listed = await api.gql(
        LIST_PRODUCTS, {"filter": {"code": {"eq": product["code"]}, "active": False}},
        token=admin,
    )  # fmt: skip
    assert listed["products"]["totalCount"] == 1
    bad = await api.gql(
        UPDATE_PRODUCT,
        {"input": {"id": product["id"], "version": 3, "name": "新名字", "listPrice": "-1"}},
        token=admin,
    )
    assert [e["field"] for e in bad["updateProduct"]["userErrors"]] == ["listPrice"]
    got = await api.gql(GET_PRODUCT, {"id": product["id"]}, token=admin)
    assert got["product"]["name"] == "产品" and got["product"]["version"] == 3
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        actions = (
            await conn.scalars(
                select(audit_log.c.action)
                .where(audit_log.c.entity_id == uuid.UUID(product["id"]))
                .order_by(audit_log.c.id)
            )
        ).all()
    assert actions == ["product.create", "product.update", "product.update"]


async def test_unknown_product_and_permissions(api, tenant_a):
    missing = await api.gql(
        UPDATE_PRODUCT, {"input": {"id": str(uuid.uuid4()), "version": 1, "name": "x"}},
        token=tenant_a.tokens["admin"],
    )  # fmt: skip
    assert missing["updateProduct"]["userErrors"][0] == {
        "field": "id", "code": "NOT_FOUND", "message": "no such product"
    }  # fmt: skip
    for role in ("sales", "manager", "viewer"):  # products:read only
        errors = await api.errors(
            CREATE_PRODUCT,
            {"input": {"code": code(), "name": "x", "unit": "件", "listPrice": "1"}},
            token=tenant_a.tokens[role],
        )
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
