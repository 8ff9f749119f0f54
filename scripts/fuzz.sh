#!/usr/bin/env bash
# Builds the fuzz targets (crates/fuzz: libFuzzer via libfuzzer-sys, on stable Rust: the
# sanitizer-coverage flags cargo-fuzz would pass, no address sanitizer) and runs each for
# SECONDS (default 45) on a scratch copy of its committed seed corpus. Fails on any crash,
# panic, abort, leak of time past -timeout, or out-of-memory (-rss_limit_mb); the input that
# did it is left in target/fuzz/artifacts/TARGET/ (turn it into a regression test).
# The random seed is fixed (FUZZ_SEED, default 1) so that the test command's short run is
# repeatable; a campaign should set its own.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (targets: gguf sae request)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-45}"
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=(gguf sae request); fi
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros (as cargo-fuzz does).
HOST="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --manifest-path crates/fuzz/Cargo.toml --target-dir target/fuzz --target "$HOST" --bin gguf --bin sae --bin request
for t in "${TARGETS[@]}"; do
  work="target/fuzz/corpus/$t"; artifacts="target/fuzz/artifacts/$t/"
  rm -rf "$work" && mkdir -p "$work" "$artifacts" && cp -r "crates/fuzz/corpus/$t/." "$work/"
  echo "== fuzz $t for ${SECONDS_EACH}s"
  # -timeout: one input may take 20 s (the tiny model runs any request in well under 1 s with
  # the fuzz bounds); -rss_limit_mb: 2 GB; -max_len: 256 kB (the tiny model is ~70 kB).
  log="target/fuzz/$t.log"
  set +e
  "target/fuzz/$HOST/release/$t" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 -max_len=262144 \
    -seed="${FUZZ_SEED:-1}" -print_final_stats=1 -artifact_prefix="$artifacts" "$work" > "$log" 2>&1
  status=$?
  set -e
  grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|INFO: seed corpus)" "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "$log"
    echo "fuzz $t failed (exit $status); the input is in $artifacts" >&2
    exit "$status"
  fi
done
