# The targets CI runs. Each works on a fresh Debian or Ubuntu machine.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
PYTHON ?= python3
APT_PACKAGES := zookeeper redis-server default-jre-headless python3-venv prometheus
STAMP := $(VENV)/.installed

.PHONY: setup system-packages run test lint bench clean

setup: system-packages $(STAMP)

# Install what is missing: ZooKeeper (on Java), Redis and promtool (Debian package
# prometheus, which checks the alert rules and the metrics text in the tests), via apt-get.
system-packages:
	@missing=""; \
	[ -f /usr/share/java/zookeeper.jar ] || missing="$$missing zookeeper"; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	$(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "Jarvis needs:$$missing (Debian/Ubuntu package names). apt-get is not available here: install them with your package manager, then run make setup again." >&2; exit 1; \
	  fi; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  echo "Installing system packages:$$missing"; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(VENV)/bin/jarvis demo

test: setup
	$(VENV)/bin/pytest

lint: setup
	$(VENV)/bin/ruff check jarvis tests bench
	$(VENV)/bin/ruff format --check jarvis tests bench
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) bench-results.json .pytest_cache .mypy_cache .ruff_cache
