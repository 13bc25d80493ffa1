# Two commands from a fresh clone:
#   make run    set up .venv from uv.lock and a development PKI, then run a server on 127.0.0.1:$(PORT)
#   make test   set up .venv from uv.lock, then ruff, mypy --strict and pytest
#
# Every environment is installed from a lock: .venv from uv.lock (uv sync
# --locked refuses a lock that no longer matches pyproject.toml), uv itself
# and sslyze from requirements/*.txt with hashes. docs/development.md says
# how to upgrade them.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
SSLYZE := build/sslyze-venv/bin/sslyze
LATEST := build/venv-latest
LOWEST := build/venv-lowest
DEV_PKI := .rtchat-dev
PORT ?= 8443
NAME ?= alice
HOST := 127.0.0.1
PYTEST_ARGS ?=
# pytest-xdist workers: most tests wait on sockets and subprocesses, so two
# workers on a 2-core machine nearly halve the run. WORKERS=0 runs in-process.
WORKERS ?= auto
MYPY_ARGS ?=

# uv uses this machine's Python (never one it downloads) and stays quiet.
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1

.PHONY: help run chat test test-fast test-latest test-lowest test-python outdated lock upgrade \
	lint types sync sslyze pki clean checks cluster
.DEFAULT_GOAL := help

help:
	@echo "make run [PORT=8443]     run a development server (sets everything up first)"
	@echo "make chat NAME=alice     join it as alice (or bob)"
	@echo "make cluster [PORT=8443] Redis (AOF), two servers on it, haproxy in front (docs/scaling.md)"
	@echo "make test                ruff, mypy --strict and the whole test suite, from the lock"
	@echo "make test-fast           unit and integration tests: the edit loop (PYTEST_ARGS=... to narrow)"
	@echo "make test-latest         the whole suite on the newest releases (a throwaway env; the lock stays)"
	@echo "make test-lowest         the whole suite on the lowest versions pyproject.toml allows"
	@echo "make test-python PY=...  the whole suite on another Python (PY=/path/to/python3.13), from the lock"
	@echo "make outdated            what in the lock has a newer release"
	@echo "make lock                update uv.lock after editing pyproject.toml (versions kept)"
	@echo "make upgrade             move uv.lock and requirements/*.txt to the newest releases"
	@echo "make clean               remove every environment, build/ and the development PKI"

# uv, pinned with hashes, in its own venv: a fresh machine needs only python3.
$(UV): requirements/uv.txt
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check \
		--require-hashes --only-binary :all: -r requirements/uv.txt
	@touch $@

# Cheap when nothing changed (well under a second), so every target runs it
# and .venv always matches uv.lock.
sync: $(UV)
	@$(UV) sync --locked --quiet || { \
		echo "uv.lock does not match pyproject.toml: run 'make lock' and commit uv.lock." >&2; \
		exit 1; }

# sslyze pins an old cryptography, so it lives in its own venv, built before
# the tests (tests/test_tls_policy.py uses it, and never installs anything).
$(SSLYZE): requirements/sslyze.txt | $(UV)
	rm -rf build/sslyze-venv
	$(UV) venv --quiet build/sslyze-venv
	$(UV) pip sync --quiet --require-hashes --python build/sslyze-venv/bin/python \
		requirements/sslyze.txt
	@touch $@

sslyze: $(SSLYZE)

# A CA, a server certificate for chatserver/localhost/127.0.0.1 and two users;
# alice is an operator (group admin), so that /kick, /mute and /ban can be
# tried at once, bob is not.
$(DEV_PKI)/ca.crt: | sync
	$(BIN)/rtchat-certs init --dir $(DEV_PKI) --cn chatserver --san localhost --san 127.0.0.1
	$(BIN)/rtchat-certs issue alice --group admin --dir $(DEV_PKI)
	$(BIN)/rtchat-certs issue bob --dir $(DEV_PKI)

pki: $(DEV_PKI)/ca.crt

