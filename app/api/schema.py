"""The GraphQL schema: every capability's queries and mutations, and the limits."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types

from app.api.errors import MaskUnexpectedErrors, log_unexpected
from app.customers.graphql import CustomerQueries
from app.customers.mutations import CustomerMutations
from app.jobs.graphql import JobQueries
from app.users.graphql import UserMutations, UserQueries

Query = merge_types("Query", (UserQueries, CustomerQueries, JobQueries))
Mutation = merge_types("Mutation", (UserMutations, CustomerMutations))


class Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        log_unexpected(errors)


schema = Schema(
    query=Query,
    mutation=Mutation,
    extensions=[
        # Factories: strawberry builds fresh extensions per request; the parse and
        # validation caches live at module level, keyed by maxsize.
        lambda: QueryDepthLimiter(max_depth=10),
        lambda: MaxAliasesLimiter(max_alias_count=30),
        lambda: MaxTokensLimiter(max_token_count=5000),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        MaskUnexpectedErrors,
    ],
)


def sdl() -> str:
    return schema.as_str() + "\n"
