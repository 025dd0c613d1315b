# holdfast: every target sets up what it needs, so `make run` and `make test`
# work as the first command on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTO_FILES := $(shell find protos -name '*.proto')
PROTO_STAMP := protos/.generated
PROTO_DEPS := .proto-deps
PROTO_DEPS_STAMP := $(PROTO_DEPS)/.copied
DEVSTACK := $(PY) -m holdfast_dev.stack
# The operator's command (holdfast_cli, docs/operators.md), installed by setup.
HOLDFAST := $(VENV)/bin/holdfast

.PHONY: setup protos migrate roles run run-inventory run-sweeper test test-unit seed audit docs lint clean bench bench-quick

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

protos: $(PROTO_STAMP)

# Stubs and .pyi land beside each .proto (git-ignored); packages get an
# __init__.py so they import as holdfast.inventory.v1.inventory_pb2.
$(PROTO_STAMP): $(STAMP) $(PROTO_FILES)
	$(PY) -m grpc_tools.protoc -Iprotos \
		-I$$($(PY) -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))') \
		-I$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
		--python_out=protos --grpc_python_out=protos --pyi_out=protos $(PROTO_FILES)
	find protos/holdfast -type d -exec touch {}/__init__.py \;
	touch $@

migrate: protos
	$(DEVSTACK) migrate

# The services' least-privilege roles (docs/operations.md, "Database roles"), after the migrations, as
# DATABASE_URL's owner: the roles INVENTORY_/PRICING_/SWEEPER_DATABASE_URL name, granted.
roles: protos
	$(DEVSTACK) exec -- $(HOLDFAST) roles

run: protos
	$(DEVSTACK) run

run-inventory: protos
	$(DEVSTACK) run --only inventory

run-sweeper: protos
	$(DEVSTACK) run --only sweeper-worker --only sweeper-scheduler

# Every test, unit and integration, on a real PostgreSQL (DATABASE_URL, or an embedded one).
test: protos
	$(PY) -m pytest $(PYTEST_ARGS)

# The unit tests alone, in seconds: pure functions, no server or database started.
test-unit: protos
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

# Loads the demo catalog and price rules into the running services (`make run` first).
seed: protos
	$(HOLDFAST) seed

audit: protos
	$(DEVSTACK) exec -- $(HOLDFAST) audit

# docs/configuration.md from the settings' descriptions (a unit test fails while it is stale).
docs: setup
	$(PY) -m holdfast_dev.config_doc

# The stack against its same-run baselines (pgbench, gRPC echo) on a scratch database;
# results in bench/results/. BENCH_ARGS passes options: BENCH_ARGS='--scenarios hot,echo'.
bench: protos
	$(PY) -m bench $(BENCH_ARGS)

bench-quick: protos
	$(PY) -m bench --quick $(BENCH_ARGS)

# The googleapis protos ours import (google/type, google/rpc), copied from the installed
# googleapis-common-protos so buf resolves them offline (buf.yaml lists this directory as a
# module it does not lint; buf has google/protobuf built in), with .pyi stubs for mypy.
$(PROTO_DEPS_STAMP): $(STAMP)
	rm -rf $(PROTO_DEPS) && mkdir -p $(PROTO_DEPS)
	purelib=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') && \
		tar -C "$$purelib" -cf - $$(cd "$$purelib" && find google/type google/rpc -name '*.proto') \
		| tar -C $(PROTO_DEPS) -xf -
	$(PY) -m grpc_tools.protoc -I$(PROTO_DEPS) \
		-I$$($(PY) -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))') \
		--pyi_out=$(PROTO_DEPS) $$(find $(PROTO_DEPS) -name '*.proto')
	touch $@

# ruff; mypy (config in pyproject.toml) over our packages, bench and tests against the
# generated .pyi; buf lint (STANDARD, config in buf.yaml) over protos/.
lint: protos $(PROTO_DEPS_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/buf lint

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache *.egg-info $(PROTO_STAMP) $(PROTO_DEPS)
	find protos -name '*_pb2*.py' -o -name '*_pb2.pyi' -o -name '__init__.py' | xargs rm -f
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
