"""Before serving or testing: PostgreSQL and Redis reachable (started when installed
locally but stopped), and the database present. Says what is wrong, never a trace."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from urllib.parse import urlsplit

import asyncpg

from app.settings import Settings

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


class PreflightError(Exception):
    pass


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host or "127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _wait(host: str, port: int, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _reachable(host, port):
            return True
        time.sleep(0.3)
    return False


def _start_postgres() -> bool:
    versions = sorted(os.path.basename(p) for p in glob.glob("/etc/postgresql/*"))
    if not versions or not shutil.which("pg_ctlcluster"):
        return False
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
        check=False,
        capture_output=True,
    )
    return True


def _start_redis(port: int) -> bool:
    if not shutil.which("redis-server"):
        return False
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port),
         "--save", "", "--appendonly", "no"],
        check=False,
        capture_output=True,
    )  # fmt: skip
    return True


def ensure_service(name: str, url: str, default_port: int, start) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    if _reachable(host, port):
        return
    if host in LOCAL_HOSTS and start(port) and _wait(host, port):
        print(f"started {name} on {host}:{port}")
        return
    hint = {
        "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        " (or set DATABASE_URL)",
        "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ""'
        " (or set REDIS_URL)",
    }[name]
    raise PreflightError(f"{name} is not reachable at {host}:{port}. Start one: {hint}")


async def ensure_database(settings: Settings) -> bool:
    """Create the database named in DATABASE_URL if it is missing; True if created."""
    url = settings.async_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        await conn.execute(
            f"CREATE DATABASE {quoted} TEMPLATE template0 ENCODING 'UTF8' "
            "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
        )
        return True
    finally:
        await conn.close()


def ensure_services(settings: Settings) -> None:
    ensure_service("PostgreSQL", settings.database_url, 5432, lambda port: _start_postgres())
    ensure_service("Redis", settings.redis_url, 6379, _start_redis)
