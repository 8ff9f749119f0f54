#!/usr/bin/env bash
# Bundles the chart library the page imports (www/vendor/d3.entry.js: the d3 modules it uses,
# installed by `scripts/setup.sh js` at the versions in tests/e2e/package-lock.json) into one
# minified ES module, <site>/www/vendor/d3.js, so the page never fetches a library at run time.
# Runs as a Trunk post_build hook (into the staging dir); or name the site folder.
# Usage: scripts/bundle-js.sh [SITE_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SITE="${1:-${TRUNK_STAGING_DIR:?run as a Trunk hook or name the site folder}}"
MODULES="$ROOT/tests/e2e/node_modules"
[ -x "$MODULES/.bin/esbuild" ] || { echo "bundle-js: esbuild missing; run scripts/setup.sh js" >&2; exit 1; }
NODE_PATH="$MODULES" "$MODULES/.bin/esbuild" "$ROOT/www/vendor/d3.entry.js" \
  --bundle --format=esm --minify --target=es2020 --legal-comments=eof --log-level=warning \
  --outfile="$SITE/www/vendor/d3.js"
