#!/usr/bin/env bash
# Builds the static site into dist/ (wasm + page + default model). Any static file server
# can then serve dist/ with no special headers.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$LOUPE_ROOT"
scripts/setup.sh js   # esbuild and the d3 modules the chart bundle is built from
loupe_wasm_env
trunk build --release "$@"
ls -la dist >&2
