"""Function permissions as `resource:action`, and what each built-in role holds."""

from __future__ import annotations

READ = frozenset({"customers:read", "contacts:read", "jobs:read", "users:read"})
WRITE = frozenset({"customers:write", "contacts:write", "customers:import"})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": READ | WRITE | {"users:manage", "audit:read"},
    "manager": READ | WRITE,
    "sales": READ | WRITE,
    "service": READ | WRITE,
    "viewer": READ,
}


def permissions_for(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())
