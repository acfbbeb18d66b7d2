# Roxs serverless stack on LocalStack: `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
ENV := source ./.envrc &&
# pytest with its rewritten test modules kept (__pycache__, ignored by git and by build.py):
# under PYTHONDONTWRITEBYTECODE each worker rewrote and compiled ~280 modules, 4 s of CPU.
PYTEST := PYTHONDONTWRITEBYTECODE= $(PY) -m pytest
TFLOCAL := $(ENV) tflocal
PYTEST_ARGS ?=
# make test's workers (pytest-xdist): one runs the deployed stack's tests, the others the rest,
# each on its own engine (tests/conftest.py). TEST_WORKERS=0: one process, one engine.
TEST_WORKERS ?= 3
# Colour only on a terminal: piped logs get plain text (also NO_COLOR=1). Sets $$bold, $$plain
# and $$nocolor (terraform's -no-color) for the rest of the recipe line.
STYLE = if [ -t 1 ] && [ -z "$${NO_COLOR:-}" ]; then bold=$$'\033[1m' plain=$$'\033[0m' nocolor=; \
        else bold= plain= nocolor=-no-color; fi;

.PHONY: help install install-runtimes up down save reset status logs build init plan apply outputs recount demo demo-deploy dev destroy redrive \
        test test-quick test-exhaustive test-unit test-static test-engine test-integration bench conformance fmt lint docs lock lock-checkov clean

help: ## This list
	@$(STYLE) awk -v bold="$$bold" -v plain="$$plain" 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %s%-18s%s %s\n", bold, $$1, plain, $$2}' $(MAKEFILE_LIST)

## --- setup -------------------------------------------------------------------------------
$(PY):
	@$(PYTHON) -m venv $(VENV)

# The tools installed (.packages: enough to build and deploy), then compiled (.installed): shells
# often set PYTHONDONTWRITEBYTECODE, and then every test worker, tflocal and aws call would compile
# boto3, botocore and moto again (an aws call: 2.7 s of CPU, 1.2 s compiled). make demo compiles
# while the stack deploys, whose provider waits leave the cores idle; every other target before it runs.
$(VENV)/.packages: requirements.txt | $(PY)
	@echo "[setup] installing the project's tools into $(VENV) (pinned, requirements.txt) ..."
	@$(PYTHON) engine/ctl.py uv pip install -q --python $(PY) -r requirements.txt
	@$(PY) -c 'import boto3, pytest, python_terraform, localstack_client' || { echo "[setup] install failed"; exit 1; }
	@touch $@

