#!/usr/bin/env bash
# The other builds of the wasm module, next to the single-threaded simd128 one Trunk builds
# (<dist>/loupe-web.js + loupe-web_bg.wasm):
#   <dist>/relaxed/          + relaxed SIMD: f32x4.relaxed_madd, one fused multiply-add where
#                              the CPU has FMA (V8 emits vfmadd on x64), in the f32 products
#   <dist>/threads/          threads (+ wasm-bindgen-rayon's worker snippet)
#   <dist>/threads-relaxed/  both
# The worker (www/worker.js) takes the first that works of: threads-relaxed, threads (only on
# a cross-origin isolated page: COOP/COEP headers, so SharedArrayBuffer exists; a module with
# shared memory cannot even be instantiated without them), relaxed (only where the browser
# validates a relaxed-SIMD module: Chromium ≥ 114), then the plain build, which runs anywhere.
# Usage: scripts/build-variants.sh [DIST]   (default dist; Trunk's post-build hook passes
# its staging directory).
#
# Two target directories, so each dependency compiles twice, not four times: target/ (the
# plain build's, Trunk's and the wasm tests') also holds the relaxed build, which differs only
# in loupe-model (scripts/env.sh, LOUPE_RELAXED_ARGS); target/wasm-threads holds both threaded
# builds (atomics change every crate).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$LOUPE_ROOT"
DIST="${1:-${TRUNK_STAGING_DIR:-dist}}"
loupe_wasm_env

# variant NAME TARGET_DIR [cargo args]: builds, then binds into $DIST/NAME at once (the next
# build in the same target directory replaces target/…/release/loupe_web.wasm).
variant() {
  local name="$1" dir="$2"
  shift 2
  cargo build --release --target wasm32-unknown-unknown -p loupe-web "$@" --target-dir "$dir"
  mkdir -p "$DIST/$name"
  wasm-bindgen --target web --out-dir "$DIST/$name" --out-name loupe-web "$dir/wasm32-unknown-unknown/release/loupe_web.wasm"
  ls -la "$DIST/$name" >&2
}

variant relaxed target "${LOUPE_RELAXED_ARGS[@]}"
export RUSTFLAGS="$(loupe_threads_rustflags)"
variant threads target/wasm-threads --features threads
variant threads-relaxed target/wasm-threads --features threads "${LOUPE_RELAXED_ARGS[@]}"
