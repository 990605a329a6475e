# One target per thing a person wants to do. `make help` lists them.

CARGO ?= cargo
# Property-test cases for `make soak` (the default test run uses each test's own count).
SOAK_CASES ?= 20000

.PHONY: help deps build run test bench soak lint fmt clean

help: ## List the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  %-8s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

deps: ## Install missing system packages (C toolchain, libclang)
	@./scripts/ensure-deps.sh

build: deps ## Build everything in release mode
	$(CARGO) build --release --workspace --all-targets

run: deps ## Run the main job: the flash-sale demo of the stock ledger
	$(CARGO) run --release -p stockraft-core --example flash_sale

test: deps lint ## Run every test: lint, unit, property, flash-sale, snapshot, doc tests, benchmark smoke run
	$(CARGO) test --workspace
	$(CARGO) test --workspace --benches

bench: deps ## Measure apply throughput of the ledger (criterion)
	$(CARGO) bench -p stockraft-core --bench apply

soak: deps ## Property tests with many more random command sequences (release build)
	PROPTEST_CASES=$(SOAK_CASES) $(CARGO) test --release -p stockraft-core --test properties

lint: ## Check formatting and run clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

clean: ## Remove build output
	$(CARGO) clean
