# kehu: `make run` serves a demo, `make test` runs the suite. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
KEHU := .venv/bin/kehu
export DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/kehu
export REDIS_URL ?= redis://127.0.0.1:6379/0
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test schema bench lint

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	touch $@

install: .venv/.installed

run: install
	@$(KEHU) prepare
	@$(KEHU) demo
	@$(KEHU) worker > .venv/worker.log 2>&1 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	token=$$($(KEHU) token demo admin@demo.example.com --ttl 86400 2>/dev/null | tail -n 1); \
	echo; \
	echo "kehu API: http://$(HOST):$(PORT)/graphql (GraphiQL in a browser; worker log: .venv/worker.log)"; \
	echo "Admin token of the demo tenant (valid 24 h):"; \
	echo "  export TOKEN=$$token"; \
	echo "Password of admin@demo.example.com (demo only): kehu-demo-2026"; \
	echo "Try it:"; \
	echo "  curl -s http://$(HOST):$(PORT)/graphql -H \"Authorization: Bearer \$$TOKEN\" -H 'Content-Type: application/json' \\"; \
	echo "    -d '{\"query\":\"{ me { user { email role } } customers(first: 3, filter: {search: \\\"电子\\\"}) { totalCount edges { node { name tier contacts { name phone } } } } }\"}'"; \
	echo; \
	$(KEHU) serve --host $(HOST) --port $(PORT)

test: install
	@$(KEHU) services
	@scripts/ensure-chromium
	@scripts/ensure-oidc-peer
	.venv/bin/pytest $(PYTEST_ARGS)

schema: install
	.venv/bin/python -m app.api.export > graphql/schema.graphql

bench: install
	@$(KEHU) services
	.venv/bin/python tests/bench/run.py $(BENCH_ARGS)

lint: install
	.venv/bin/ruff check app tenants workers migrations tests
	.venv/bin/ruff format --check app tenants workers migrations tests
