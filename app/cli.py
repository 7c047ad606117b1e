"""`kehu`: serve, work, migrate, and administer tenants, users, tokens and signing keys.

Errors an operator can fix print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app import demo
from app.accounts import passwords
from app.accounts import service as account_service
from app.accounts.tables import accounts
from app.audit.service import SYSTEM
from app.auth import keys
from app.auth.keys import KeyRing, SigningKeyError
from app.auth.tokens import issue_access_token
from app.db import create_engine, tenant_transaction
from app.errors import UserErrors
from app.oauth import registry as client_rules
from app.oauth.tables import oauth_clients
from app.preflight import PreflightError, ensure_database, ensure_services
from app.settings import Settings, get_settings
from app.users import service as users
from tenants import provisioning
from tenants.migrations import list_tenant_schemas, migrate_tenants, upgrade_catalog
from tenants.provisioning import TenantError
from workers.settings import build_worker

EXIT_USAGE = 2


class CommandError(Exception):
    """One line for the operator; exit status 2."""


def _run(settings: Settings, command: Callable[[AsyncEngine], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        engine = create_engine(settings, owner=True, pool_size=2)
        try:
            return await command(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


async def _tenant_user(engine: AsyncEngine, slug: str, email: str):
    tenant = await provisioning.get_tenant_by_slug(engine, slug)
    async with tenant_transaction(engine, tenant.schema_name) as conn:
        user = await users.find_by_email(conn, email)
    if user is None:
        raise CommandError(f"no user {email!r} in tenant {slug!r}")
    return tenant, user


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    uvicorn.run(
        "app.main:create_app", factory=True, host=args.host, port=args.port,
        log_level="info", access_log=False,
        proxy_headers=False,  # the app applies KEHU_FORWARDED_ALLOW_IPS itself (app/main.py)
    )  # fmt: skip


def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    build_worker(settings).run()


def cmd_services(args: argparse.Namespace, settings: Settings) -> None:
    ensure_services(settings)
    print("PostgreSQL and Redis are reachable")


def cmd_prepare(args: argparse.Namespace, settings: Settings) -> None:
    ensure_services(settings)
    if asyncio.run(ensure_database(settings)):
        print(f"created database {settings.database_url.rsplit('/', 1)[-1]}")
    cmd_migrate(args, settings)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    started = time.perf_counter()
    schemas = _run(settings, lambda e: _migrate_catalog(e, settings.app_role))
    failed = 0
    for report in migrate_tenants(
        settings.async_database_url, settings.app_role, schemas, settings.migrate_concurrency
    ):
        if report.error:
            failed += 1
            print(f"  {report.slug}: FAILED {report.error}")
        elif report.before != report.after:
            print(f"  {report.slug}: {report.before or 'empty'} -> {report.after} "
                  f"({report.seconds:.2f}s)")  # fmt: skip
        else:
            print(f"  {report.slug}: at {report.after}")
    elapsed = time.perf_counter() - started
    print(f"migrated catalog and {len(schemas) - failed}/{len(schemas)} tenants in {elapsed:.1f}s")
    if failed:
        raise CommandError(f"{failed} tenant(s) failed to migrate; re-run to continue")


async def _migrate_catalog(engine: AsyncEngine, app_role: str) -> list[tuple[str, str]]:
    await upgrade_catalog(engine, app_role=app_role)
    return await list_tenant_schemas(engine)


def cmd_tenant(args: argparse.Namespace, settings: Settings) -> None:
    if args.action == "create":
        tenant_id = _run(
            settings,
            lambda e: provisioning.create_tenant(
                e, slug=args.slug, name=args.name or args.slug, app_role=settings.app_role
            ),
        )
        print(f"created tenant {args.slug} ({tenant_id})")
    elif args.action == "list":
        for t in _run(settings, provisioning.list_tenants):
            print(f"{t.slug:<24} {t.status:<10} {t.id}  {t.name}")
    else:
        status = "suspended" if args.action == "suspend" else "active"
        _run(settings, lambda e: provisioning.set_tenant_status(e, args.slug, status))
        print(f"tenant {args.slug} is {status}")


def cmd_user(args: argparse.Namespace, settings: Settings) -> None:
    async def add(engine: AsyncEngine) -> None:
        tenant = await provisioning.get_tenant_by_slug(engine, args.slug)
        async with tenant_transaction(engine, tenant.schema_name) as conn:
            await users.create_user(
                conn,
                actor=SYSTEM,
                tenant_id=tenant.id,
                email=args.email,
                role=args.role,
                name=args.name or "",
            )

    async def deactivate(engine: AsyncEngine) -> None:
        tenant, user = await _tenant_user(engine, args.slug, args.email)
        async with tenant_transaction(engine, tenant.schema_name) as conn:
            await users.update_user(
                conn, actor=SYSTEM, user_id=user.id, changes=users.UserChanges(active=False)
            )

    _run(settings, add if args.action == "add" else deactivate)
    print(
        f"user {args.email} {'added to' if args.action == 'add' else 'deactivated in'} {args.slug}"
    )


def cmd_token(args: argparse.Namespace, settings: Settings) -> None:
    async def token(engine: AsyncEngine) -> str:
        tenant, user = await _tenant_user(engine, args.slug, args.email)
        if not user.active:
            raise CommandError(f"user {args.email!r} is deactivated")
        return await issue_access_token(
            keyring=KeyRing(engine), settings=settings, tenant_id=tenant.id, user_id=user.id,
            roles=[user.role], ttl_seconds=args.ttl,
        )  # fmt: skip

    print(f"access token for {args.email} in {args.slug}:", file=sys.stderr)
    print(_run(settings, token))


def cmd_keys(args: argparse.Namespace, settings: Settings) -> None:
    bound = f"{settings.keys_reload_seconds:g} s"
    if args.action == "rotate":

        async def rotate(engine: AsyncEngine) -> keys.RotationResult:
            async with engine.begin() as conn:
                return await keys.rotate_signing_key(conn)

        result = _run(settings, rotate)
        print(f"new active signing key {result.kid}; API processes sign with it within {bound}")
        if result.retired:
            print(f"retired {result.retired}: still published and accepted until removed")
    elif args.action == "remove":

        async def remove(engine: AsyncEngine) -> None:
            async with engine.begin() as conn:
                await keys.remove_signing_key(conn, args.kid)

        _run(settings, remove)
        print(f"removed signing key {args.kid}; API processes refuse its tokens within {bound}")
    else:

        async def listing(engine: AsyncEngine) -> list[keys.KeyInfo]:
            async with engine.connect() as conn:
                return await keys.list_signing_keys(conn)

        rows = _run(settings, listing)
        width = max((len(k.kid) for k in rows), default=3)
        print(f"{'KID':<{width}}  {'STATUS':<8}  {'CREATED':<25}  RETIRED")
        for k in rows:
            retired = k.retired_at.isoformat(timespec="seconds") if k.retired_at else "-"
            created = k.created_at.isoformat(timespec="seconds")
            print(f"{k.kid:<{width}}  {k.status:<8}  {created:<25}  {retired}")


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise CommandError("the passwords differ")
    return first


def cmd_account(args: argparse.Namespace, settings: Settings) -> None:
    password = _read_password(args)

    async def set_password(engine: AsyncEngine) -> None:
        if problem := passwords.check_new_password("password", password, args.email):
            raise CommandError(problem.message)
        async with engine.begin() as conn:
            account_id = await conn.scalar(
                select(accounts.c.id).where(func.lower(accounts.c.email) == args.email.lower())
            )
            if account_id is None:
                raise CommandError(f"no account {args.email!r} (add the user to a tenant first)")
            await account_service.store_password(
                conn, account_id, await passwords.hash_password(password)
            )

    _run(settings, set_password)
    print(f"password set for {args.email}; its other sessions were signed out")


def cmd_client(args: argparse.Namespace, settings: Settings) -> None:
    """First-party single-page apps (any tenant's users sign in to them, choosing the
    tenant); tenant admins register their own through GraphQL (registerSpaClient)."""
    problems = [
        f"--redirect-uri {uri}: {problem}"
        for uri in args.redirect_uri
        if (problem := client_rules.redirect_uri_problem(uri))
    ] + [
        f"--origin {origin}: {problem}"
        for origin in args.origin
        if (problem := client_rules.web_origin_problem(origin))
    ]
    if problems:
        raise CommandError("; ".join(problems))

    async def add(engine: AsyncEngine) -> str:
        client_id = client_rules.new_client_id()
        async with engine.begin() as conn:
            await conn.execute(
                insert(oauth_clients).values(
                    client_id=client_id, tenant_id=None, kind="spa", name=args.name,
                    redirect_uris=args.redirect_uri, web_origins=args.origin,
                )
            )  # fmt: skip
        return client_id

    print(f"registered single-page app {args.name!r}: client_id {_run(settings, add)}")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    created = _run(settings, lambda e: demo.ensure_demo_tenant(e, app_role=settings.app_role))
    print("seeded the demo tenant" if created else "the demo tenant exists")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kehu", description="kehu: multi-tenant CRM backend")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("worker", help="run the job worker").set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="migrate the catalog and every tenant").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser(
        "services", help="start local PostgreSQL/Redis if they are installed but stopped"
    ).set_defaults(func=cmd_services)
    sub.add_parser(
        "prepare", help="start local PostgreSQL/Redis if needed, create the database, migrate"
    ).set_defaults(func=cmd_prepare)
    sub.add_parser("demo", help="create the demo tenant with sample data").set_defaults(
        func=cmd_demo
    )

    tenant = sub.add_parser("tenant", help="create, list, suspend, resume tenants")
    tsub = tenant.add_subparsers(dest="action", required=True)
    create = tsub.add_parser("create")
    create.add_argument("slug")
    create.add_argument("--name")
    tsub.add_parser("list")
    for action in ("suspend", "resume"):
        tsub.add_parser(action).add_argument("slug")
    tenant.set_defaults(func=cmd_tenant)

    user = sub.add_parser("user", help="add or deactivate users of a tenant")
    usub = user.add_subparsers(dest="action", required=True)
    add = usub.add_parser("add")
    add.add_argument("slug")
    add.add_argument("email")
    add.add_argument(
        "--role",
        required=True,
        help="admin, manager, sales, service, warehouse, viewer, partner or a custom role",
    )
    add.add_argument("--name")
    deactivate = usub.add_parser("deactivate")
    deactivate.add_argument("slug")
    deactivate.add_argument("email")
    user.set_defaults(func=cmd_user)

    token = sub.add_parser("token", help="print an access token (last line of output)")
    token.add_argument("slug")
    token.add_argument("email")
    token.add_argument("--ttl", type=int, default=None, help="lifetime in seconds")
    token.set_defaults(func=cmd_token)

    account = sub.add_parser("account", help="sign-in accounts")
    asub = account.add_subparsers(dest="action", required=True)
    setpw = asub.add_parser("set-password", help="set an account's password (prompts)")
    setpw.add_argument("email")
    setpw.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    account.set_defaults(func=cmd_account)

    oauth = sub.add_parser("client", help="register first-party OAuth clients")
    osub = oauth.add_subparsers(dest="action", required=True)
    spa = osub.add_parser("add-spa", help="a single-page app any tenant's users may use")
    spa.add_argument("name")
    spa.add_argument("--redirect-uri", action="append", required=True, default=[])
    spa.add_argument("--origin", action="append", default=[], help="allowed web origin (CORS)")
    oauth.set_defaults(func=cmd_client)

    signing = sub.add_parser("keys", help="rotate, list and remove token signing keys")
    ksub = signing.add_subparsers(dest="action", required=True)
    ksub.add_parser("rotate", help="a new active key; the active one is retired (still verifies)")
    ksub.add_parser("list", help="kid, status, created and retired times")
    ksub.add_parser(
        "remove", help="delete a retired key: tokens it signed stop working"
    ).add_argument("kid")
    signing.set_defaults(func=cmd_keys)
    return p


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    try:
        args.func(args, get_settings())
    except (CommandError, TenantError, PreflightError, SigningKeyError) as error:
        print(f"kehu: {error}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except UserErrors as error:
        print(f"kehu: {error}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
