"""Looking ahead at what a query selected, so list resolvers can fetch children for
the whole page at once (ARCHITECTURE.md: faster than per-object DataLoaders)."""

from __future__ import annotations

from collections.abc import Iterable

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection


def _walk(selections: Iterable[Selection], prefix: str, out: set[str]) -> None:
    for selection in selections:
        if isinstance(selection, SelectedField):
            path = f"{prefix}{selection.name}"
            out.add(path)
            _walk(selection.selections, path + ".", out)
        elif isinstance(selection, (FragmentSpread, InlineFragment)):
            _walk(selection.selections, prefix, out)


def selected_paths(info: Info) -> set[str]:
    """Dotted paths of every field selected below the current one, fragments included,
    e.g. {"edges", "edges.node", "edges.node.contacts", "totalCount"}."""
    out: set[str] = set()
    for field in info.selected_fields:
        _walk(field.selections, "", out)
    return out
