"""Declared permissions per field: `extensions=requires("customers:write")`."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission, PermissionExtension


class Requires(BasePermission):
    error_extensions = {"code": "FORBIDDEN"}

    def __init__(self, permission: str) -> None:
        self.permission = permission
        self.message = f"this operation requires the {permission} permission"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return info.context.principal.can(self.permission)


def requires(permission: str) -> list[PermissionExtension]:
    return [PermissionExtension(permissions=[Requires(permission)], use_directives=False)]
