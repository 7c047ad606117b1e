"""The `demo` tenant: realistic sample data so `make run` has something to show."""

from __future__ import annotations

import random
import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.accounts.membership import account_for_email
from app.accounts.passwords import hash_password
from app.accounts.service import store_password
from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.catalog import prices as price_lists
from app.catalog import service as catalog
from app.customers import service as customers
from app.teams import service as teams
from app.users import service as users
from tenants import provisioning

DEMO_SLUG = "demo"
DEMO_PASSWORD = "kehu-demo-2026"
ADMIN_EMAIL = "admin@demo.example.com"
CUSTOMER_COUNT = 300

CITIES = [
    "佛山",
    "广州",
    "深圳",
    "上海",
    "杭州",
    "苏州",
    "成都",
    "武汉",
    "南京",
    "青岛",
    "厦门",
    "天津",
]
CORES = ["华达", "鑫源", "恒通", "宏远", "金桥", "新锐", "永信", "博雅", "天成", "瑞丰", "嘉和",
         "东方", "联创", "中科", "海川", "明德", "长城", "盛世", "佳美", "安泰"]  # fmt: skip
TRADES = [("电子", "电子制造"), ("科技", "软件与信息"), ("贸易", "批发零售"), ("食品", "食品饮料"),
          ("医药", "医药"), ("机械", "装备制造"), ("物流", "交通物流"), ("建材", "建筑建材")]  # fmt: skip
SUFFIXES = ["有限公司", "股份有限公司", "集团", "有限责任公司"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "涛",
    "明",
    "超",
]
TITLES = ["总经理", "采购经理", "财务总监", "技术总监", "销售代表", "行政主管"]
SOURCES = ["展会", "官网", "转介绍", "电话营销", "合作伙伴", "广告"]
TAGS = ["重点客户", "年度合同", "华南", "华东", "新客户", "待回访", "VIP"]
REPS = [("sales1@demo.example.com", "李明", "sales"), ("sales2@demo.example.com", "王芳", "sales"),
        ("manager@demo.example.com", "陈静", "manager"), ("viewer@demo.example.com", "赵敏", "viewer")]  # fmt: skip


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"


def _customer(rng: random.Random, i: int, owners: list) -> dict:
    city = rng.choice(CITIES)
    short, industry = rng.choice(TRADES)
    name = f"{city}{rng.choice(CORES)}{short}{rng.choice(SUFFIXES)}"
    return {
        "name": name if i % 7 else f"{name}（{i}号分部）",
        "category": rng.choice(["prospect", "target", "active", "active", "partner"]),
        "tier": rng.choice(["A", "B", "B", "C", "C", None]),
        "industry": industry,
        "region": city,
        "source": rng.choice(SOURCES),
        "phone": _phone(rng),
        "email": f"contact{i}@example-{i % 50}.cn",
        "address": f"{city}市{rng.choice(['高新区', '经济开发区', '中心区'])}{rng.randint(1, 300)}号",
        "owner_id": rng.choice(owners),
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "external_ref": f"CRM-{10000 + i}",
    }


async def ensure_demo_tenant(engine: AsyncEngine, *, app_role: str) -> bool:
    """Create the demo tenant with users and customers unless it exists."""
    existing = {t.slug for t in await provisioning.list_tenants(engine)}
    if DEMO_SLUG in existing:
        return False
    await provisioning.create_tenant(
        engine, slug=DEMO_SLUG, name="演示公司 Demo Co.", app_role=app_role, seed=seed
    )
    return True


async def seed(conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
    rng = random.Random(20261123)
    await users.create_user(
        conn, actor=SYSTEM, tenant_id=tenant_id, email=ADMIN_EMAIL, role="admin", name="管理员"
    )
    # A known password, for the demo only: sign in at /oauth/authorize with it.
    admin_account = await account_for_email(conn, ADMIN_EMAIL)
    await store_password(conn, admin_account, await hash_password(DEMO_PASSWORD))
    team = await teams.create_team(
        conn, actor=SYSTEM, team_id=None, name="华南销售部", parent_id=None
    )
    owners: list = [None]
    for email, name, role in REPS:
        row = await users.create_user(
            conn,
            actor=SYSTEM,
            tenant_id=tenant_id,
            email=email,
            role=role,
            name=name,
            team_id=team.id,
        )
        if role != "viewer":
            owners.append(row.id)
    for i in range(CUSTOMER_COUNT):
        customer = await customers.create_customer(
            conn, actor=SYSTEM, who=EVERYTHING, customer_id=None, fields=_customer(rng, i, owners)
        )
        for n in range(rng.randint(1, 3)):
            await customers.create_contact(
                conn, actor=SYSTEM, who=EVERYTHING, contact_id=None, customer_id=customer.id,
                fields={"name": _person(rng), "title": rng.choice(TITLES),
                        "phone": _phone(rng), "is_primary": n == 0},
            )  # fmt: skip
    await _catalogue(conn)


# (category, parent category, code, name, unit, list price, cost price, batch-tracked)
PRODUCTS = [
    ("紧固件", "五金", "M6-20", "十字螺丝 M6×20", "盒", "25.00", "14.20", False),
    ("紧固件", "五金", "M8-30", "六角螺栓 M8×30", "盒", "38.00", "22.50", False),
    ("连接器", "电子元件", "USB-C-01", "USB-C 母座", "个", "1.20", "0.55", False),
    ("连接器", "电子元件", "RJ45-8P", "RJ45 水晶头", "包", "15.00", "8.80", False),
    ("胶粘剂", "化工", "EPX-500", "环氧胶 500ml", "瓶", "68.00", "41.00", True),
]


async def _catalogue(conn: AsyncConnection) -> None:
    """A small category tree, a few products and two price lists (含税)."""
    categories: dict[str, uuid.UUID] = {}
    for name, parent, *_ in PRODUCTS:
        for node, above in ((parent, None), (name, parent)):
            if node not in categories:
                row = await catalog.create_category(
                    conn, actor=SYSTEM, category_id=None, name=node,
                    parent_id=categories.get(above) if above else None,
                )  # fmt: skip
                categories[node] = row.id
    items = []
    for name, _, code, title, unit, price, cost, batches in PRODUCTS:
        product = await catalog.create_product(
            conn, actor=SYSTEM, product_id=None,
            fields={"code": code, "name": title, "unit": unit, "list_price": Decimal(price),
                    "cost_price": Decimal(cost), "tax_rate": Decimal("0.13"),
                    "batch_tracked": batches, "category_id": categories[name]},
        )  # fmt: skip
        gross = (Decimal(price) * Decimal("1.13")).quantize(Decimal("0.01"))
        items.append((product.id, gross))
    for name, fields, discount in (
        ("标准零售价（含税）", {"target": "all"}, Decimal(1)),
        ("A 级客户价（含税）", {"target": "tier", "tier": "A"}, Decimal("0.92")),
    ):
        await price_lists.create_price_list(
            conn, actor=SYSTEM, who=EVERYTHING, price_list_id=None,
            fields={"name": name, "currency": "CNY", "tax_inclusive": True, **fields},
            items=[{"product_id": pid, "min_quantity": Decimal(0),
                    "unit_price": (gross * discount).quantize(Decimal("0.01"))}
                   for pid, gross in items],
        )  # fmt: skip
