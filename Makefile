# «Аттестация»: local run, tests and checks. Needs only python3 on PATH; everything else goes into .venv.
# No target downloads a browser: the browser tests use the system's /usr/bin/chromium.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k login -x"`.
PYTEST_ARGS ?=

# Stamps live inside .venv, so removing .venv resets them.
APP_STAMP := $(VENV)/.installed-requirements
DEV_STAMP := $(VENV)/.installed-requirements-dev

# axe-core for the accessibility test (tests/test_accessibility.py): a pinned release packed from the npm
# registry (npm checks the tarball against the registry's integrity), then checked again against the sha512
# pinned here, and only axe.min.js is kept. No global install; everything stays in .venv/, so `make clean`
# removes it. To update: `npm view axe-core@<version> dist.integrity`, then change both lines.
AXE_VERSION := 4.14.1
AXE_INTEGRITY := sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==
AXE_DIR := $(VENV)/axe-core
AXE_JS := $(AXE_DIR)/axe.min.js

.DEFAULT_GOAL := help
.PHONY: help venv dev axe run test lint format clean

help:
	@echo "make venv   — создать .venv и установить зависимости приложения (requirements.txt)"
	@echo "make run    — подготовить базу (bootstrap) и запустить сервер"
	@echo "make test   — ruff check и pytest (зависимости из requirements-dev.txt)"
	@echo "make axe    — скачать axe-core (npm) для проверки доступности; make test делает это сам"
	@echo "make lint   — ruff check и ruff format --check"
	@echo "make format — ruff format и ruff check --fix"
	@echo "make clean  — удалить .venv, кэши и test-artifacts (var/ с базой не трогается)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(APP_STAMP): requirements.txt | $(BIN)/python
	$(PIP) install -r requirements.txt
	touch $@

$(DEV_STAMP): requirements-dev.txt requirements.txt | $(BIN)/python
	$(PIP) install -r requirements-dev.txt
	touch $@ $(APP_STAMP)

venv: $(APP_STAMP)

dev: $(DEV_STAMP)

# Depends on the Makefile, so changing AXE_VERSION fetches the new release.
$(AXE_JS): Makefile | $(BIN)/python
	rm -rf $(AXE_DIR)
	mkdir -p $(AXE_DIR)
	cd $(AXE_DIR) && npm pack --silent --ignore-scripts axe-core@$(AXE_VERSION) >/dev/null
	$(BIN)/python -c 'import base64, hashlib, sys; \
	    got = "sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode(); \
	    sys.exit(None if got == sys.argv[2] else f"{sys.argv[1]}: {got}, expected {sys.argv[2]}")' \
	    $(AXE_DIR)/axe-core-$(AXE_VERSION).tgz $(AXE_INTEGRITY)
	tar -xzf $(AXE_DIR)/axe-core-$(AXE_VERSION).tgz -C $(AXE_DIR) --strip-components=1 package/axe.min.js
	rm $(AXE_DIR)/axe-core-$(AXE_VERSION).tgz
	touch $@

axe: $(AXE_JS)

run: venv
	$(BIN)/python -m admin_app bootstrap
	$(BIN)/python -m admin_app serve

test: dev $(AXE_JS)
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
