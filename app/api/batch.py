"""Nested connections on the items of a list (`Customer.opportunities`,
`Lead.activities`, ...): fields with arguments, which looking ahead at the selection
(app/api/selection.py) cannot serve, since the arguments, aliases and fragments of
the nested field decide what each parent's page holds.

Their resolver runs once per parent; each asks the request's batch for its place in
the query (the field's path without list indexes, its parent type and arguments),
and the first to ask schedules one load for every parent that asks in the same turn
of the event loop (graphql-core starts the fields of all the items of a list before
awaiting any). So a page of parents costs one load, i.e. one statement per nested
field, whatever its length; parents reached in different places of the query are
different batches."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from app.api.context import Info

T = TypeVar("T")

# Loads the values of many parents at once: parent ids -> value per id.
Load = Callable[[list[uuid.UUID]], Awaitable[dict[uuid.UUID, T]]]


def _place(info: Info, arguments: dict[str, Any]) -> tuple:
    path = tuple(str(k) for k in info.path.as_list() if not isinstance(k, int))
    return (info.path.typename, path, repr(sorted(arguments.items())))


async def batched(info: Info, parent_id: uuid.UUID, arguments: dict[str, Any], load: Load[T]) -> T:
    """The value for `parent_id`, loaded with every other parent of the same batch.
    `load` must not depend on anything but the ids, `info`'s selection below this
    field and `arguments`, which are the same for the whole batch."""
    key = _place(info, arguments)
    loader = info.context.batches.get(key)
    if loader is None:

        async def load_many(ids: list[uuid.UUID]) -> Sequence[T]:
            found = await load(list(dict.fromkeys(ids)))
            return [found[i] for i in ids]

        loader = info.context.batches[key] = DataLoader(load_fn=load_many, cache=False)
    return await loader.load(parent_id)
