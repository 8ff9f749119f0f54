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
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$LOUPE_ROOT"
DIST="${1:-${TRUNK_STAGING_DIR:-dist}}"
loupe_wasm_env

# variant NAME [cargo args]: flags from scripts/env.sh (loupe_wasm_rustflags), each in its own
# target directory (different flags for every crate), so Trunk's build and the others stay
# cached; scripts/test.sh runs the relaxed kernels' tests in target/wasm-relaxed.
variant() {
  local name="$1" flags
  flags="$(loupe_wasm_rustflags "$name")"
  shift
  RUSTFLAGS="$flags" cargo build --release --target wasm32-unknown-unknown -p loupe-web "$@" --target-dir "target/wasm-$name"
  mkdir -p "$DIST/$name"
  wasm-bindgen --target web --out-dir "$DIST/$name" --out-name loupe-web "target/wasm-$name/wasm32-unknown-unknown/release/loupe_web.wasm"
  ls -la "$DIST/$name" >&2
}

variant relaxed
variant threads --features threads
variant threads-relaxed --features threads
