"""importCustomers: what a file turns into, through the real API, Redis and arq worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.customers.importer import CATEGORY_VALUES, COLUMNS

HEADER = (
    "name,email,phone,category,tier,industry,region,source,tags,externalRef,"
    "contactName,contactTitle,contactEmail,contactPhone"
)


def good_file(p: str) -> bytes:
    return (
        f"{HEADER}\n"
        f"{p} Alpha,alpha@{p}.example.com,020-12345678,target,a,Electronics,Guangzhou,Fair,"
        f"vip;south,{p}-1,Li Lei,Buyer,lilei@{p}.example.com,13800000001\n"
        f'"{p} Beta, Ltd",,,PARTNER,B,,,,"north；vip",{p}-2,Han Meimei,,,\n'
    ).encode()


async def test_good_file(importer, tenant_a, p):
    token = tenant_a.tokens["sales"]
    job = await importer.run(token, good_file(p))
    assert job["status"] == "SUCCEEDED", job
    assert job["kind"] == "customers.import"
    assert job["result"] == {
        "created": 2, "updated": 0, "unchanged": 0, "failed": 0, "unknownColumns": [], "rows": 2,
    }  # fmt: skip
    assert (job["processed"], job["total"], job["progress"], job["errors"]) == (2, 2, 1.0, [])
    found = await importer.customers(tenant_a.tokens["viewer"], p)
    alpha, beta = (edge["node"] for edge in found["edges"])
    assert {k: alpha[k] for k in ("name", "email", "phone", "category", "tier", "tags")} == {
        "name": f"{p} Alpha", "email": f"alpha@{p}.example.com", "phone": "020-12345678",
        "category": "TARGET", "tier": "A", "tags": ["vip", "south"],
    }  # fmt: skip
    assert (alpha["industry"], alpha["region"], alpha["source"]) == (
        "Electronics", "Guangzhou", "Fair",
    )  # fmt: skip
    assert alpha["contacts"] == [
        {"name": "Li Lei", "title": "Buyer", "email": f"lilei@{p}.example.com",
         "phone": "13800000001", "isPrimary": True, "version": 1},
    ]  # fmt: skip
    assert (beta["name"], beta["category"], beta["tier"]) == (f"{p} Beta, Ltd", "PARTNER", "B")
    assert beta["tags"] == ["north", "vip"]
    assert [c["name"] for c in beta["contacts"]] == ["Han Meimei"]


async def test_bad_rows_are_reported_and_good_rows_imported(importer, tenant_a, p):
    content = (
        "name,email,tier,contactName,contactEmail,contactPhone\n"
        f"{p} Good One,one@{p}.example.com,A,,,\n"  # row 1
        ",nobody@example.com,B,,,\n"  # row 2
        f"{p} Bad Email,not-an-email,C,,,\n"  # row 3
        f"{p} Bad Contact,,,Wang,wang-at-example,\n"  # row 4
        f"{p} Bad Tier,,Z,,,\n"  # row 5
        ",,,,,\n"  # row 6: blank, skipped
        # row 7 passes the row checks but is rejected while writing (no contact to
        # put the phone on): its savepoint must undo the customer it created.
        f"{p} No Contact Name,,,,,13900000000\n"
        f"{p} Good Two,,b,,,\n"  # row 8
    ).encode()
    job = await importer.run(tenant_a.tokens["sales"], content)
    assert job["status"] == "SUCCEEDED", job
    assert job["result"] == {
        "created": 2, "updated": 0, "unchanged": 0, "failed": 5, "unknownColumns": [], "rows": 7,
    }  # fmt: skip
    assert job["errors"] == [
        {"row": 2, "field": "name", "message": "name is required"},
        {"row": 3, "field": "email", "message": "email is not a valid email address"},
        {"row": 4, "field": "contactEmail",
         "message": "email is not a valid email address (column 'contactEmail')"},
        {"row": 5, "field": "tier", "message": "tier must be one of A, B, C"},
        {"row": 7, "field": "contactName",
         "message": "contactName is required to add a contact (column 'contactName')"},
    ]  # fmt: skip
    found = await importer.customers(tenant_a.tokens["sales"], p)
    assert sorted(e["node"]["name"] for e in found["edges"]) == [f"{p} Good One", f"{p} Good Two"]


MALFORMED = {
    "unclosed quote": (
        b'name,email\n"Open,a@b.cn\n',
        "the file is not valid CSV: line 2: unexpected end",
    ),
    "stray quote": (b'name,email\nA "x",a@b.cn\n"B"x,b@b.cn\n', "line 3: ',' expected"),
    "too many cells": (
        b"name,email\nGood,g@b.cn\nGood too,h@b.cn\nBad,b@b.cn,extra\n",
        "line 4: row 3 has 3 cells but the header has 2 columns",
    ),
    "no name column": (b"email,phone\na@b.cn,123456\n", "no name column; expected one of name,"),
    "no header": (b"\n\nAcme\n", "no header row"),
    "workbook": (b"PK\x03\x04\x14\x00\x06\x00name", "contains NUL bytes"),
    "not text": (b"name\n\x80\xff\xfe\n", "neither UTF-8 nor GB18030"),
    "same column twice": (b"name,\xe5\xae\xa2\xe6\x88\xb7\nA,B\n", "both mean name"),
}


@pytest.mark.parametrize("case", MALFORMED)
async def test_malformed_file_fails_the_job_and_writes_nothing(importer, tenant_a, case):
    content, message = MALFORMED[case]
    token = tenant_a.tokens["sales"]
    before = (await importer.customers(token, ""))["totalCount"]
    job = await importer.run(token, content)
    assert job["status"] == "FAILED", job
    assert message in job["message"]
    assert job["result"] is None
    assert (await importer.customers(token, ""))["totalCount"] == before


async def test_gb18030_file_with_chinese_headers(importer, tenant_a, p):
    content = (
        "客户名称,电话,邮箱,类别,级别,行业,地区,来源,标签,客户编号,联系人,职务,联系人电话\n"
        f"{p}佛山华达电子有限公司,0757-88886666,info@{p}.cn,老客户,b,电子,佛山,展会,"
        f"重点客户；华南,{p}-HD,张伟,采购经理,13912345678\n"
        f"{p}广州云启科技,,,竞争对手,C,,,,,,,,\n"
    ).encode("gb18030")
    job = await importer.run(tenant_a.tokens["sales"], content)
    assert job["status"] == "SUCCEEDED", job
    assert (job["result"]["created"], job["result"]["unknownColumns"]) == (2, [])
    found = await importer.customers(tenant_a.tokens["sales"], p)
    by_name = {e["node"]["name"]: e["node"] for e in found["edges"]}
    huada = by_name[f"{p}佛山华达电子有限公司"]
    assert (huada["category"], huada["tier"], huada["region"]) == ("ACTIVE", "B", "佛山")
    assert huada["tags"] == ["重点客户", "华南"]
    assert huada["externalRef"] == f"{p}-HD"
    assert huada["contacts"][0] == {
        "name": "张伟", "title": "采购经理", "email": None, "phone": "13912345678",
        "isPrimary": True, "version": 1,
    }  # fmt: skip
    assert by_name[f"{p}广州云启科技"]["category"] == "COMPETITOR"


async def test_utf8_with_bom(importer, tenant_a, p):
    content = f"Name,E-mail,Contact_Name\n{p} 东方贸易,east@{p}.cn,李娜\n".encode("utf-8-sig")
    job = await importer.run(tenant_a.tokens["sales"], content)
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["created"] == 1
    assert job["result"]["unknownColumns"] == []
    (edge,) = (await importer.customers(tenant_a.tokens["sales"], p))["edges"]
    assert (edge["node"]["email"], edge["node"]["contacts"][0]["name"]) == (f"east@{p}.cn", "李娜")


async def test_reimporting_the_same_file_changes_nothing(importer, tenant_a, p):
    token = tenant_a.tokens["sales"]
    first = await importer.run(token, good_file(p))
    assert first["result"]["created"] == 2
    before = await importer.customers(token, p)
    again = await importer.run(token, good_file(p))
    assert again["result"] == {
        "created": 0, "updated": 0, "unchanged": 2, "failed": 0, "unknownColumns": [], "rows": 2,
    }  # fmt: skip
    assert await importer.customers(token, p) == before


async def test_unknown_columns_are_reported(importer, tenant_a, p):
    content = f"name,Fax,备注,email,\n{p} Fax Co,020-1,老朋友,fax@{p}.cn,\n".encode()
    job = await importer.run(tenant_a.tokens["sales"], content)
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["unknownColumns"] == ["Fax", "备注"]
    assert job["result"]["created"] == 1


CREATE = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id version } userErrors { message } }
}"""
CREATE_CONTACT = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } userErrors { message } }
}"""


async def test_matching_updates_only_the_cells_given(importer, api, tenant_a, p):
    token = tenant_a.tokens["sales"]
    ids = {}
    for key, fields in {
        "ref": {"name": f"{p} By Ref", "externalRef": f"{p}-R", "tier": "C", "industry": "Retail"},
        "mail": {"name": f"{p} By Mail", "email": f"mail@{p}.example.com", "region": "Shenzhen"},
        "name": {"name": f"{p} By Name", "tier": "A"},
    }.items():
        created = await api.gql(CREATE, {"input": fields}, token=token)
        ids[key] = created["createCustomer"]["customer"]["id"]
    await api.gql(
        CREATE_CONTACT,
        {"input": {"customerId": ids["name"], "name": "Zhang San", "isPrimary": True}},
        token=token,
    )
    content = (
        "name,externalRef,email,tier,industry,region,contactName,contactTitle\n"
        f"{p} Renamed,{p}-R,,A,,,,\n"
        f"{p} Mail Renamed,,MAIL@{p.upper()}.EXAMPLE.COM,B,,,,\n"
        f"  {p.upper()} BY  NAME ,,,,,Beijing,zhang san,CEO\n"
    ).encode()
    job = await importer.run(token, content)
    assert job["result"]["updated"] == 3, job
    assert job["result"]["created"] == 0
    nodes = {e["node"]["id"]: e["node"] for e in (await importer.customers(token, p))["edges"]}
    assert len(nodes) == 3
    by_ref, by_mail, by_name = (nodes[ids[k]] for k in ("ref", "mail", "name"))
    assert (by_ref["name"], by_ref["tier"], by_ref["industry"]) == (f"{p} Renamed", "A", "Retail")
    assert (by_mail["name"], by_mail["email"]) == (f"{p} Mail Renamed", f"mail@{p}.example.com")
    assert (by_mail["tier"], by_mail["region"]) == ("B", "Shenzhen")
    assert (by_name["name"], by_name["tier"], by_name["region"]) == (f"{p} By Name", "A", "Beijing")
    assert [(c["name"], c["title"], c["isPrimary"]) for c in by_name["contacts"]] == [
        ("Zhang San", "CEO", True)
    ]


def test_the_import_guide_lists_every_header_and_value():
    guide = (Path(__file__).resolve().parents[2] / "app/customers/IMPORT.md").read_text()
    for spec in COLUMNS:
        assert f"`{spec.field}`" in guide
        for alias in spec.aliases:
            assert alias in guide, alias
    for value in CATEGORY_VALUES:
        assert value in guide, value
