#!/usr/bin/env bash
# Sets everything up (idempotent) and serves the explorer with the default model on
# http://127.0.0.1:8080 (Trunk's default port).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh toolchain
scripts/setup.sh model
scripts/setup.sh js   # the page's chart library is bundled at build time
source scripts/env.sh
loupe_wasm_env
exec trunk serve --release "$@"
