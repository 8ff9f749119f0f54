#!/usr/bin/env bash
# The threaded variant of the wasm module, next to the single-threaded one Trunk builds:
#   <dist>/threads/loupe-web.js + loupe-web_bg.wasm (+ wasm-bindgen-rayon's worker snippet)
# The worker (www/worker.js) loads it when the page is cross-origin isolated (COOP/COEP
# headers, so SharedArrayBuffer exists) and falls back to the single-threaded build
# elsewhere: a module with shared memory cannot even be instantiated without them.
#
# Shared memory needs std rebuilt with atomics (we always build std: -Z build-std) and the
# linker flags wasm-bindgen's threads support expects (wasm-bindgen-rayon's README).
# Usage: scripts/build-threads.sh [DIST]   (default dist; Trunk's post-build hook passes
# its staging directory).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$LOUPE_ROOT"
OUT="${1:-${TRUNK_STAGING_DIR:-dist}}/threads"
loupe_wasm_env
export RUSTFLAGS='-C target-feature=+simd128,-reference-types,+atomics,+bulk-memory,+mutable-globals --cfg getrandom_backend="wasm_js" -C link-arg=--shared-memory -C link-arg=--max-memory=4294967296 -C link-arg=--import-memory -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base'
# Its own target directory: different flags for every crate, and Trunk's build stays cached.
cargo build --release --target wasm32-unknown-unknown -p loupe-web --features threads --target-dir target/wasm-threads
mkdir -p "$OUT"
wasm-bindgen --target web --out-dir "$OUT" --out-name loupe-web target/wasm-threads/wasm32-unknown-unknown/release/loupe_web.wasm
ls -la "$OUT" >&2
