"""Query limits refuse abusive documents; repeated documents skip parse and validation."""

from __future__ import annotations

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
