"""Query limits refuse abusive documents; repeated documents skip parse and validation."""

from __future__ import annotations

import uuid

from strawberry.extensions.validation_cache import _get_validate_cache


async def test_depth_limit(api, tenant_a):
    deep = "{ contacts { edges { node { customer { contacts { customer { contacts { customer {"
    deep += " contacts { customer { contacts { id } } } } } } } } } } } }"
    errors = await api.errors(deep, token=tenant_a.tokens["viewer"])
    assert "exceeds maximum operation depth" in errors[0]["message"]


async def test_alias_limit(api, tenant_a):
    query = "{ " + " ".join(f"a{i}: me {{ permissions }}" for i in range(31)) + " }"
    errors = await api.errors(query, token=tenant_a.tokens["viewer"])
    assert "aliases" in errors[0]["message"].lower()


async def test_repeated_documents_hit_the_validation_cache(api, tenant_a):
    cache = _get_validate_cache(512)
    query = "{ me { user { email } } other: me { permissions } }"
    await api.gql(query, token=tenant_a.tokens["viewer"])
    hits = cache.cache_info().hits
    for _ in range(3):
        await api.gql(query, token=tenant_a.tokens["viewer"])
    assert cache.cache_info().hits == hits + 3


# Three nested pages of 100 rows: within the depth limit, a million objects.
NESTED = """query($n: Int) { customers(first: $n) { edges { node {
  opportunities(first: $n) { edges { node { customer {
    timeline(first: $n) { edges { node { kind } } } } } } } } } } }"""


async def test_a_query_asking_for_too_many_objects_is_refused(api, tenant_a):
    errors = await api.errors(NESTED, {"n": 100}, token=tenant_a.tokens["viewer"])
    assert len(errors) == 1
    assert errors[0]["message"].startswith("query cost limit: this operation may return about")
    extensions = errors[0]["extensions"]
    assert extensions["code"] == "BAD_USER_INPUT"
    assert extensions["maxCost"] == 100_000
    # 100 customers, each: edge, node, a connection of 100 opportunities (edge, node,
    # customer, and a connection of 100 timeline items: edge, node).
    assert extensions["cost"] == 1 + 100 * (2 + 1 + 100 * (3 + 1 + 100 * 2))
    assert str(extensions["cost"]) in errors[0]["message"]


async def test_the_cost_follows_the_variables_not_the_cached_document(api, tenant_a):
    token = tenant_a.tokens["viewer"]
    # Small pages pass (and put the document in the validation cache)...
    data = await api.gql(NESTED, {"n": 5}, token=token)
    assert "customers" in data
    # ...which must not let the same document through with large ones.
    errors = await api.errors(NESTED, {"n": 100}, token=token)
    assert errors[0]["extensions"]["cost"] > errors[0]["extensions"]["maxCost"]
    # Omitted, each is a default page of 20 rows: 17,661 objects, within the limit.
    assert "customers" in await api.gql(NESTED, token=token)


async def test_literal_pages_default_pages_and_fragments_are_counted(api, tenant_a):
    query = """{ a: customers { ...page } b: customers { ...page } c: customers { ...page } }
      fragment page on CustomerConnection { edges { node {
        opportunities(first: 100) { edges { node { customer { contacts { id } } } } } } } }"""
    errors = await api.errors(query, token=tenant_a.tokens["viewer"])
    # customers: a default page of 20; contacts, a list without paging: counted as 20.
    per_alias = 1 + 20 * (2 + 1 + 100 * (3 + 20))
    assert errors[0]["extensions"]["cost"] == 3 * per_alias
    two = query.replace(" c: customers { ...page }", "")
    assert "a" in await api.gql(two, token=tenant_a.tokens["viewer"])


async def test_a_filter_list_over_the_limit_is_refused_naming_the_field(api, tenant_a):
    token = tenant_a.tokens["viewer"]
    ids = [str(uuid.uuid4()) for _ in range(101)]
    query = "query($ids: [ID!]) { customers(filter: {ownerId: {in: $ids}}) { totalCount } }"
    errors = await api.errors(query, {"ids": ids}, token=token)
    assert [e["message"] for e in errors] == [
        "customers(filter: ...): filter.ownerId.in takes at most 100 items, got 101"
    ]
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "filter.ownerId.in"}
    data = await api.gql(query, {"ids": ids[:100]}, token=token)
    assert data["customers"]["totalCount"] == 0


async def test_every_list_in_a_filter_is_capped_however_it_is_sent(api, tenant_a):
    token = tenant_a.tokens["viewer"]
    tags = ", ".join(f'"t{i}"' for i in range(101))
    literal = f"{{ customers(filter: {{tags: {{any: [{tags}]}}}}) {{ totalCount }} }}"
    errors = await api.errors(literal, token=token)
    assert errors[0]["extensions"]["field"] == "filter.tags.any"
    nested = "query($f: OpportunityFilter) { opportunities(filter: $f) { totalCount } }"
    many = [{"search": str(i)} for i in range(101)]
    errors = await api.errors(nested, {"f": {"or": [{"and": many}]}}, token=token)
    assert errors[0]["extensions"]["field"] == "filter.or[0].and"
    statuses = {"status": {"in": ["OPEN"] * 101}}
    errors = await api.errors(nested, {"f": statuses}, token=token)
    assert errors[0]["extensions"]["field"] == "filter.status.in"
