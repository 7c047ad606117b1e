"""Reading a lead CSV: the lead columns and values, and per-row validation.

The file itself (decoding UTF-8 or GB18030 with or without BOM, quoting, structure,
header mapping) is read by the customers' import (`app.customers.importer.parse`),
given the lead columns below; nothing here touches the database. The mappings below
are the reference (IMPORT.md shows them as tables).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.customers.importer import ColumnSpec, ParsedFile, parse
from app.errors import UserError
from app.leads.rules import normalise_lead
from app.leads.tables import SOURCES

RECORD = "lead"
COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("name", RECORD, "name", ("姓名", "联系人", "联系人姓名", "客户姓名", "名字")),
    ColumnSpec(
        "company",
        RECORD,
        "company",
        ("公司", "公司名称", "单位", "单位名称", "企业名称", "客户名称"),
    ),
    ColumnSpec("title", RECORD, "title", ("职务", "职位", "头衔")),
    ColumnSpec(
        "phone", RECORD, "phone", ("电话", "手机", "手机号", "手机号码", "联系电话", "电话号码")
    ),
    ColumnSpec("email", RECORD, "email", ("邮箱", "电子邮件", "电子邮箱", "邮件")),
    ColumnSpec("region", RECORD, "region", ("地区", "城市", "区域", "省份", "所在地区")),
    ColumnSpec("source", RECORD, "source", ("来源", "线索来源", "渠道")),
    ColumnSpec("score", RECORD, "score", ("评分", "分数", "线索评分")),
    ColumnSpec("notes", RECORD, "notes", ("备注", "说明")),
)

# Source values as Chinese spreadsheets write them; the English values are accepted
# in any case, with spaces or dashes for the underscore ("Trade show").
SOURCE_VALUES: dict[str, str] = {
    "市场活动": "campaign",
    "营销活动": "campaign",
    "展会": "trade_show",
    "展销会": "trade_show",
    "网站表单": "web_form",
    "官网": "web_form",
    "网站": "web_form",
    "导入": "import",
    "推荐": "referral",
    "转介绍": "referral",
    "其他": "other",
}
DEFAULT_SOURCE = "import"  # what a row without a source gets


def parse_file(content: bytes) -> ParsedFile:
    return parse(content, COLUMNS)


@dataclass
class LeadRow:
    number: int
    fields: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)


def _source(cell: str) -> str:
    if cell in SOURCE_VALUES:
        return SOURCE_VALUES[cell]
    key = re.sub(r"[\s\-]+", "_", cell.strip()).lower()
    return key if key in SOURCES else cell


def _score(cell: str) -> Any:
    try:
        return int(cell)
    except ValueError:
        return cell  # the rules report it


def _value(spec: ColumnSpec, cell: str) -> Any:
    if spec.field == "source":
        return _source(cell)
    if spec.field == "score":
        return _score(cell)
    return cell


def row_errors(parsed: ParsedFile, number: int, errors: list[UserError]) -> list[dict[str, Any]]:
    """Errors of the rules (which name the API's fields, also the canonical headers),
    saying which column it was when the file named it otherwise."""
    out = []
    for error in errors:
        message = error.message
        header = parsed.headers.get(error.field or "")
        if header and header != error.field:
            message = f"{message} (column {header!r})"
        out.append({"row": number, "field": error.field, "message": message})
    return out


def read_row(parsed: ParsedFile, number: int, cells: list[str]) -> LeadRow:
    """One data row as cleaned lead fields; blank cells are left out, so they never
    erase what a matched lead already has."""
    row = LeadRow(number)
    for index, spec in parsed.columns.items():
        cell = cells[index].strip() if index < len(cells) else ""
        if cell:
            row.fields[spec.key] = _value(spec, cell)
    errors = normalise_lead(row.fields, creating=False)
    if "name" not in row.fields:
        errors.insert(0, UserError("name", "REQUIRED", "name is required"))
    row.errors = row_errors(parsed, number, errors)
    return row
