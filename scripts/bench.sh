#!/usr/bin/env bash
# The benchmark behind docs/BENCHMARKS.md: builds the native CLI and the site, then runs
# bench/bench.mjs (wasm in headless Chromium beside native, same run, ratios printed).
# With --stock it also builds the stock-candle reference (crates/stock-bench: native binary and
# wasm-bindgen output in target/stock-bench-web/); with --onnx it installs onnxruntime-web
# (bench/package.json) if needed. The ONNX files themselves come from scripts/export_onnx.py
# (and --last-only). --torch needs no build: bench.mjs runs scripts/bench_torch.py with
# $LOUPE_REF_PYTHON (default /tmp/ref/bin/python) if that exists.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release -p loupe-cli
scripts/build-web.sh >/dev/null
case " $* " in *" --stock "*)
  cargo build --release -p stock-bench
  (loupe_wasm_env && cargo build --release --target wasm32-unknown-unknown -p stock-bench --lib)
  wasm-bindgen --target web --out-dir target/stock-bench-web target/wasm32-unknown-unknown/release/stock_bench.wasm
  ;;
esac
case " $* " in *" --onnx"*)
  [ -f bench/node_modules/onnxruntime-web/package.json ] || npm ci --prefix bench --no-audit --no-fund
  ;;
esac
node bench/bench.mjs "$@"
