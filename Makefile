# Two commands do everything on a fresh machine (see README.md):
#   make dev    install what is missing, build, seed local KV/D1 from rules/, serve on :8787
#   make test   install what is missing, build, run every test (native and end-to-end)
#   make deploy to a Cloudflare account (README, "Deploying"); DRY_RUN=1 without one
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export WRANGLER_SEND_METRICS := false
export NO_UPDATE_NOTIFIER := 1

PORT ?= 8787
WRANGLER := node_modules/.bin/wrangler
ROUTER := target/debug/router
WASM := build/index_bg.wasm

.PHONY: dev test deploy setup toolchain deps build cli native-builds seed test-native test-e2e contract contract-tools lint token bench bench-breakdown bench-profile screenshot fuzz load clean

dev: build cli .dev.vars
	scripts/seed.sh
	@echo "Serving on http://127.0.0.1:$(PORT). Preview token: make token"
	$(WRANGLER) dev --local --ip 127.0.0.1 --port $(PORT)

# The wasm build ends in long single-threaded steps (LTO codegen, wasm-opt); the native
# builds run beside it (separate target directories: target/debug vs target/release and
# target/wasm32-unknown-unknown), so the second core is not idle.
test: setup
	$(MAKE) -j2 build native-builds
	$(MAKE) lint
	$(MAKE) test-native
	$(MAKE) deploy DRY_RUN=1
	$(MAKE) test-e2e
	scripts/fuzz.sh --smoke

native-builds: cli
	cargo test --quiet --no-run --lib --bins --tests

setup: toolchain deps

toolchain: .tools/wasm.env

.tools/wasm.env: scripts/toolchain.sh Cargo.lock
	scripts/toolchain.sh

