# Two commands do all the setup on a fresh machine:
#   make demo   runs the demo        make test   runs the whole test suite
# Both create .venv and install what they need the first time (including the
# libssl 1.1 that Redis Stack needs on Debian 12), and are quick afterwards.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := all,dev
# The CPU build of PyTorch that lies on this machine's disk; an unpinned torch
# (pulled in by sentence-transformers) would be a multi-GB CUDA build.
TORCH := torch==2.13.0
STAMP := $(VENV)/.installed-$(EXTRAS)
LIBSSL := .cache/libssl1.1
# The machine's pip configuration names a local index that may be absent;
# pip warns about it on every run, which is noise, not news.
QUIET_PIP := grep -v "is ignored: it is neither a file nor a directory" || true

.PHONY: help setup browser test test-cluster demo bench notebooks lint format clean

help:
	@echo "make demo   run the demo (sets everything up the first time)"
	@echo "make test   run ruff and the whole test suite (likewise), then its cluster pass"
	@echo "make test-cluster   only the pass on an embedded Redis Cluster"
	@echo "make bench  speed and footprint vs raw redis-py and the peers -> benchmarks/results/"
	@echo "make notebooks  run notebooks/*.ipynb top to bottom and save their outputs"
	@echo "make lint   ruff check;  make format  ruff format;  make clean  remove .venv/.cache"

setup: $(STAMP) $(LIBSSL)/.ready

# Debian's chromium and its driver, for the dashboard's browser test: Selenium
# drives the system binary (nothing may download a browser build). Skipped when
# both are there; without root, the test says it is skipped and why.
browser:
	@if ! { test -x /usr/bin/chromium && test -x /usr/bin/chromedriver; }; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium and chromium-driver (the dashboard's browser test) ..."; \
	    apt-get update -qq >/dev/null; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else \
	    echo "Not root: run 'sudo apt-get install chromium chromium-driver' for the dashboard's browser test."; \
	  fi; \
	fi

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || { echo "Creating $(VENV) ..."; $(PYTHON) -m venv $(VENV); }
	@echo "Installing redis-memory-backend[$(EXTRAS)] into $(VENV) ..."
	@$(BIN)/python -m pip install -q --disable-pip-version-check '$(TORCH)' 2>&1 | { $(QUIET_PIP); }
	@$(BIN)/python -m pip install -q --disable-pip-version-check '$(TORCH)' -e '.[$(EXTRAS)]' 2>&1 | { $(QUIET_PIP); }
	@rm -f $(VENV)/.installed-*
	@touch $@

$(LIBSSL)/.ready: redis_memory/_scripts/install-libssl11.sh
	@bash redis_memory/_scripts/install-libssl11.sh $(LIBSSL)
	@mkdir -p $(LIBSSL) && touch $@

# The modules whose features must work on Redis Cluster, run a second time
# against an embedded cluster (three primaries, three replicas, no Search).
CLUSTER_TESTS := tests/operations/test_cluster.py tests/history/test_history.py \
	tests/history/test_langchain_history.py tests/history/test_llama_index_history.py \
	tests/history/test_cross_framework.py tests/cache/test_cache.py \
	tests/cache/test_langchain_cache.py tests/cache/test_llama_index_cache.py \
	tests/state/test_state.py tests/state/test_langchain_store.py \
	tests/state/test_llama_index_kvstore.py tests/agents/test_coordination.py \
	tests/agents/test_ratelimit.py tests/events/test_events.py tests/events/test_workqueue.py \
	tests/langgraph/test_langgraph_conformance.py tests/langgraph/test_langgraph_saver.py \
	tests/langgraph/test_langgraph_graphs.py tests/memory/test_memory.py \
	tests/cli/test_cli_memories.py tests/langgraph/test_langgraph_store.py \
	tests/agents/test_presence.py tests/agents/test_priorityqueue.py \
	tests/agents/test_disagreements.py tests/agents/test_team_tools.py \
	tests/package/test_docstrings.py

test: setup browser
	@$(BIN)/ruff check --quiet .
	@$(BIN)/python -m pytest $(PYTEST_ARGS)
	@echo "The same features again, on Redis Cluster:"
	@# Exit code 5: PYTEST_ARGS selected none of the cluster pass's tests.
	@$(BIN)/python -m pytest --redis-cluster -q $(CLUSTER_TESTS) $(PYTEST_ARGS) || test $$? -eq 5

test-cluster: setup
	@$(BIN)/python -m pytest --redis-cluster -q $(CLUSTER_TESTS) $(PYTEST_ARGS)

demo: setup
	@$(BIN)/python examples/demo.py

bench: setup
	@$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

notebooks: setup
	@$(BIN)/python tests/_notebooks.py

lint: setup
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: setup
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
