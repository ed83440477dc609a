# The two commands a newcomer needs: `make run` and `make test`. Both install what is
# missing first (scripts/setup.sh), then do their job.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# One build cache for every clone and run on this machine (CI included), outside the tree.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/devpulse/target
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: help setup run build test lint fmt sqlx-prepare clean-data

help:
	@echo "make run    build and run devpulse at http://127.0.0.1:3000 (PORT=... to change)"
	@echo "make test   run every test: unit, PostgreSQL integration, WASM build, Playwright"
	@echo "make lint   rustfmt check and clippy -D warnings"

setup:
	@scripts/setup.sh

build: setup
	@scripts/prune-target.py
	cargo leptos build

run: build
	@scripts/run.sh

test: setup
	@scripts/test.sh

lint:
	cargo fmt --all -- --check
	cargo clippy -p types -p pricing -p store -p mcp -p collector -p app -p server --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

fmt:
	cargo fmt --all

# Refreshes the committed .sqlx query data after changing a query! macro or a migration.
sqlx-prepare:
	@scripts/sqlx-prepare.sh

clean-data:
	rm -rf .data
