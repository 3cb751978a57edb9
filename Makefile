# TGD — `make help` lists the targets.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export TGD_DATA_DIR ?= var

.DEFAULT_GOAL := help
STACK_DIR ?= var/stack
STACK_PORT ?= 8080

.PHONY: help run test test-stack stack stack-stop venv assets translations lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: venv assets translations ## Run the platform on http://127.0.0.1:5000 (SQLite, demo data)
	$(BIN)/tgd db upgrade
	$(BIN)/tgd demo load
	$(BIN)/tgd run --host 127.0.0.1 --port 5000

test: ## Run the whole test suite (installs PostgreSQL for the tests if missing)
	bash scripts/system_packages.sh test
	$(MAKE) venv assets translations
	bash scripts/test.sh

test-stack: ## Failure drills against the whole production topology (nginx, PostgreSQL + standby, Redis)
	bash scripts/system_packages.sh stack
	$(MAKE) venv assets translations
	bash scripts/test_stack.sh

stack: venv assets translations ## Start the production topology on loopback (nginx on $(STACK_PORT)), data in $(STACK_DIR)
	bash scripts/system_packages.sh stack
	$(BIN)/python scripts/stack.py up --dir $(STACK_DIR) --port $(STACK_PORT)

stack-stop: ## Stop what `make stack` started (the data stays in $(STACK_DIR))
	python3 scripts/stack.py down --dir $(STACK_DIR)

venv: $(VENV)/.installed ## Create the virtualenv and install the project

$(VENV)/.installed: pyproject.toml
	bash scripts/system_packages.sh run
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

assets: ## Install front-end packages from npm and copy them into dispatch_ui/static/vendor
	bash scripts/build_assets.sh

translations: venv ## Compile the translation catalogues (French source, English second)
	bash scripts/i18n.sh compile

lint: venv ## Lint and type-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: venv assets translations ## Benchmarks in real conditions (gateway, console, stack), figures printed
	bash scripts/system_packages.sh test
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/stack.py

clean: ## Remove the virtualenv, node_modules, built assets and local data
	rm -rf $(VENV) node_modules dispatch_ui/static/vendor var
