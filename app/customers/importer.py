"""Reading a customer CSV: decoding, structure, column mapping and per-row validation.

Nothing here touches the database; app/customers/jobs.py writes what this reads.
The column and value mappings below are the reference (IMPORT.md shows them as tables).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from app.customers.rules import normalise_contact, normalise_customer
from app.customers.tables import CATEGORIES, TIERS
from app.errors import UserError
from app.jobs.service import JobFailed


@dataclass(frozen=True)
class ColumnSpec:
    field: str  # the GraphQL field name, which is also the canonical CSV header
    record: str  # "customer" or "contact"
    key: str  # the database column it fills
    aliases: tuple[str, ...] = ()  # other headers that mean the same (Chinese exports)


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("name", "customer", "name", ("客户名称", "客户", "公司名称", "企业名称", "名称")),
    ColumnSpec("email", "customer", "email", ("邮箱", "电子邮件", "电子邮箱", "邮件")),
    ColumnSpec("phone", "customer", "phone", ("电话", "联系电话", "手机", "手机号", "电话号码")),
    ColumnSpec("category", "customer", "category", ("类别", "客户类型", "客户类别", "类型")),
    ColumnSpec("tier", "customer", "tier", ("级别", "客户等级", "等级", "客户级别")),
    ColumnSpec("industry", "customer", "industry", ("行业", "所属行业")),
    ColumnSpec("region", "customer", "region", ("地区", "城市", "区域", "所在地区")),
    ColumnSpec("source", "customer", "source", ("来源", "客户来源")),
    ColumnSpec("tags", "customer", "tags", ("标签",)),
    ColumnSpec("externalRef", "customer", "external_ref", ("编号", "客户编号", "外部编号")),
    ColumnSpec("contactName", "contact", "name", ("联系人", "联系人姓名")),
    ColumnSpec("contactTitle", "contact", "title", ("职务", "联系人职务", "职位")),
    ColumnSpec("contactEmail", "contact", "email", ("联系人邮箱", "联系人电子邮件")),
    ColumnSpec("contactPhone", "contact", "phone", ("联系人电话", "联系人手机")),
)

# Category values as Chinese spreadsheets write them; the English values (any case)
# are accepted too. Anything else is reported by the shared rules.
CATEGORY_VALUES: dict[str, str] = {
    "潜在客户": "prospect",
    "目标客户": "target",
    "老客户": "active",
    "现有客户": "active",
    "合作伙伴": "partner",
    "黑名单": "blacklisted",
    "竞争对手": "competitor",
}
TAG_SEPARATORS = re.compile(r"[;；]")


def header_key(header: str) -> str:
    """Headers match case-insensitively, with or without underscores, spaces, dashes
    (contact_name, Contact Name and contactName are one column)."""
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", header)).lower()


def header_lookup(columns: tuple[ColumnSpec, ...]) -> dict[str, ColumnSpec]:
    return {header_key(name): spec for spec in columns for name in (spec.field, *spec.aliases)}


HEADERS: dict[str, ColumnSpec] = header_lookup(COLUMNS)


@dataclass(frozen=True)
class ParsedFile:
    columns: dict[int, ColumnSpec]  # cell index -> what it fills
    headers: dict[str, str]  # GraphQL field -> the header as the file wrote it
    unknown_columns: list[str]
    rows: list[tuple[int, list[str]]]  # (1-based data row number, cells); blank rows left out


@dataclass
class ImportRow:
    number: int
    customer: dict[str, Any] = field(default_factory=dict)
    contact: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)


def decode(content: bytes) -> str:
    """UTF-8 (with or without BOM) first; GB18030 is what Chinese Excel saves as CSV."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise JobFailed("the file is neither UTF-8 nor GB18030 text; save it as CSV (UTF-8)")
    if "\x00" in text:
        raise JobFailed(
            "the file is not valid CSV: it contains NUL bytes "
            "(an Excel workbook or UTF-16 text?); save it as CSV (UTF-8)"
        )
    return text.removeprefix("\ufeff")


