# SSM Guardrails: two commands do everything on a fresh machine.
#   make synth   bootstrap, then synthesize every stack of the chosen config into cdk.out
#   make test    bootstrap, then lint and run the whole test suite
# Bootstrap is idempotent: stamps make a second run install nothing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
CONFIG ?= example
VENV := .venv
VENV_STAMP := $(VENV)/.installed
NODE_MODULES_STAMP := node_modules/.installed

# jsii (the bridge between Python and aws-cdk-lib) supports Node.js 22 and 24 only; on any
# other major it prints an end-of-life banner on every synth. If the machine's node is not
# one of those, a pinned Node.js 22 is installed into .node/ from the npm registry and put
# first on PATH for every recipe (jsii and the cdk CLI both look node up on PATH).
SUPPORTED_NODE_MAJORS := 22 24
LOCAL_NODE_VERSION := 22.23.3
SYSTEM_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
ifeq ($(filter $(SYSTEM_NODE_MAJOR),$(SUPPORTED_NODE_MAJORS)),)
LOCAL_NODE := .node/node_modules/.bin/node
export PATH := $(CURDIR)/.node/node_modules/.bin:$(PATH)
else
LOCAL_NODE :=
endif

# No CLI telemetry or update checks: synth must work offline and print only what matters.
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: help bootstrap lock preflight synth lint-templates test lint access-table config-table demo-break-glass snapshot-update benchmark benchmark-scale benchmark-tests cdk clean

help:
	@echo "make synth            synthesize the '$(CONFIG)' config into cdk.out (CONFIG=name for config/name.yaml)"
	@echo "make lint-templates   cfn-lint every template in cdk.out (run after make synth)"
	@echo "make test             lint and run every test"
	@echo "make lock             regenerate requirements.lock (hashes) after changing requirements*.txt"
	@echo "make preflight        check the waves and asset buckets before a rollout (StackSet-account credentials)"
	@echo "make demo-break-glass a break-glass run of the operator CLI against moto (docs/break-glass-session.txt)"
	@echo "make access-table     rewrite the README's 'Who can do what' table from tests/access/scenarios.yaml"
	@echo "make config-table     rewrite the README's configuration tables from the settings declarations"
	@echo "make snapshot-update  rewrite the template snapshots after an intended change"
	@echo "make benchmark        time make-synth against an empty CDK app"
	@echo "make benchmark-scale  synth time and template sizes for 1-1000 accounts and 1-16 Regions"
	@echo "make benchmark-tests  wall time of a warm make test and its ten slowest tests (RUNS=3: fastest of 3)"
	@echo "make cdk ARGS=...     run the pinned cdk CLI, e.g. ARGS=\"deploy SsmGuardrails-Member\""
	@echo "make clean            remove cdk.out, .venv, node_modules and .node"

bootstrap: $(VENV_STAMP) $(NODE_MODULES_STAMP)

# Every Python package comes from requirements.lock: exact versions, and pip refuses any file whose
# hash is not in the lock (--require-hashes). The project itself is installed editable on top,
# without dependencies and without build isolation (setuptools comes from the lock too), so no
# unchecked file enters the venv. The build of the pipeline runs these same targets.
# The CLI's leak test also runs under the lowest Typer cli/pyproject.toml allows: that one version
# (hash-pinned in cli/typer-lowest.lock) goes into its own directory, put first on PYTHONPATH by the test.
$(VENV_STAMP): requirements.lock pyproject.toml cli/pyproject.toml cli/typer-lowest.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -qq --disable-pip-version-check --require-hashes -r requirements.lock
	$(VENV)/bin/python -m pip install -qq --disable-pip-version-check --no-deps --no-build-isolation -e . -e ./cli
	$(VENV)/bin/python -m pip install -qq --disable-pip-version-check --require-hashes --no-deps --upgrade \
		--target $(VENV)/typer-lowest -r cli/typer-lowest.lock
	@touch $@

# Regenerate the lock after changing requirements.txt or requirements-dev.txt (and to take
# upgrades: LOCK_ARGS=--upgrade, or LOCK_ARGS="--upgrade-package NAME"). Pins that still satisfy
# the ranges are kept. Review the diff and commit it with the requirement change.
LOCK_ARGS ?=
# cli/pylock.toml (for `pipx install --lock`) and cli/requirements.lock (for a plain venv) are what
# operators install (README "Operator CLI"): every platform (--universal), hashes, and the same
# versions as requirements.lock where both have a package.
lock: $(VENV_STAMP)
	$(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 --python-platform linux \
		--no-header $(LOCK_ARGS) requirements-dev.txt -o requirements.lock
	$(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 --universal --no-header \
		-c requirements.lock cli/pyproject.toml -o cli/requirements.lock
	$(VENV)/bin/uv pip compile --quiet --python-version 3.11 --universal --format pylock.toml \
		-c requirements.lock cli/pyproject.toml -o cli/pylock.toml

$(LOCAL_NODE):
	npm install --prefix .node --no-save --no-package-lock --no-audit --no-fund --loglevel=error node@$(LOCAL_NODE_VERSION)

$(NODE_MODULES_STAMP): package.json package-lock.json $(LOCAL_NODE)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Before a rollout, with StackSet-account credentials (the pipeline runs it before its Rollout stage).
preflight: $(VENV_STAMP)
	$(VENV)/bin/python scripts/preflight.py --config $(CONFIG) $(if $(ROLE_ARN),--role-arn $(ROLE_ARN))

synth: bootstrap
	npx cdk synth --quiet -c config=$(CONFIG)

# Every template of the last synth: stacks of every stage and the StackSet templates.
lint-templates: $(VENV_STAMP)
	$(VENV)/bin/python scripts/lint_templates.py cdk.out

lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check .

# The suite runs on TEST_WORKERS processes (pytest-xdist), one per core of the project's 2-core
# machines; TEST_WORKERS=0 runs it in this one process. --dist loadfile runs each test module whole
# on one worker (its module fixtures run once); tests/conftest.py extends it so that the modules of a
# folder sharing expensive session fixtures (tests/access/) run on one worker too. Session fixtures
# such as the example app's synth run once per worker.
TEST_WORKERS ?= 2
# Bytecode caches: where the machine sets PYTHONDONTWRITEBYTECODE, every run would recompile this
# project's modules and redo pytest's assertion rewriting of every test module, in every worker and
# CLI or synth subprocess (caches left by an earlier run are still read, which hides the cost on a
# machine that once wrote them). An empty value turns the setting off for the suite (__pycache__/ is
# git-ignored).
test: export PYTHONDONTWRITEBYTECODE :=
test: bootstrap lint
	$(VENV)/bin/python -m pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

demo-break-glass: $(VENV_STAMP)
	$(VENV)/bin/python scripts/demo_break_glass.py

access-table: $(VENV_STAMP)
	$(VENV)/bin/python scripts/access_table.py

config-table: $(VENV_STAMP)
	$(VENV)/bin/python scripts/config_table.py

snapshot-update: bootstrap
	$(VENV)/bin/python -m pytest tests/test_app.py -k snapshot --snapshot-update

benchmark: bootstrap
	$(VENV)/bin/python scripts/benchmark_synth.py

benchmark-scale: bootstrap
	$(VENV)/bin/python scripts/benchmark_scale.py

RUNS ?= 1
benchmark-tests: bootstrap
	$(VENV)/bin/python scripts/benchmark_tests.py --runs $(RUNS)

cdk: bootstrap
	npx cdk $(ARGS) -c config=$(CONFIG)

clean:
	rm -rf cdk.out $(VENV) node_modules .node
