"""Limits that depend on variables: the estimated size of a response (query cost) and
the length of every list inside a `filter:` argument.

The depth, alias and token limits are graphql-core validation rules (schema.py). These
two cannot be: a validation rule sees the document but not the variables, and the
ValidationCache keys on the document alone, so a document that passed with
`first: $n = 10` would pass from the cache with `$n = 100`. They run once validation
has passed and before execution, on the document and this request's variables.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from strawberry.extensions import SchemaExtension

from app.api.filters import MAX_FILTER_LIST
from app.api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_composite_type,
    is_input_object_type,
    is_list_type,
    is_object_type,
    value_from_ast_untyped,
)

PAGE_ARGUMENTS = ("first", "last")


@dataclass
class _Walk:
    schema: GraphQLSchema
    variables: Mapping[str, Any]
    fragments: dict[str, FragmentDefinitionNode]
    # (selection set, type, page) -> cost: a fragment spread many times, or spreading
    # another many times, is costed once; without this, 30 fragments each spreading
    # the next twice would cost 2^30 steps to estimate.
    memo: dict[tuple[int, str, int | None], int] = field(default_factory=dict)
    filter_errors: list[GraphQLError] = field(default_factory=list)

    def value(self, node: ValueNode | None) -> Any:
        if node is None:
            return None
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        return value_from_ast_untyped(node)

    def page(self, definition: GraphQLField, node: FieldNode) -> int:
        """The rows a paged field returns: its `first`/`last`, else the argument's
        default, else the default page size; never above the maximum (larger values
        are refused by the field itself)."""
        given = {a.name.value: a.value for a in node.arguments or ()}
        for name in PAGE_ARGUMENTS:
            size = self.value(given.get(name))
            if _is_int(size):
                return max(0, min(size, MAX_PAGE_SIZE))
        for name in PAGE_ARGUMENTS:
            argument = definition.args.get(name)
            if argument is not None and _is_int(argument.default_value):
                return max(0, min(argument.default_value, MAX_PAGE_SIZE))
        return DEFAULT_PAGE_SIZE

    def selection_cost(
        self, parent: GraphQLNamedType, selections: SelectionSetNode, page: int | None
    ) -> int:
        key = (id(selections), parent.name, page)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = 0  # a fragment cycle (refused by validation) costs nothing
        common = 0
        # Fragments on different object types never apply to the same object: it costs
        # its common fields plus its most expensive type's fragments. (Fragments on
        # interfaces or unions may overlap with those: they are summed.)
        by_type: dict[str, int] = {}
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                common += self.field_cost(parent, selection, page)
                continue
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition, inner = fragment.type_condition, fragment.selection_set
            elif isinstance(selection, InlineFragmentNode):
                condition, inner = selection.type_condition, selection.selection_set
            else:
                continue
            target = parent if condition is None else self.schema.get_type(condition.name.value)
            if target is None:
                continue
            cost = self.selection_cost(target, inner, page)
            if target.name == parent.name or not is_object_type(target):
                common += cost
            else:
                by_type[target.name] = by_type.get(target.name, 0) + cost
        total = common + max(by_type.values(), default=0)
        self.memo[key] = total
        return total

    def field_cost(self, parent: GraphQLNamedType, node: FieldNode, page: int | None) -> int:
        """The nodes one `parent` object adds through `node`: 0 for a leaf; for an
        object, 1 plus its own selection; for a list, that times its length."""
        fields = getattr(parent, "fields", None)
        # Introspection (__schema, __type, __typename) is not in `fields`, so costs
        # nothing: its size is the schema's, not the tenant's data, and how often one
        # document repeats it is bounded by the alias limit.
        definition = fields.get(node.name.value) if fields else None
        if definition is None:
            return 0
        self.check_filter(node, definition)
        if node.selection_set is None:
            return 0
        kind = get_nullable_type(definition.type)
        named = get_named_type(kind)
        if not is_composite_type(named):
            return 0
        paged = any(name in definition.args for name in PAGE_ARGUMENTS)
        size = self.page(definition, node) if paged else None
        count = 1
        if is_list_type(kind):
            # A list under a paged field (a connection's edges) is that page; a list
            # with no paging of its own (an order's lines) counts as a default page.
            count = size if paged else page if page is not None else DEFAULT_PAGE_SIZE
        below = size if paged and not is_list_type(kind) else None
        return count * (1 + self.selection_cost(named, node.selection_set, below))

    def check_filter(self, node: FieldNode, definition: GraphQLField) -> None:
        for argument in node.arguments or ():
            if argument.name.value == "filter" and "filter" in definition.args:
                kind = definition.args["filter"].type
                self.check_lists(kind, argument.value, f"{node.name.value}(filter: ...)", "filter")

    def check_lists(self, kind: GraphQLInputType, value: Any, where: str, path: str) -> None:
        """Every list in a filter value (literal, variable, or a mix) holds at most
        MAX_FILTER_LIST items: an `in` of ids, enum values, codes, tags, nested
        and/or lists, custom-field filters."""
        if isinstance(value, VariableNode):
            value = self.variables.get(value.name.value)
        kind = get_nullable_type(kind)
        if isinstance(kind, GraphQLList):
            items = value.values if isinstance(value, ListValueNode) else value
            if not isinstance(items, (list, tuple)):
                return
            if len(items) > MAX_FILTER_LIST:
                message = f"{where}: {path} takes at most {MAX_FILTER_LIST} items, got {len(items)}"
                self.filter_errors.append(
                    GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "field": path})
                )
                return
            for i, item in enumerate(items):
                self.check_lists(kind.of_type, item, where, f"{path}[{i}]")
        elif is_input_object_type(kind):
            assert isinstance(kind, GraphQLInputObjectType)
            if isinstance(value, ObjectValueNode):
                given: dict[str, Any] = {f.name.value: f.value for f in value.fields}
            elif isinstance(value, dict):
                given = value
            else:
                return
            for name, inner in given.items():
                if name in kind.fields:
                    self.check_lists(kind.fields[name].type, inner, where, f"{path}.{name}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _with_defaults(operation: OperationDefinitionNode, variables: Mapping[str, Any]) -> dict:
    """The request's variables, with the operation's declared defaults for the rest."""
    values = dict(variables)
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in values and definition.default_value is not None:
            values[name] = value_from_ast_untyped(definition.default_value)
    return values


@dataclass(frozen=True)
class Estimate:
    cost: int
    filter_errors: list[GraphQLError]


def estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Estimate:
    """The operation's estimated number of objects in the response, and any filter
    list that is too long. A list multiplies what is below it by its page size."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:  # execution reports the missing or ambiguous operation
        return Estimate(0, [])
    root = schema.get_root_type(operation.operation)
    if root is None:
        return Estimate(0, [])
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if not isinstance(variables, Mapping):  # absent, or malformed: execution says so
        variables = {}
    walk = _Walk(schema, _with_defaults(operation, variables), fragments)
    cost = walk.selection_cost(root, operation.selection_set, None)
    return Estimate(cost, walk.filter_errors)


class RequestLimits(SchemaExtension):
    """Refuses, before execution, an operation whose estimated response exceeds
    KEHU_MAX_QUERY_NODES objects, or whose filter holds a list over the limit."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            found = estimate(
                context.schema._schema, document, context.operation_name, context.variables
            )
            budget = context.context.services.settings.max_query_nodes
            errors = list(found.filter_errors)
            if found.cost > budget:
                errors.insert(0, cost_error(found.cost, budget))
            if errors:
                # A result set here is what strawberry returns instead of executing.
                context.result = ExecutionResult(data=None, errors=errors)
        yield


def cost_error(cost: int, budget: int) -> GraphQLError:
    return GraphQLError(
        f"query cost limit: this operation may return about {cost} objects, more than "
        f"the maximum of {budget}; ask for smaller pages or fewer nested lists",
        extensions={"code": "BAD_USER_INPUT", "cost": cost, "maxCost": budget},
    )