$(VENV)/.installed: $(VENV)/.packages
	@nice -n 19 $(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" > /dev/null \
	  || echo "[setup] some of the tools' files could not be compiled: they are compiled as they are imported"
	@touch $@

install: $(VENV)/.installed ## Install the project's tools and the engine (idempotent)
	@$(PYTHON) engine/ctl.py install

install-runtimes: ## Install every Lambda runtime now, in parallel (else each when its first function is created)
	@$(PYTHON) engine/ctl.py install-runtimes

lock: ## Re-resolve requirements.in into requirements.txt
	@rm -rf /tmp/roxs-lock && $(PYTHON) -m venv /tmp/roxs-lock
	@/tmp/roxs-lock/bin/pip install -q -r requirements.in
	@{ echo "# Locked from requirements.in with 'make lock' (Python 3.11). Do not edit by hand."; \
	  /tmp/roxs-lock/bin/pip freeze --all | grep -v -E '^(pip|setuptools|wheel)=='; } > requirements.txt

lock-checkov: ## Re-resolve requirements-checkov.in into requirements-checkov.txt (checkov's own venv)
	@rm -rf /tmp/roxs-lock-checkov && $(PYTHON) -m venv /tmp/roxs-lock-checkov
	@/tmp/roxs-lock-checkov/bin/pip install -q -r requirements-checkov.in
	@{ echo "# checkov (Terraform static scan) in its own virtualenv, .venv-checkov/, created by"; \
	  echo "# tests/static/test_terraform_scan.py: its pins (boto3 among them) conflict with requirements.txt."; \
	  echo "# Locked from requirements-checkov.in with 'make lock-checkov' (Python 3.11). Do not edit by hand."; \
	  /tmp/roxs-lock-checkov/bin/pip freeze --all | grep -v -E '^(pip|setuptools|wheel)=='; } > requirements-checkov.txt

## --- engine ------------------------------------------------------------------------------
up: ## Start the embedded LocalStack (or use one already answering at AWS_ENDPOINT_URL)
	@$(ENV) $(PYTHON) engine/ctl.py up

down: ## Write the last of the engine's state (.localstack/journal, snapshot) and stop it
	@$(ENV) $(PYTHON) engine/ctl.py down

save: ## Snapshot the engine's state now (changes are journaled every SNAPSHOT_FLUSH_INTERVAL s, 1 by default)
	@$(ENV) $(PYTHON) engine/ctl.py save

reset: ## Stop the engine and delete its saved state: the next up starts empty
	@$(ENV) $(PYTHON) engine/ctl.py reset

status: ## Is the engine up? Which services?
	@$(ENV) $(PYTHON) engine/ctl.py status

logs: ## Last lines of the engine's log
	@$(PYTHON) engine/ctl.py logs

## --- infrastructure ----------------------------------------------------------------------
build: | $(PY) ## Build the Lambda zips into build/ (only what changed; the standard library and pip)
	@$(PY) build.py

init: $(VENV)/.installed
	@$(TFLOCAL) init -input=false -upgrade=false > .terraform-init.log || { cat .terraform-init.log; exit 1; }
	@rm -f .terraform-init.log

plan: up build init ## tflocal plan against the engine
	@$(STYLE) vars="$$($(ENV) $(PY) -m tools.stack apply-vars)"; $(TFLOCAL) plan -input=false $$nocolor $$vars

# The variables apply-vars adds are assigned first: if it fails, the recipe stops there
# instead of applying the defaults (which would drop a kept api_auth).
apply: up build init ## Start the engine, build, tflocal init + apply
	@$(ENV) $(PY) -m tools.stack check-state
	@$(STYLE) vars="$$($(ENV) $(PY) -m tools.stack apply-vars)"; $(TFLOCAL) apply -input=false -auto-approve $$nocolor $$vars
	@$(MAKE) --no-print-directory outputs

outputs: ## API URL (LocalStack form), bucket, table and queue names
	@$(ENV) $(PY) -m tools.stack outputs

destroy: $(VENV)/.installed ## Destroy every resource of the stack
	@if $(ENV) $(PYTHON) engine/ctl.py status > /dev/null 2>&1; then \
	  $(MAKE) --no-print-directory build init && $(STYLE) $(TFLOCAL) destroy -input=false -auto-approve $$nocolor; \
	else echo "[destroy] no engine answers: nothing to destroy"; fi

# Drift is the report's answer, not make's failure (scripts: python -m tools.recount exits 1 on drift).
recount: $(VENV)/.installed ## Audit image rows against originals and recount every counter; print the drift (FIX=1 repairs it; scans)
	@$(ENV) $(PY) -m tools.recount $(if $(filter 1,$(FIX)),--fix) || [ $$? -eq 1 ]

redrive: $(VENV)/.installed ## Move dead letters back: make redrive QUEUE=notifications|images
	@$(ENV) $(PY) -m tools.redrive $(QUEUE)

# The engine's install and start, the tools' install and the build side by side (a first run
# waits for the longest, not their sum), uv first, which both install with; then the deploy and
# the tools' compilation side by side.
demo: ## Everything (progress and a summary, not the plan), then the end-to-end demo
	@$(PYTHON) engine/ctl.py uv --version | sed '/^uv /d'
	@$(MAKE) --no-print-directory -j3 up build $(VENV)/.packages
	@$(MAKE) --no-print-directory -j2 demo-deploy $(VENV)/.installed
	@$(ENV) $(PY) -m tools.demo

# make demo's deploy, once its first step has started the engine and built: tflocal apply with a
# progress line and a summary instead of the plan.
demo-deploy: $(VENV)/.packages
	@$(ENV) $(PY) -m tools.stack deploy

dev: up build $(VENV)/.installed ## Hot reload: deploy the functions from build/hot-reload/ and sync it on every save (make apply: zips again)
	@$(PY) build.py --hot-reload > /dev/null
	@$(ENV) $(PY) -m tools.stack deploy -var=hot_reload=true
	@$(PY) build.py --watch

## --- checks ------------------------------------------------------------------------------
test: $(VENV)/.installed ## All tests: unit, engine, integration (starts and stops the engine)
	@$(ENV) $(PYTEST) -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

test-quick: $(VENV)/.installed ## The inner loop, about 80-90 s: unit and static tests, no engine, not those marked slow
	@$(ENV) $(PYTEST) tests/unit tests/static -n 2 --dist loadscope -m "not exhaustive and not slow" $(PYTEST_ARGS)

test-exhaustive: $(VENV)/.installed ## The cases make test leaves out: every variant of an exhaustive class (~4 min)
	@$(ENV) $(PYTEST) -m exhaustive $(PYTEST_ARGS)

test-unit: $(VENV)/.installed ## Unit tests only (no engine)
	@$(ENV) $(PYTEST) tests/unit $(PYTEST_ARGS)

test-static: $(VENV)/.installed ## Static checks: checkov on the Terraform (own venv), no secrets in the repo
	@$(ENV) $(PYTEST) tests/static $(PYTEST_ARGS)

test-engine: $(VENV)/.installed ## The embedded engine's own tests
	@$(ENV) $(PYTEST) tests/engine $(PYTEST_ARGS)

test-integration: $(VENV)/.installed ## The deployed stack, end to end
	@$(ENV) $(PYTEST) tests/integration $(PYTEST_ARGS)

bench: $(VENV)/.installed ## Benchmarks, ~25 min (ONLY=build,lambda: some groups); own engine on BENCH_PORT (4631) and copy of the stack, yours untouched
	@$(ENV) $(PY) bench/run.py $(if $(ONLY),--only $(ONLY))

conformance: install ## LocalStack's AWS-validated tests of Lambda, DynamoDB(+Streams), CloudFormation on an own engine (ONLY=..., BUDGET=40 min; LOCALSTACK_SOURCE=<checkout> without GitHub)
	@$(ENV) $(PY) tools/conformance/run.py $(if $(ONLY),--only $(ONLY)) $(if $(BUDGET),--budget-min $(BUDGET))

fmt: $(VENV)/.installed ## terraform fmt, ruff format and ruff check --fix (rules in pyproject.toml)
	@$(ENV) terraform fmt -recursive
	@$(PY) -m ruff format --quiet .
	@$(PY) -m ruff check --fix --quiet .

lint: $(VENV)/.installed ## terraform fmt -check and validate; ruff check and ruff format --check
	@$(ENV) terraform fmt -check -recursive
	@$(PY) -m ruff check --quiet .
	@$(PY) -m ruff format --check --quiet .
	@$(ENV) terraform init -backend=false -input=false > /dev/null && $(ENV) terraform validate

docs: $(VENV)/.installed ## Regenerate the Inputs and Outputs tables of the module READMEs (tests/static checks they are current)
	@$(PY) -m tools.module_docs

clean: ## Stop the engine, delete its saved state (make reset), remove build output and local state
	@$(ENV) $(PYTHON) engine/ctl.py reset
	@rm -rf build .terraform terraform.tfstate* localstack_providers_override.tf test-output .venv-checkov
