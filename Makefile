# Two commands on a fresh machine with Python 3.11, pip and make:
#   make run    install into .venv and start the bot (Telegram if TELEGRAM_BOT_TOKEN is set, else the terminal chat)
#   make test   install with test extras and run the whole suite
# The Dockerfile installs with the same pip command; tests/test_packaging.py keeps them in step.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check --quiet

.PHONY: run test eval bench install install-test validate chat schema clean help
.DEFAULT_GOAL := help

help:
	@echo "make run       start the bot (Telegram when TELEGRAM_BOT_TOKEN is set, else the terminal chat)"
	@echo "make test      run the whole test suite"
	@echo "make validate  check content/ and flows/"
	@echo "make chat      chat with the bot in the terminal"
	@echo "make schema    JSON Schemas for the YAML files, for your editor (schemas/)"
	@echo "make eval      how well typed questions are understood, on tests/data/*.jsonl"
	@echo "make bench     full-size load tests, then speed and footprint beside echo bots (bench/results.json)"
	@echo "make clean     remove the virtual environment and caches"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e '.[test]'
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e '.[test,bench]'
	@touch $@ $(VENV)/.installed-test $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/python -m bot

chat: install
	$(BIN)/python -m bot chat

validate: install
	$(BIN)/python -m bot validate

schema: install
	$(BIN)/python -m bot schema

eval: install
	$(BIN)/python -m bot eval

bench: $(VENV)/.installed-bench
	$(BIN)/python -m pytest -q -s -m slow tests/test_load.py tests/test_bench.py
	$(BIN)/python -m bench.run

# The tests, validate and the conversation tests share one cache of example vectors.
test: export BOT_CACHE_DIR = $(CURDIR)/.cache/vectors
test: install-test
	$(BIN)/python -m bot validate
	$(BIN)/python -m bot test-conversations
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
