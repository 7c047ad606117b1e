"""The GraphQL schema: every capability's queries and mutations, and the limits."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types

from app.accounts.graphql import AccountMutations
from app.activities.graphql import ActivityQueries
from app.activities.mutations import ActivityMutations
from app.activities.timeline_graphql import TIMELINE_ITEM_TYPES, TimelineQueries
from app.api.errors import MaskUnexpectedErrors, log_unexpected
from app.api.limits import RequestLimits
from app.audit.graphql import AuditQueries
from app.auth.graphql import RoleMutations, RoleQueries
from app.billing.graphql import BillingQueries
from app.billing.mutations import BillingMutations
from app.catalog.graphql import CatalogQueries
from app.catalog.mutations import CatalogMutations
from app.company.graphql import CompanyMutations, CompanyQueries
from app.custom_fields.graphql import CustomFieldMutations, CustomFieldQueries
from app.customers.graphql import CustomerQueries
from app.customers.imports import CustomerImportMutations
from app.customers.mutations import CustomerMutations
from app.federation.admin import IdentityProviderMutations, IdentityProviderQueries
from app.jobs.graphql import JobQueries
from app.leads.graphql import LeadQueries
from app.leads.imports import LeadImportMutations
from app.leads.mutations import LeadMutations
from app.merge.graphql import MergeMutations, MergeQueries
from app.oauth.graphql import ClientMutations, ClientQueries
from app.orders.graphql import OrderQueries
from app.orders.mutations import OrderMutations
from app.pipeline.graphql import PipelineQueries
from app.pipeline.mutations import PipelineMutations
from app.pipeline.reports import PipelineReportQueries
from app.pool.graphql import PoolMutations, PoolQueries
from app.purchasing.graphql import PurchasingQueries
from app.purchasing.mutations import PurchasingMutations
from app.stock.graphql import StockQueries
from app.stock.mutations import StockMutations
from app.targets.graphql import TargetMutations, TargetQueries
from app.teams.graphql import TeamMutations, TeamQueries
from app.tiers.graphql import TierMutations, TierQueries
from app.users.graphql import UserMutations, UserQueries

# The limiters' validation rules are classes made when a limiter is constructed;
# built once here, they stay the same objects, so ValidationCache can hit (it keys
# on the rules). Built per request, every request would be validated afresh.
_LIMIT_RULES = [
    rule
    for limiter in (QueryDepthLimiter(max_depth=10), MaxAliasesLimiter(max_alias_count=30))
    for rule in limiter.validation_rules
]


class QueryLimits(AddValidationRules):
    def __init__(self) -> None:
        super().__init__(_LIMIT_RULES)


Query = merge_types(
    "Query",
    (
        UserQueries,
        RoleQueries,
        TeamQueries,
        CustomerQueries,
        CustomFieldQueries,
        MergeQueries,
        PoolQueries,
        TierQueries,
        PipelineQueries,
        PipelineReportQueries,
        TargetQueries,
        LeadQueries,
        CatalogQueries,
        StockQueries,
        OrderQueries,
        BillingQueries,
        PurchasingQueries,
        CompanyQueries,
        ActivityQueries,
        TimelineQueries,
        JobQueries,
        AuditQueries,
        ClientQueries,
        IdentityProviderQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        UserMutations,
        RoleMutations,
        TeamMutations,
        CustomerMutations,
        CustomerImportMutations,
        CustomFieldMutations,
        MergeMutations,
        PoolMutations,
        TierMutations,
        PipelineMutations,
        TargetMutations,
        LeadMutations,
        LeadImportMutations,
        CatalogMutations,
        StockMutations,
        OrderMutations,
        BillingMutations,
        PurchasingMutations,
        CompanyMutations,
        ActivityMutations,
        ClientMutations,
        AccountMutations,
        IdentityProviderMutations,
    ),
)


class Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        log_unexpected(errors)


schema = Schema(
    query=Query,
    mutation=Mutation,
    # Implementations reachable only through an interface.
    types=[*TIMELINE_ITEM_TYPES],
    extensions=[
        # Factories: strawberry builds fresh extensions per request; the parse and
        # validation caches live at module level, keyed by maxsize.
        QueryLimits,
        lambda: MaxTokensLimiter(max_token_count=5000),
        # Query cost and filter list lengths: they depend on the variables, so they run
        # after validation (cached per document), before execution.
        RequestLimits,
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        MaskUnexpectedErrors,
    ],
)


def sdl() -> str:
    return schema.as_str() + "\n"
