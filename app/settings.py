"""Settings: the only module that reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy.engine import make_url


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    database_url: str = field(
        default_factory=lambda: _env("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/kehu")
    )
    # The API and workers connect as this non-superuser role; migrations and tenant
    # administration as the DATABASE_URL's user (the owner). Derived from DATABASE_URL
    # with the user replaced unless KEHU_APP_DATABASE_URL says otherwise.
    app_role: str = field(default_factory=lambda: _env("KEHU_APP_ROLE", "kehu_app"))
    app_database_url_override: str = field(
        default_factory=lambda: _env("KEHU_APP_DATABASE_URL", "")
    )
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", "redis://127.0.0.1:6379/0"))
    # Separate queue names keep a test run's jobs away from a `make run` worker.
    queue_name: str = field(default_factory=lambda: _env("KEHU_QUEUE", "kehu:queue"))
    issuer: str = field(default_factory=lambda: _env("KEHU_ISSUER", "http://127.0.0.1:8000"))
    audience: str = field(default_factory=lambda: _env("KEHU_AUDIENCE", "kehu-api"))
    token_ttl_seconds: int = field(default_factory=lambda: int(_env("KEHU_TOKEN_TTL", "3600")))
    # How long tenant status and user flags may be served from the per-process cache.
    principal_cache_seconds: float = field(
        default_factory=lambda: float(_env("KEHU_PRINCIPAL_CACHE_SECONDS", "5"))
    )
    # The reload bound of each process's signing-key cache (app/auth/keys.py KeyRing):
    # within this many seconds of `kehu keys rotate` every process signs with the new
    # key, and of `kehu keys remove` refuses the removed one. Also the JWKS max-age.
    keys_reload_seconds: float = field(
        default_factory=lambda: float(_env("KEHU_KEYS_RELOAD_SECONDS", "60"))
    )
    pool_size: int = field(default_factory=lambda: int(_env("KEHU_DB_POOL_SIZE", "10")))
    migrate_concurrency: int = field(
        default_factory=lambda: int(_env("KEHU_MIGRATE_CONCURRENCY", "4"))
    )
    max_upload_bytes: int = field(
        default_factory=lambda: int(_env("KEHU_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))
    )
    # The largest response an operation may ask for, in objects: each list multiplies
    # what is below it by its page size (`first`/`last`, or the default page), so three
    # nested pages of 100 rows ask for two million. Checked before execution
    # (app/api/limits.py). The published operations cost at most ~9,300 with their
    # default variables; the heaviest test query (50 purchase orders with lines and
    # receipts' lines) ~63,000.
    max_query_nodes: int = field(
        default_factory=lambda: int(_env("KEHU_MAX_QUERY_NODES", "100000"))
    )
    # The body of a /graphql request that is not a file upload (JSON, or a GET's
    # none), refused before it is read past this (app/api/body_limit.py). A multipart
    # upload may be max_upload_bytes larger: this is its envelope's share.
    max_request_bytes: int = field(
        default_factory=lambda: int(_env("KEHU_MAX_REQUEST_BYTES", str(1024 * 1024)))
    )
    # The body of a POST to the sign-in and account forms (/oauth/*, /account/*),
    # refused before it is read past this: they take it from anyone, before any
    # authentication, and the largest (two passwords) is a few KiB.
    max_form_bytes: int = field(
        default_factory=lambda: int(_env("KEHU_MAX_FORM_BYTES", str(64 * 1024)))
    )
    # How long an account's own security history (catalog.account_events) is kept
    # before the worker's daily cron deletes it; at least 90 days, the span the
    # account page shows (the database refuses less).
    account_events_retention_days: int = field(
        default_factory=lambda: int(_env("KEHU_ACCOUNT_EVENTS_RETENTION_DAYS", "365"))
    )
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto uvicorn believes
    # (comma-separated addresses or CIDRs, "*" for any). The sign-in throttle counts
    # per client address, so only list proxies you run: anyone else could pick the
    # address they are throttled as.
    forwarded_allow_ips: str = field(
        default_factory=lambda: _env("KEHU_FORWARDED_ALLOW_IPS", "127.0.0.1")
    )
    # Hosts the sign-in flow may reach over http or at private, loopback or link-local
    # addresses (app/federation/outbound.py): comma-separated host or host:port, e.g.
    # "127.0.0.1:9000" for a local identity provider. Empty in production: tenant admins
    # choose the URLs the server fetches, and must not point it at internal services.
    federation_allow_private_hosts: str = field(
        default_factory=lambda: _env("KEHU_FEDERATION_ALLOW_PRIVATE_HOSTS", "")
    )
    # Outgoing mail (password-reset links), sent by the worker. Plain SMTP without
    # authentication, as to a local relay; STARTTLS and login are not supported yet.
    smtp_host: str = field(default_factory=lambda: _env("KEHU_SMTP_HOST", "127.0.0.1"))
    smtp_port: int = field(default_factory=lambda: int(_env("KEHU_SMTP_PORT", "1025")))
    mail_from: str = field(
        default_factory=lambda: _env("KEHU_MAIL_FROM", "kehu <no-reply@kehu.local>")
    )

    @property
    def async_database_url(self) -> str:
        """The owner's URL with the asyncpg driver, whatever scheme the user wrote."""
        return _asyncpg(self.database_url)

    @property
    def app_database_url(self) -> str:
        """The application role's URL with the asyncpg driver."""
        if self.app_database_url_override:
            return _asyncpg(self.app_database_url_override)
        url = make_url(self.async_database_url)
        return url.set(username=self.app_role, password=None).render_as_string(hide_password=False)


def _asyncpg(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"database URLs must be postgresql:// URLs, got {url!r}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
