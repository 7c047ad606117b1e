"""The tenant migration history builds exactly the tables the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, text

import app.tables  # noqa: F401  (every tenant table registers itself)
from app.db import NAMING_CONVENTION, tenant_metadata


def _unqualified() -> MetaData:
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    for table in tenant_metadata.sorted_tables:
        table.to_metadata(metadata, schema=None)
    return metadata


def _without_version_table(differences: list) -> list:
    return [
        d
        for d in differences
        if not (isinstance(d, tuple) and getattr(d[1], "name", d[1]) == "alembic_version")
    ]


async def test_tenant_schema_matches_table_definitions(services, tenant_a):
    async with services.engine.begin() as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant_a.schema}"'))

        def diff(sync_conn):
            context = MigrationContext.configure(
                sync_conn, opts={"compare_type": True, "compare_server_default": False}
            )
            return compare_metadata(context, _unqualified())

        differences = await conn.run_sync(diff)
    assert _without_version_table(differences) == []


async def test_catalog_schema_matches_table_definitions(owner):
    from app.db import CATALOG, catalog_metadata

    async with owner.connect() as conn:

        def diff(sync_conn):
            context = MigrationContext.configure(
                sync_conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": False,
                    "include_schemas": True,
                    "include_name": lambda name, type_, parent: (
                        type_ != "schema" or name == CATALOG
                    ),
                },
            )
            return compare_metadata(context, catalog_metadata)

        differences = await conn.run_sync(diff)
    assert _without_version_table(differences) == []
