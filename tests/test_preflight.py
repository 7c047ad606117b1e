"""`make run` / `make test` explain an unreachable service instead of a stack trace."""

from __future__ import annotations

import socket

import pytest

from app.preflight import PreflightError, ensure_service


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_service_that_cannot_be_started_is_explained():
    port = _closed_port()
    with pytest.raises(PreflightError) as raised:
        ensure_service("Redis", f"redis://127.0.0.1:{port}/0", 6379, lambda port: False)
    message = str(raised.value)
    assert f"Redis is not reachable at 127.0.0.1:{port}" in message
    assert "redis-server" in message and "REDIS_URL" in message


def test_reachable_service_passes(settings):
    ensure_service("PostgreSQL", settings.database_url, 5432, lambda port: False)
