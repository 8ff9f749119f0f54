#!/usr/bin/env bash
# Runs every test on a fresh machine of this kind: sets everything up first (idempotent),
# then native tests (parity with the HF fixtures, hooks, interventions, CLI, hostile files
# and requests), a bounded run of each fuzz target, wasm-bindgen
# tests in headless Chromium, the Trunk build of the static site, and the end-to-end test
# of that site in headless Chromium (Playwright specs; screenshots in tests/artifacts/).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==== %s (%s)\n' "$*" "$(date +%T)"; }

step "setup"
scripts/setup.sh all
source scripts/env.sh

step "formatting, lints and the page's type check"
cargo fmt --all -- --check
E2E_BIN=tests/e2e/node_modules/.bin
"$E2E_BIN/eslint" -c tests/e2e/eslint.config.mjs www bench tests/e2e/*.mjs tests/e2e/specs/*.mjs
"$E2E_BIN/prettier" --check --log-level warn www bench tests/e2e
"$E2E_BIN/tsc" -p www

step "native tests"
# In the release profile with overflow checks kept: one native compile of every dependency
# (the threaded tests below share it) instead of a test-profile one with debug info and then
# a release one (3 min against 6.5 + 2.75 on a clean clone). Debug assertions stay off, as in
# the builds people run; with them (candle's inner loops) the analyses suite took 60 s.
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
# One candle thread per test: the harness already runs tests in parallel, and candle's
# spinning thread pool is several times slower when the other cores are busy.
# stock-bench is the benchmark's stock-candle reference (no tests; scripts/bench.sh --stock builds it).
RAYON_NUM_THREADS=1 cargo test --release --workspace --exclude loupe-web --exclude stock-bench

step "native tests of the threaded code paths (what the browser's threaded build runs)"
RAYON_NUM_THREADS=2 cargo test --release -p loupe-interp --features loupe-model/threads --test gradients --test analyses
RAYON_NUM_THREADS=2 cargo test --release -p loupe-model --features threads --lib   # the spinning team
unset CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS

step "fuzz targets, 45 s each (crates/fuzz: model files, SAE files, request JSON)"
scripts/fuzz.sh 45

step "clippy, warnings as errors"
cargo clippy --workspace --all-targets -- -D warnings

step "wasm tests in headless Chromium"
( loupe_wasm_env && LOUPE_EXPECT_SIMD=simd128 cargo test --release --target wasm32-unknown-unknown -p loupe-web )

step "build the static site (dist/)"
scripts/build-web.sh

step "wasm tests of the relaxed-SIMD build's kernels in headless Chromium (dist/relaxed/)"
# Built as dist/relaxed/ is (scripts/build-variants.sh): only loupe-model and the crates above
# it compile again; every dependency is the plain wasm tests'.
( loupe_wasm_env && LOUPE_EXPECT_SIMD=relaxed cargo test --release --target wasm32-unknown-unknown -p loupe-web "${LOUPE_RELAXED_ARGS[@]}" \
    --test gemm --test kernels --test browser )

step "end-to-end tests of dist/ in headless Chromium (Playwright specs, one per view)"
LOUPE_DIST=dist "$E2E_BIN/playwright" test -c tests/e2e/playwright.config.mjs

step "all tests passed"
