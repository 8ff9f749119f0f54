#!/usr/bin/env bash
# The benchmark behind docs/BENCHMARKS.md: builds the native CLI and the site, then runs
# bench/bench.mjs (wasm in headless Chromium beside native, same run, ratios printed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release -p loupe-cli
scripts/build-web.sh >/dev/null
node bench/bench.mjs "$@"
