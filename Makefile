# Two commands from a fresh clone:
#   make run    set up .venv and a development PKI, then run a server on 127.0.0.1:$(PORT)
#   make test   set up .venv with the dev tools, then ruff, mypy --strict and pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEV_PKI := .rtchat-dev
PORT ?= 8443
NAME ?= alice
HOST := 127.0.0.1

.PHONY: run chat test lint types check install dev pki clean help
.DEFAULT_GOAL := help

help:
	@echo "make run [PORT=8443]     run a development server (sets everything up first)"
	@echo "make chat NAME=alice     join it as alice (or bob)"
	@echo "make test                ruff, mypy --strict and the test suite"
	@echo "make clean               remove .venv and the development PKI"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps record what was installed, so each target installs only once.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

# A CA, a server certificate for chatserver/localhost/127.0.0.1 and two users.
$(DEV_PKI)/ca.crt: | $(VENV)/.installed
	$(BIN)/rtchat-certs init --dir $(DEV_PKI) --cn chatserver --san localhost --san 127.0.0.1
	$(BIN)/rtchat-certs issue alice --dir $(DEV_PKI)
	$(BIN)/rtchat-certs issue bob --dir $(DEV_PKI)

pki: $(DEV_PKI)/ca.crt

run: $(VENV)/.installed $(DEV_PKI)/ca.crt
	@echo
	@echo "Join this server from other terminals with:"
	@echo "  $(BIN)/rtchat --host $(HOST) --port $(PORT) --cn chatserver --pki $(DEV_PKI) --name alice"
	@echo "  $(BIN)/rtchat --host $(HOST) --port $(PORT) --cn chatserver --pki $(DEV_PKI) --name bob"
	@echo "(or: make chat NAME=alice PORT=$(PORT)). Ctrl-C stops the server."
	@echo
	$(BIN)/rtchat-server --host $(HOST) --port $(PORT) --pki $(DEV_PKI) --data $(DEV_PKI)/data

chat: $(VENV)/.installed $(DEV_PKI)/ca.crt
	$(BIN)/rtchat --host $(HOST) --port $(PORT) --cn chatserver --pki $(DEV_PKI) --name $(NAME) \
		--state $(DEV_PKI)/client-state.json

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

types: $(VENV)/.installed-dev
	$(BIN)/mypy --strict

test: lint types
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(DEV_PKI)