run: sync $(DEV_PKI)/ca.crt
	@echo
	@echo "Join this server from other terminals with:"
	@echo "  $(BIN)/rtchat --host $(HOST) --port $(PORT) --cn chatserver --pki $(DEV_PKI) --name alice"
	@echo "  $(BIN)/rtchat --host $(HOST) --port $(PORT) --cn chatserver --pki $(DEV_PKI) --name bob"
	@echo "(or: make chat NAME=alice PORT=$(PORT)). alice is an operator (/kick, /mute, /ban:"
	@echo "/help lists them), bob is not. Ctrl-C stops the server."
	@echo
	$(BIN)/rtchat-server --host $(HOST) --port $(PORT) --pki $(DEV_PKI) --data $(DEV_PKI)/data

# Many servers behind one address (docs/scaling.md, "make cluster"): make chat joins it too.
cluster: sync $(DEV_PKI)/ca.crt
	$(BIN)/python tools/cluster.py --port $(PORT) --pki $(DEV_PKI) --folder build/cluster

chat: sync $(DEV_PKI)/ca.crt
	$(BIN)/rtchat --host $(HOST) --port $(PORT) --cn chatserver --pki $(DEV_PKI) --name $(NAME) \
		--state $(DEV_PKI)/client-state.json

lint: sync
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

types: sync
	$(BIN)/mypy --strict

test: sync $(SSLYZE)
	@$(MAKE) --no-print-directory checks

# The edit loop: unit and integration tests (no subprocesses, tmux, bench or
# sslyze), on as many workers as there are cores.
test-fast: sync
	$(BIN)/python -m pytest -n $(WORKERS) -m "not system and not slow" -q $(PYTEST_ARGS)

# The checks of `make test`, on the environment in BIN (the lock's, or a
# throwaway one of test-latest / test-lowest).
checks:
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy --strict $(MYPY_ARGS)
	$(BIN)/python -m pytest -n $(WORKERS) $(PYTEST_ARGS)

# The newest release of everything pyproject.toml allows (--refresh: not an
# index page cached before the release), in a venv of its own.
test-latest: $(UV) $(SSLYZE)
	rm -rf $(LATEST)
	$(UV) venv --quiet $(LATEST)
	$(UV) pip install --quiet --refresh --python $(LATEST)/bin/python -e . --group dev
	$(UV) pip list --python $(LATEST)/bin/python
	@$(MAKE) --no-print-directory checks BIN=$(LATEST)/bin

# The lowest version of every direct dependency (runtime and dev): proves the
# floors in pyproject.toml are true. mypy runs at its floor against the
# lock's packages: its verdict depends on every package's type stubs, and an
# old stub that types something differently is no failure at run time.
test-lowest: sync $(SSLYZE)
	rm -rf $(LOWEST)
	$(UV) venv --quiet $(LOWEST)
	$(UV) pip install --quiet --resolution lowest-direct --python $(LOWEST)/bin/python \
		-e . --group dev
	$(UV) pip list --python $(LOWEST)/bin/python
	@$(MAKE) --no-print-directory checks BIN=$(LOWEST)/bin \
		MYPY_ARGS="--python-executable $(BIN)/python --cache-dir $(LOWEST)/mypy-cache"

# The whole suite on another Python (PY=/path/to/python3.13), installed from
# the same lock (it is universal) into build/venv-<its X.Y>. ruff and mypy
# --strict are left to `make test`: their results do not depend on the Python
# they run on.
test-python: $(UV) $(SSLYZE)
	@test -n "$(PY)" || { echo "Usage: make test-python PY=/path/to/python3.13" >&2; exit 2; }
	@version=$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])') && \
	env=build/venv-$$version && \
	echo "$$env: uv.lock on $$($(PY) -V)" && \
	UV_PROJECT_ENVIRONMENT=$$env $(UV) sync --locked --quiet --python $(PY) && \
	$$env/bin/python -m pytest -n $(WORKERS) $(PYTEST_ARGS)

outdated: sync
	$(UV) pip list --outdated --python $(BIN)/python

lock: $(UV)
	$(UV) lock

upgrade: $(UV)
	$(UV) lock --upgrade
	$(UV) pip compile --quiet --upgrade --universal --python-version 3.11 --generate-hashes \
		requirements/uv.in -o requirements/uv.txt
	$(UV) pip compile --quiet --upgrade --universal --python-version 3.11 --generate-hashes \
		requirements/sslyze.in -o requirements/sslyze.txt
	@echo "Now: make test test-latest test-lowest, then commit uv.lock and requirements/."

clean:
	rm -rf $(VENV) $(TOOLS) build $(DEV_PKI)