def _records(text: str) -> list[tuple[int, list[str]]]:
    """Every CSV record with the line it ends on; quoting mistakes are fatal."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            records.append((reader.line_num, cells))
    except csv.Error as error:
        raise JobFailed(f"the file is not valid CSV: line {reader.line_num}: {error}") from error
    return records


def _map_header(
    header: list[str], specs: tuple[ColumnSpec, ...] = COLUMNS
) -> tuple[dict[int, ColumnSpec], dict[str, str], list[str]]:
    lookup = HEADERS if specs is COLUMNS else header_lookup(specs)
    columns: dict[int, ColumnSpec] = {}
    headers: dict[str, str] = {}
    unknown: list[str] = []
    for index, raw in enumerate(header):
        name = raw.strip()
        spec = lookup.get(header_key(name)) if name else None
        if spec is None:
            if name and name not in unknown:
                unknown.append(name)
            continue
        if spec.field in headers:
            raise JobFailed(
                f"columns {headers[spec.field]!r} and {name!r} both mean {spec.field}; "
                "keep one of them"
            )
        columns[index] = spec
        headers[spec.field] = name
    if "name" not in headers:
        required = next(spec for spec in specs if spec.field == "name")
        expected = ", ".join(("name", *required.aliases))
        raise JobFailed(f"no name column; expected one of {expected}")
    return columns, headers, unknown


def parse(content: bytes, specs: tuple[ColumnSpec, ...] = COLUMNS) -> ParsedFile:
    """The whole file's structure, checked before any row is written. `specs` are the
    columns to map (the customers' by default; another capability's import passes its
    own, which must include one with field "name", the required column)."""
    records = _records(decode(content))
    if not records:
        raise JobFailed("the file is empty")
    _, header = records[0]
    if not any(cell.strip() for cell in header):
        raise JobFailed("no header row: the first line of the file is empty")
    columns, headers, unknown = _map_header(header, specs)
    rows: list[tuple[int, list[str]]] = []
    for number, (line, cells) in enumerate(records[1:], start=1):
        if len(cells) > len(header):
            raise JobFailed(
                f"the file is not valid CSV: line {line}: row {number} has {len(cells)} "
                f"cells but the header has {len(header)} columns"
            )
        if any(cell.strip() for cell in cells):
            rows.append((number, cells))
    return ParsedFile(columns=columns, headers=headers, unknown_columns=unknown, rows=rows)


def _value(spec: ColumnSpec, cell: str) -> Any:
    if spec.field == "tags":
        return TAG_SEPARATORS.split(cell)
    if spec.field == "category":
        return CATEGORY_VALUES.get(cell, cell.lower() if cell.lower() in CATEGORIES else cell)
    if spec.field == "tier":
        return cell.upper() if cell.upper() in TIERS else cell
    return cell


def _column_of(record: str, api_field: str | None) -> ColumnSpec | None:
    for spec in COLUMNS:
        if spec.record == record and api_field in (spec.key, spec.field):
            return spec
    return None


def row_errors(
    parsed: ParsedFile, row: ImportRow, record: str, errors: list[UserError]
) -> list[dict[str, Any]]:
    """Errors of the rules (which name database-side fields) as the file's columns."""
    out = []
    for error in errors:
        spec = _column_of(record, error.field)
        field_name = spec.field if spec else error.field
        message = error.message
        # The rules name a contact's email "email": say which column it was.
        header = parsed.headers.get(field_name or "")
        if header and header != error.field:
            message = f"{message} (column {header!r})"
        out.append({"row": row.number, "field": field_name, "message": message})
    return out


def read_row(parsed: ParsedFile, number: int, cells: list[str]) -> ImportRow:
    """One data row as cleaned customer and contact fields; blank cells are left out
    so they never erase what a matched customer already has."""
    row = ImportRow(number)
    for index, spec in parsed.columns.items():
        cell = cells[index].strip() if index < len(cells) else ""
        if cell:
            target = row.customer if spec.record == "customer" else row.contact
            target[spec.key] = _value(spec, cell)
    # The shared rules clean in place and report; every row needs a name to be
    # created or matched by name, hence creating=True for the customer.
    row.errors += row_errors(
        parsed, row, "customer", normalise_customer(row.customer, creating=True)
    )
    row.errors += row_errors(parsed, row, "contact", normalise_contact(row.contact, creating=False))
    return row
