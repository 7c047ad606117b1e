"""importLeads: what a file turns into, through the real API, Redis and arq worker;
rejected rows, malformed files, re-imports, encodings, Chinese headers, and the
assignment rules applied to imported leads."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest
from helpers import make_tenant
from lead_helpers import LeadImporter, build_org, operation, table_counts

from app.leads.importer import COLUMNS, SOURCE_VALUES

LIST = """query($search: String!) {
  leads(first: 100, filter: {search: $search}, orderBy: {field: NAME}) {
    totalCount
    edges { node { id name company title phone email region source status score notes
                   ownerId version } }
  }
}"""


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "leadimp")


@pytest.fixture
def importer(api, run_worker) -> LeadImporter:
    return LeadImporter(api, run_worker)


@pytest.fixture
def p() -> str:
    import uuid

    return f"imp{uuid.uuid4().hex[:8]}"


async def _leads(api, token: str, search: str) -> list[dict]:
    return [
        e["node"] for e in (await api.gql(LIST, {"search": search}, token=token))["leads"]["edges"]
    ]


def good_file(p: str) -> bytes:
    return (
        "name,company,title,phone,email,region,source,score,notes,wechat\n"
        f"{p} Alpha,Alpha Ltd,Buyer,020-12345678,alpha@{p}.example.com,广州,Trade show,80,hot,a1\n"
        f'"{p} Beta, Jr",Beta Co,,13800000002,,深圳,展会,,,\n'
        f"{p} Gamma,,,,,,,,,\n"
    ).encode()


async def test_good_file(importer, api, tenant, p):
    token = tenant.tokens["sales"]
    job = await importer.run(token, good_file(p))
    assert job["status"] == "SUCCEEDED", job
    assert job["result"] == {
        "created": 3, "updated": 0, "unchanged": 0, "failed": 0, "assigned": 0,
        "unknownColumns": ["wechat"], "rows": 3,
    }  # fmt: skip
    assert (job["processed"], job["total"], job["progress"], job["errors"]) == (3, 3, 1.0, [])
    alpha, beta, gamma = await _leads(api, token, p)
    assert {k: alpha[k] for k in ("company", "title", "phone", "email", "region", "source",
                                  "score", "notes", "status", "ownerId")} == {
        "company": "Alpha Ltd", "title": "Buyer", "phone": "020-12345678",
        "email": f"alpha@{p}.example.com", "region": "广州", "source": "TRADE_SHOW",
        "score": 80, "notes": "hot", "status": "NEW", "ownerId": None,
    }  # fmt: skip
    assert (beta["name"], beta["source"], beta["score"]) == (f"{p} Beta, Jr", "TRADE_SHOW", 0)
    assert (gamma["source"], gamma["company"]) == ("IMPORT", None)

    # The same file again: every row matched (email, phone, name and company), nothing
    # changes, no new versions.
    again = await importer.run(token, good_file(p))
    assert again["result"] | {"unknownColumns": None} == {
        "created": 0, "updated": 0, "unchanged": 3, "failed": 0, "assigned": 0,
        "unknownColumns": None, "rows": 3,
    }  # fmt: skip
    assert await _leads(api, token, p) == [alpha, beta, gamma]

    # Changed cells update; blank cells never erase.
    changed = (
        "email,phone,score,title\n"
        f"ALPHA@{p}.EXAMPLE.COM,,95,\n"  # by email (any case), name column absent: refused
    ).encode()
    job = await importer.run(token, changed)
    assert job["status"] == "FAILED" and "no name column" in job["message"]
    changed = (
        "name,email,phone,score,title\n"
        f"{p} Alpha,ALPHA@{p}.EXAMPLE.COM,,95,\n"
        f'"{p} Beta, Jr",,13800000002,,Owner\n'
    ).encode()
    job = await importer.run(token, changed)
    assert job["result"]["updated"] == 2, job
    alpha2, beta2, _ = await _leads(api, token, p)
    assert (alpha2["score"], alpha2["email"], alpha2["title"], alpha2["version"]) == (
        95, f"alpha@{p}.example.com", "Buyer", 2,
    )  # fmt: skip
    assert (beta2["title"], beta2["phone"]) == ("Owner", "13800000002")


async def test_bad_rows_are_reported_and_good_rows_imported(importer, api, services, tenant, p):
    content = (
        "姓名,邮箱,评分,来源,手机\n"
        f"{p} 好的,good@{p}.example.com,10,推荐,\n"  # row 1
        ",nobody@example.com,5,,\n"  # row 2
        f"{p} 坏邮箱,not-an-email,5,,\n"  # row 3
        f"{p} 坏评分,,一百,,\n"  # row 4
        f"{p} 坏来源,,5,报纸,\n"  # row 5
        ",,,,\n"  # row 6: blank, skipped
        f"{p} 坏电话,,,,call me\n"  # row 7
        f"{p} 好的二,,101,,\n"  # row 8: score out of range
        f"{p} 好的三,,,web-form,13900000000\n"  # row 9
    ).encode()
    before = await table_counts(services, tenant)
    job = await importer.run(tenant.tokens["sales"], content)
    assert job["status"] == "SUCCEEDED", job
    assert job["result"] == {
        "created": 2, "updated": 0, "unchanged": 0, "failed": 6, "assigned": 0,
        "unknownColumns": [], "rows": 8,
    }  # fmt: skip
    score = "score must be a whole number from 0 to 100 (column '评分')"
    assert job["errors"] == [
        {"row": 2, "field": "name", "message": "name is required (column '姓名')"},
        {"row": 3, "field": "email",
         "message": "email is not a valid email address (column '邮箱')"},
        {"row": 4, "field": "score", "message": score},
        {"row": 5, "field": "source", "message": "source must be one of campaign, trade_show, "
         "web_form, import, referral, other (column '来源')"},
        {"row": 7, "field": "phone",
         "message": "phone is not a valid phone number (column '手机')"},
        {"row": 8, "field": "score", "message": score},
    ]  # fmt: skip
    found = await _leads(api, tenant.tokens["sales"], p)
    assert {(lead["name"], lead["source"]) for lead in found} == {
        (f"{p} 好的", "REFERRAL"), (f"{p} 好的三", "WEB_FORM"),
    }  # fmt: skip
    after = await table_counts(services, tenant)
    assert after["leads"] == before["leads"] + 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "no header row"),
        (b"company,email\nAcme,a@example.com\n", "no name column"),
        (b'name,email\n"unterminated,a@example.com\n', "not valid CSV"),
        (b"name\nA,extra\n", "row 1 has 2 cells"),
        (b"name,\xe5\xa7\x93\xe5\x90\x8d\nA,B\n", "both mean name"),
        (b"PK\x03\x04\x14\x00\x06\x00name", "NUL bytes"),
        (b"name\n\x80\xff\xfe\n", "neither UTF-8 nor GB18030"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
async def test_malformed_files_write_nothing(importer, services, tenant, content, message):
    token = tenant.tokens["sales"]
    if not content:
        body = await importer.upload(token, content)
        assert body["data"]["importLeads"]["userErrors"][0]["code"] == "REQUIRED"
        return
    before = await table_counts(services, tenant)
    job = await importer.run(token, content)
    assert job["status"] == "FAILED", job
    assert message in job["message"], job["message"]
    after = await table_counts(services, tenant)
    assert after["leads"] == before["leads"]
    assert after["audit_log"] == before["audit_log"] + 1  # the job's own start, nothing else


async def test_gb18030_bom_and_chinese_headers(importer, api, tenant, p):
    token = tenant.tokens["sales"]
    text = (
        "姓名,公司名称,职位,手机号码,电子邮箱,省份,线索来源,分数,备注\n"
        f"{p} 张伟,佛山华强电子,采购,13811112222,zw@{p}.example.com,广东,市场活动,60,老客户介绍\n"
    )
    gb = await importer.run(token, text.encode("gb18030"))
    assert gb["result"]["created"] == 1, gb
    (lead,) = await _leads(api, token, p)
    assert (lead["name"], lead["company"], lead["title"], lead["region"], lead["source"],
            lead["score"], lead["notes"]) == (
        f"{p} 张伟", "佛山华强电子", "采购", "广东", "CAMPAIGN", 60, "老客户介绍",
    )  # fmt: skip
    bom = await importer.run(token, b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert bom["result"]["unchanged"] == 1 and bom["result"]["unknownColumns"] == [], bom


async def test_imported_leads_go_through_the_rules(importer, api, owner, services, p):
    org = await build_org(
        api, owner, services, "leadimprules", [("south", None)],
        {"r1": ("sales", "south"), "r2": ("sales", "south")},
    )  # fmt: skip
    rules = await api.gql(
        operation("setLeadAssignmentRules"),
        {"input": {"rules": [{"kind": "ROUND_ROBIN", "teamId": org.teams["south"],
                              "position": 0}]}},
        token=org.tokens["admin"],
    )  # fmt: skip
    assert rules["setLeadAssignmentRules"]["userErrors"] == []
    lines = ["name,email"] + [f"{p} {i},l{i}@{p}.example.com" for i in range(6)]
    content = ("\n".join(lines) + "\n").encode()
    # A rep imports: the rules hand the leads to r1 and r2, outside the rep's scope.
    token = org.tokens["sales"]
    job = await importer.run(token, content)
    assert job["result"]["created"] == 6 and job["result"]["assigned"] == 6, job
    found = await _leads(api, org.tokens["admin"], p)
    names = {str(v): k for k, v in org.ids.items()}
    assert collections.Counter(names[lead["ownerId"]] for lead in found) == {"r1": 3, "r2": 3}
    assert await _leads(api, token, p) == []  # handed on: the rep no longer sees them
    # Importing the file again matches the leads the rep created: no duplicates, no
    # new assignments.
    again = await importer.run(token, content)
    assert again["result"] | {"unknownColumns": []} == {
        "created": 0, "updated": 0, "unchanged": 6, "failed": 0, "assigned": 0,
        "unknownColumns": [], "rows": 6,
    }  # fmt: skip
    assert await _leads(api, org.tokens["admin"], p) == found


async def test_viewer_cannot_import(importer, services, tenant):
    before = await table_counts(services, tenant)
    body = await importer.upload(tenant.tokens["viewer"], b"name\nNope\n")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await table_counts(services, tenant) == before


def test_import_md_lists_every_header_and_value():
    doc = (Path(__file__).resolve().parents[2] / "app" / "leads" / "IMPORT.md").read_text()
    table_rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `(\w+)`[^|]*\|[^|]*\| (.*) \|$", doc, re.M)
    }
    for spec in COLUMNS:
        assert spec.field in table_rows, spec.field
        for alias in spec.aliases:
            assert alias in table_rows[spec.field], (spec.field, alias)
    for chinese, value in SOURCE_VALUES.items():
        assert re.search(rf"{chinese}[^,;]*→ {value}", doc), chinese
