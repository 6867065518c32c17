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

.DEFAULT_GOAL := help
.PHONY: help venv dev run test lint format clean

help:
	@echo "make venv   — создать .venv и установить зависимости приложения (requirements.txt)"
	@echo "make run    — подготовить базу (bootstrap) и запустить сервер"
	@echo "make test   — ruff check и pytest (зависимости из requirements-dev.txt)"
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

run: venv
	$(BIN)/python -m admin_app bootstrap
	$(BIN)/python -m admin_app serve

test: dev
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
