"""Matching keys, computed by the database functions the generated columns use:
names with legal forms, leading places, punctuation, spacing, width and case set
aside; phones as digits without +86."""

from __future__ import annotations

import pytest
from helpers import make_tenant
from sqlalchemy import text

from app.db import tenant_transaction

SAME = [
    ("佛山XX电子有限公司", "XX电子"),
    ("佛山市华达电子有限公司", "华达电子"),
    ("广东省佛山市华达电子有限公司", "华达电子厂"),
    ("佛山华达电子", "广东华达电子有限公司"),  # 佛山 lies in 广东
    ("深圳市腾飞科技有限公司", "腾飞科技"),
    ("上海美佳化妆品股份有限公司", "美佳化妆品"),
    ("北京京华贸易有限责任公司", "京华贸易公司"),
    ("华达电子（佛山）有限公司", "华达电子"),
    ("广州顺风物流集团有限公司", "顺风物流"),
    ("东莞市长兴五金制品厂", "长兴五金制品"),
    ("杭州小雨工作室", "小雨"),
    ("厦门鑫源商行", "鑫源"),
    ("ＡＢＣ电子有限公司", "abc电子"),  # full-width letters
    ("华 达　电 子", "华达电子"),  # spaces, the ideographic one too
    ("华达·电子", "华达-电子"),
    ("浙江省杭州市西湖龙井茶业有限公司", "西湖龙井茶业"),
    ("内蒙古自治区伊利乳业", "伊利乳业"),
    ("广西壮族自治区桂林三花酒厂", "三花酒"),
    ("重庆市小天鹅火锅集团", "小天鹅火锅"),
    ("香港特别行政区东方贸易有限公司", "东方贸易"),
    ("Acme Co., Ltd.", "ACME"),
    ("Acme Inc.", "acme, LLC"),
    ("Bright Star Trading Co., Ltd", "Bright-Star Trading"),
    ("Smith & Co.", "SMITH"),
]

DIFFERENT = [
    ("佛山华达电子有限公司", "佛山华威电子有限公司"),  # another brand
    ("北京银行", "南京银行"),  # leading places in different provinces
    ("北京大学", "南京大学"),
    ("上海华达电子", "广州华达电子"),
    ("华达电子", "华达电器"),
    ("美的集团", "美菱集团"),
    ("深圳华为技术有限公司", "华为终端有限公司"),
    ("华达电子", "华达电子佛山分公司"),  # a branch is a customer of its own
    ("Telco Ltd", "Tel Ltd"),  # "co" inside a word is no legal form
    ("Apple Inc.", "Pineapple Inc."),
    ("A厂", "A公司"),  # one character of name is no evidence
    ("有限公司", "公司"),
]

PHONES = [
    ("+86 138 0013 8000", "13800138000"),
    ("138-0013-8000", "13800138000"),
    ("0086 13800138000", "13800138000"),
    ("(0757) 8888-1234", "075788881234"),
    ("+86 757 8888 1234", "075788881234"),
    ("０７５７－８８８８１２３４", "075788881234"),  # full-width
    ("12345", None),  # too short to mean anything
    (None, None),
]


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "mnorm")


async def _names_match(services, tenant, a: str, b: str) -> tuple[bool, list, list]:
    """The pair condition of duplicateCustomers, on two names."""
    schema = tenant.schema
    async with tenant_transaction(services.engine, schema) as conn:
        row = (
            await conn.execute(
                text(
                    f'SELECT "{schema}".customer_name_parts(:a) AS x, '
                    f'"{schema}".customer_name_parts(:b) AS y'
                ),
                {"a": a, "b": b},
            )
        ).one()
    x, y = row.x, row.y
    same = x[0] is not None and x[0] == y[0] and (x[1] is None or y[1] is None or x[1] == y[1])
    return same, x, y


@pytest.mark.parametrize(("a", "b"), SAME, ids=lambda v: v)
async def test_names_that_must_pair(services, tenant, a, b):
    same, x, y = await _names_match(services, tenant, a, b)
    assert same, (x, y)


@pytest.mark.parametrize(("a", "b"), DIFFERENT, ids=lambda v: v)
async def test_names_that_must_not_pair(services, tenant, a, b):
    same, x, y = await _names_match(services, tenant, a, b)
    assert not same, (x, y)


@pytest.mark.parametrize(("phone", "key"), PHONES, ids=str)
async def test_phone_keys(services, tenant, phone, key):
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        found = await conn.scalar(
            text(f'SELECT "{tenant.schema}".customer_phone_key(:p)'), {"p": phone}
        )
    assert found == key


async def test_the_stored_keys_follow_every_write(api, services, tenant):
    """The keys are generated columns: an update of name or phone recomputes them."""
    from merge_helpers import customer_row, new_customer

    token = tenant.tokens["admin"]
    made = await new_customer(api, token, "佛山市华达电子有限公司", phone="+86 138 0013 8000",
                              email="Sales@HuaDa.cn")  # fmt: skip
    row = await customer_row(services, tenant, made["id"])
    assert (row.match_name, row.match_region, row.match_phone) == (
        "华达电子",
        "广东",
        "13800138000",
    )
    await api.gql(
        """mutation($input: UpdateCustomerInput!) {
          updateCustomer(input: $input) { userErrors { code } } }""",
        {"input": {"id": made["id"], "version": made["version"], "name": "华威电器厂",
                   "phone": None}},
        token=token,
    )  # fmt: skip
    row = await customer_row(services, tenant, made["id"])
    assert (row.match_name, row.match_region, row.match_phone) == ("华威电器", None, None)