deps: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@command -v node >/dev/null || { echo "node (>= 20.3) is required: apt-get install nodejs npm" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# worker-build's bundle becomes build/rust.js; the module entry is ours (src/edge/entry.mjs:
# visitors go straight to one wasm call, everything else to the worker crate).
build: setup
	source .tools/wasm.env && .tools/bin/worker-build --release
	mv build/index.js build/rust.js
	cp src/edge/entry.mjs build/index.js
	@printf 'wasm: %s bytes raw, %s bytes gzipped\n' "$$(wc -c < $(WASM))" "$$(gzip -9c $(WASM) | wc -c)"

cli:
	cargo build --quiet --bin router

# Deploying (README, "Deploying to Cloudflare"): scripts/deploy/main.mjs with the wrangler of
# package-lock.json. DRY_RUN=1 needs no account and runs offline (in make test); it reuses a
# build newer than the sources, a real deploy always builds. MMDB=file seeds geo:mmdb;
# WORKER_URL=https://… where the worker answers (default: the workers.dev URL wrangler
# prints); HANDLES="a b" (default: every directory of rules/); PUSH=0 pushes no rules.
dry_run := $(filter 1 yes true,$(DRY_RUN))
deploy: cli deps $(if $(dry_run),$(WASM),build)
	node scripts/deploy/main.mjs $(if $(dry_run),--dry-run) $(if $(MMDB),--mmdb '$(MMDB)') \
	  $(if $(WORKER_URL),--url '$(WORKER_URL)') $(if $(HANDLES),--handles '$(HANDLES)') $(if $(filter 0 no false,$(PUSH)),--no-push)

# The wasm build, when there is none or the sources are newer (`build` always rebuilds).
$(WASM): $(shell find src -type f) Cargo.toml Cargo.lock
	$(MAKE) build

.dev.vars:
	scripts/dev-vars.sh .dev.vars

seed: cli deps .dev.vars
	scripts/seed.sh

test-native:
	cargo test --quiet --lib --bins --tests

# Two files at a time (each has its own worker, port and state): 4.7 instead of 8.2
# minutes on two cores, since much of each file waits on the network and on TTLs.
test-e2e: deps cli contract-tools
	scripts/need.sh chromium:chromium
	CI_REQUIRE_BROWSER=1 CI_REQUIRE_SCHEMATHESIS=1 node --test --test-concurrency=$${E2E_CONCURRENCY:-2} tests/e2e/

# The pinned Schemathesis (tests/contract/requirements.txt) in .tools/venv; a no-op when
# it is there already.
contract-tools:
	scripts/schemathesis.sh

# The contract alone: Schemathesis over every operation of the served /v2/openapi.json
# (tests/e2e/contract.test.mjs; also part of `make test`). CONTRACT_SEED, CONTRACT_MAX_EXAMPLES;
# the report is also written to tests/e2e/artifacts/contract-report.txt.
contract: build cli contract-tools
	CI_REQUIRE_SCHEMATHESIS=1 node --test tests/e2e/contract.test.mjs

# Fuzzing: every target FUZZ_SECONDS (default 60) with AddressSanitizer; corpora kept.
fuzz:
	scripts/fuzz.sh

# Load test (not part of `make test`): exits 1 if an invariant fails. LOAD_SECONDS=60
load: build cli
	scripts/need.sh wrk:wrk
	node bench/load.mjs

# Refreshes the README's pictures: the preview page (the matrix-audit browser test) and the
# console's views at 390 px (the UC-08 and UC-07 console flows).
screenshot: build cli
	UPDATE_SCREENSHOT=1 CI_REQUIRE_BROWSER=1 node --test tests/e2e/browser-matrix-audit.test.mjs \
	  tests/e2e/console-uc08.test.mjs tests/e2e/console-uc07.test.mjs

# Lints, also in `make test` right after the builds (about 4 minutes on two cores the
# first time, while clippy checks the dependencies; seconds after): cargo fmt --check and
# clippy -D warnings natively over every target and for wasm32 over the library (src/edge
# is wasm-only). unwrap/expect/indexing/panic are denied in Cargo.toml and allowed in
# tests by clippy.toml. scripts/lint.sh runs every step and fails if any failed.
# Which clippy lints wasm32: a rustup toolchain with the wasm32 target and clippy whenever
# there is one, even if the build took the Debian path (clippy needs no .tools/wasm.env);
# else Debian's rustc-web under .tools/wasm.env with its rust-web-clippy of the same
# version (scripts/toolchain.sh installs it). Neither: that step is skipped, saying what to
# install, and the native lints still decide (a rustup proxy standing in for Debian's
# missing cargo-clippy would fail asking for rust-src). WASM_TOOLCHAIN=debian forces the
# Debian path, as for scripts/toolchain.sh.
lint: toolchain
	scripts/lint.sh

# Benchmarks (not part of `make test`): prints every figure and the budgets, writes
# bench/results.json and the change against the committed one. BENCH_ONLY=size,core,floor,cold
bench: build cli
	scripts/need.sh wrk:wrk
	node bench/bench.mjs

# Where a request's time goes: one request shape at a time (bench/breakdown.mjs), and a
# V8 CPU profile of the worker under the bench mix (bench/profile.mjs; writes
# bench/profile.cpuprofile for Chrome DevTools).
bench-breakdown: build cli
	scripts/need.sh wrk:wrk
	node bench/breakdown.mjs

# The profile's build keeps the wasm's function names (worker-build --profiling, not
# stripped), so its hottest functions read as Rust paths; same optimisation as `build`.
bench-profile: setup cli
	source .tools/wasm.env && CARGO_PROFILE_RELEASE_STRIP=false .tools/bin/worker-build --profiling
	mv build/index.js build/rust.js
	cp src/edge/entry.mjs build/index.js
	scripts/need.sh wrk:wrk
	node bench/profile.mjs

token: cli .dev.vars
	@$(ROUTER) token preview --handle $${HANDLE:-gharart} --ttl $${TTL:-3600}

clean:
	rm -rf build target/wasm32-unknown-unknown .wrangler
