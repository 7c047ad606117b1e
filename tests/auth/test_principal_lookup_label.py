"""Who-is-asking lookups run on connections labelled `kehu_lookup`, so statement
counts measure a request's own statements however the principal cache is timed."""

from __future__ import annotations

from helpers import make_tenant
from sqlalchemy import event


async def test_a_cold_principal_lookup_is_labelled_and_not_counted(
    api, owner, services, sql_counter
):
    tenant = await make_tenant(owner, services, "lookup")  # nothing of it is cached yet
    labelled: list[str] = []

    def spy(conn, cursor, statement, parameters, context, executemany) -> None:
        if context is not None and context.execution_options.get("kehu_lookup"):
            labelled.append(statement)

    engine = services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        data = await api.gql("{ me { user { id } } }", token=tenant.tokens["viewer"])
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert data["me"]["user"]["id"] == str(tenant.user_ids["viewer"])
    assert any("tenants" in s for s in labelled), labelled
    assert any("users" in s for s in labelled), labelled
    assert not set(labelled) & set(sql_counter.statements)


async def test_a_signing_key_reload_is_labelled_too(services):
    """The key ring reloads at most every KEHU_KEYS_RELOAD_SECONDS, whichever request
    happens to be running then; an unlabelled reload once landed inside an EXPLAIN
    test's captured statements."""
    from app.auth.keys import KeyRing

    seen: list[tuple[str, object]] = []

    def spy(conn, cursor, statement, parameters, context, executemany) -> None:
        if "signing_keys" in statement:
            seen.append((statement, context.execution_options.get("kehu_lookup")))

    engine = services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        await KeyRing(services.engine).load()
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert seen and all(label == "signing_keys" for _, label in seen), seen
