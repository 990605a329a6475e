# One target per thing a person wants to do. `make help` lists them.

SHELL := /bin/bash
CARGO ?= cargo
# Property-test cases for `make soak` (the default test run uses each test's own count).
SOAK_CASES ?= 20000
# `make chaos`: seconds of sale per cluster size, and the sizes.
CHAOS_SECONDS ?= 180
CHAOS_NODES ?= 3,5
CHAOS_SEED ?= 1
# Extra stockbench flags for `make bench`, e.g. BENCH_FLAGS=--json.
BENCH_FLAGS ?=
# `make cluster TLS=1`: the local cluster with TLS and client certificates.
TLS ?=
# `make cluster RESTORE=FILE`: a new cluster (empty cluster/data) seeded from a backup.
RESTORE ?=
# Seconds per fuzz target: `make fuzz`, and the short run inside `make test`.
FUZZ_SECONDS ?= 600
FUZZ_TEST_SECONDS ?= 20

.PHONY: help deps build run demo cluster cluster-stop test test-python test-storage fuzz bench bench-failover bench-peers bench-ledger soak chaos lint fmt clean

# Every build selects the whole workspace and all targets (so dev-dependencies count too): then
# features unify the same way each time and RocksDB's C++ (about 18 minutes cold on 2 cores) is
# compiled once, shared by `make run`, `make cluster` and `make test`, not once per selection.
WORKSPACE = --workspace
BIN_DIR = target/debug

help: ## List the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  %-13s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

deps: ## Install missing system packages (C toolchain, libclang)
	@./scripts/ensure-deps.sh

build: deps ## Build everything in release mode
	$(CARGO) build --release --workspace --all-targets

run: deps ## Start one stockd node on ./data (bootstraps itself, loads a demo catalog; metrics on :9100)
	$(CARGO) build $(WORKSPACE) --all-targets
	$(BIN_DIR)/stockd --node-id 1 --listen 127.0.0.1:7001 --data-dir ./data --bootstrap --demo-catalog --metrics-listen 127.0.0.1:9100

demo: ## The flash-sale demo of the ledger alone, in memory (no server)
	$(CARGO) run --release -p stockraft-core --example flash_sale

cluster: deps ## Start a local 3-node cluster (cluster/), wait for a leader, print its status (TLS=1: with TLS and client certificates; RESTORE=FILE: seeded from a backup)
	$(CARGO) build $(WORKSPACE) --all-targets
	TLS=$(TLS) RESTORE=$(RESTORE) cluster/start.sh

cluster-stop: ## Stop the local cluster (cluster/stop.sh --wipe also deletes its data)
	cluster/stop.sh

# The tests under tests/ start stockd, stockctl and stockbench, which no test package depends on,
# so `cargo test` alone would not build them: the build comes first.
test: deps lint ## Run every test: lint, unit, property, storage conformance, cluster and operations tests on real processes, doc tests, benchmark smoke run, the Python client's tests, alert rule tests (promtool), systemd units (systemd-analyze), a short fuzz run
	@log=$$(mktemp); set -o pipefail; \
	{ $(CARGO) build $(WORKSPACE) --all-targets && $(CARGO) test $(WORKSPACE) --benches && $(CARGO) test $(WORKSPACE); } 2>&1 | tee $$log; status=$$?; \
	awk '/^test result:/ { passed += $$4; failed += $$6 } END { printf "%d passed, %d failed\n", passed, failed }' $$log; \
	rm -f $$log; [ $$status -eq 0 ] || exit $$status; \
	scripts/python-client.sh || exit $$?; \
	scripts/monitoring.sh || exit $$?; \
	scripts/systemd.sh || exit $$?; \
	scripts/fuzz.sh $(FUZZ_TEST_SECONDS)

test-python: deps ## The Python client (clients/python) against a real 3-node cluster: stubs generated from proto/, rich errors, reflection, a leader kill (pip installs into clients/python/.venv)
	$(CARGO) build $(WORKSPACE) --all-targets
	scripts/python-client.sh

fuzz: deps ## Fuzz the Raft command decoder, snapshot restore and request validation (FUZZ_SECONDS each; cargo-fuzz on stable)
	scripts/fuzz.sh $(FUZZ_SECONDS)

test-storage: deps ## Storage tests only: openraft's conformance suite and restarts, on RocksDB
	$(CARGO) test $(WORKSPACE) --test conformance --test restart

bench: deps ## Flash-sale benchmarks: the standard set on a fresh local 3-node cluster (release, fsync on); table and plot in target/bench
	$(CARGO) build --release --workspace --bins
	@mkdir -p target/bench
	set -o pipefail; target/release/stockbench --spawn-cluster 3 --plot target/bench/standard.png $(BENCH_FLAGS) standard | tee target/bench/standard.txt

bench-failover: deps ## The hot sale with the leader SIGKILLed 2 s in: how long writes stall, and the sale still sells exactly its stock
	$(CARGO) build --release --workspace --bins
	@mkdir -p target/bench
	set -o pipefail; target/release/stockbench --spawn-cluster 3 --kill-leader-at 2 --plot target/bench/failover.png hot --units 300000 --buyers 256 | tee target/bench/failover.txt

bench-peers: deps ## The hot sale against etcd (3 members, CAS txn) and Redis (Lua, fsync always) and stockraft, medians of 3 with ratios, then the million-unit sale against Redis (installs etcd-server, redis-server)
	$(CARGO) build --release --workspace --bins
	scripts/bench-peers.sh

bench-ledger: deps ## Apply throughput of the ledger alone, in memory (criterion)
	$(CARGO) bench -p stockraft-core --bench apply

soak: deps ## Property tests with many more random command sequences (release build)
	PROPTEST_CASES=$(SOAK_CASES) $(CARGO) test --release -p stockraft-core --test properties

chaos: deps ## Long chaos runs (3 and 5 nodes, CHAOS_SECONDS each, every fault kind many times) and their checkers
	$(CARGO) build $(WORKSPACE) --all-targets
	$(BIN_DIR)/stockchaos --nodes $(CHAOS_NODES) --seconds $(CHAOS_SECONDS) --seed $(CHAOS_SEED) --out target/chaos

# clippy only type-checks, so it never links RocksDB; without ROCKSDB_LIB_DIR the check build
# would still compile RocksDB's C++ a second time (~18 minutes) in its build script. Naming a
# library directory, any directory, makes the build script skip that compile. It gets a target
# directory of its own: the build script's run is shared with the real build, and a run with
# ROCKSDB_LIB_DIR set would make the next build compile RocksDB again (10 minutes, every time).
CLIPPY_TARGET_DIR = $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/clippy
lint: deps ## Check formatting, run clippy with warnings as errors, and buf lint (and buf breaking against the newest v* tag) on proto/
	$(CARGO) fmt --all -- --check
	ROCKSDB_LIB_DIR=$(CURDIR)/target ROCKSDB_STATIC=1 $(CARGO) clippy $(WORKSPACE) --all-targets --target-dir $(CLIPPY_TARGET_DIR) -- -D warnings
	scripts/buf.sh

fmt: ## Format the code
	$(CARGO) fmt --all

clean: ## Remove build output
	$(CARGO) clean
