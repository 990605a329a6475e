# One target per thing a person wants to do. `make help` lists them.

SHELL := /bin/bash
CARGO ?= cargo
# Property-test cases for `make soak` (the default test run uses each test's own count).
SOAK_CASES ?= 20000

.PHONY: help deps build run test test-storage bench soak lint fmt clean

# The storage crate links RocksDB, whose C++ takes 15 to 25 minutes to build cold on 2 cores
# (and again for clippy's check build). Until the server (issue 3) needs it in every run, its
# tests have their own target and `make test` leaves it out.
NOT_STORAGE = --workspace --exclude stockraft-storage

help: ## List the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  %-13s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

deps: ## Install missing system packages (C toolchain, libclang)
	@./scripts/ensure-deps.sh

build: deps ## Build everything in release mode
	$(CARGO) build --release --workspace --all-targets

run: deps ## Run the main job: the flash-sale demo of the stock ledger
	$(CARGO) run --release -p stockraft-core --example flash_sale

test: deps lint ## Run the tests (all but test-storage): lint, unit, property, flash sale, snapshots, API, doc tests, benchmark smoke run
	@log=$$(mktemp); set -o pipefail; \
	{ $(CARGO) test $(NOT_STORAGE) --benches && $(CARGO) test $(NOT_STORAGE); } 2>&1 | tee $$log; status=$$?; \
	awk '/^test result:/ { passed += $$4; failed += $$6 } END { printf "%d passed, %d failed\n", passed, failed }' $$log; \
	rm -f $$log; exit $$status

test-storage: deps ## Storage tests: openraft's conformance suite and restarts, on RocksDB (slow cold build)
	$(CARGO) test -p stockraft-storage

bench: deps ## Measure apply throughput of the ledger (criterion)
	$(CARGO) bench -p stockraft-core --bench apply

soak: deps ## Property tests with many more random command sequences (release build)
	PROPTEST_CASES=$(SOAK_CASES) $(CARGO) test --release -p stockraft-core --test properties

lint: ## Check formatting and run clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy $(NOT_STORAGE) --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

clean: ## Remove build output
	$(CARGO) clean
