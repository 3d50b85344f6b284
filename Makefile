# lineup: the two commands a new machine needs are `make run` and `make test`.

# The test suite creates a database per test through this server URL.
TEST_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/postgres
# The Redis Cluster pass keeps its per-test databases under a database of its
# own (made here when missing): sqlx's clean-up of older test databases then
# never meets one the first pass is still closing.
TEST_CLUSTER_DB ?= lineup_cluster_tests
TEST_CLUSTER_DATABASE_URL = $(dir $(TEST_DATABASE_URL))$(TEST_CLUSTER_DB)
LINEUP_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/lineup
export LINEUP_DATABASE_URL

# The local Redis Cluster of scripts/redis-cluster.sh: `make test` runs the
# integration and multi-server tests against it as well.
TEST_REDIS_CLUSTER ?= redis://127.0.0.1:7001,redis://127.0.0.1:7002,redis://127.0.0.1:7003

# Tests mostly wait on Redis, PostgreSQL and timers, so more run at once than there are cores.
TEST_THREADS ?= 8

.PHONY: run test services build lint fmt check

## Start Redis and PostgreSQL if needed, migrate, and serve the demo concert on https://localhost:8443.
run: services
	cargo build --release
	./target/release/lineup migrate
	./target/release/lineup serve --demo

## Start Redis and PostgreSQL if needed, then run the whole test suite, each
## benchmark once (criterion's test mode) and a few seconds of each k6 scenario,
## so none of them rots; then the integration and multi-server tests again on a
## local three-primary Redis Cluster (scripts/redis-cluster.sh); then the pages'
## end-to-end tests in headless Chromium (installed with apt where missing, with
## playwright-core from npm), the gate behind real nginx (apt) among them; then
## schemathesis fuzzes every documented operation.
test: services
	DATABASE_URL=$(TEST_DATABASE_URL) cargo test --lib --bins --tests -- --test-threads=$(TEST_THREADS)
	cargo test --benches
	loadtest/smoke.sh
	scripts/redis-cluster.sh
	psql "$(TEST_DATABASE_URL)" -Atc "SELECT 1 FROM pg_database WHERE datname = '$(TEST_CLUSTER_DB)'" | grep -q 1 \
		|| psql "$(TEST_DATABASE_URL)" -qc 'CREATE DATABASE "$(TEST_CLUSTER_DB)"'
	LINEUP_TEST_REDIS_CLUSTER=$(TEST_REDIS_CLUSTER) DATABASE_URL=$(TEST_CLUSTER_DATABASE_URL) cargo test --test api --test multi_server -- --test-threads=$(TEST_THREADS)
	scripts/browser.sh && scripts/nginx.sh && (cd e2e && npm ci --no-audit --no-fund) && e2e/run.sh
	scripts/schemathesis.sh

## Make Redis and PostgreSQL available (installs them with apt where missing).
services:
	scripts/services.sh

build:
	cargo build --release

fmt:
	cargo fmt

## What CI checks besides the tests.
lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

check: lint test
