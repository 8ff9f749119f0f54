# Sourced by the build and test scripts: puts the project's toolchain (.toolchain/, made by
# scripts/setup.sh) on PATH and, for wasm builds, chooses rustup's wasm32 target or the
# Debian rustc-web fallback with -Z build-std (../shared/TOOLCHAIN.md §1).
LOUPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TC="$LOUPE_ROOT/.toolchain"
export PATH="$TC/bin:$PATH"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"

# Call before any wasm build (cargo/trunk/wasm-bindgen-test); native builds must not.
# build-std builds `test` too, for builds as for tests: cargo makes every crate depend on each
# std crate it builds, so with `test` only in test builds (its default) `cargo test` and
# `trunk build` compiled every dependency twice (3 min on a clean clone); this way they share.
loupe_wasm_env() {
  export RUSTUP_TOOLCHAIN=nightly
  export CARGO_UNSTABLE_PROFILE_RUSTFLAGS=true  # LOUPE_RELAXED_ARGS
  case "$(cat "$TC/wasm-mode" 2>/dev/null)" in
    rustup) export CARGO_UNSTABLE_BUILD_STD=std,panic_abort,test ;;
    debian)
      local D="$TC/debian"
      export LD_LIBRARY_PATH="$D/usr/lib/x86_64-linux-gnu:$D/usr/lib/llvm-22/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      export RUSTC="$D/usr/bin/rustc" RUSTDOC="$D/usr/bin/rustdoc" RUSTC_BOOTSTRAP=1
      export CARGO_UNSTABLE_BUILD_STD=std,panic_abort,test
      export PATH="$PATH:$D/usr/lib/llvm-22/bin"
      export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld
      ;;
    *) echo "no wasm toolchain: run scripts/setup.sh first" >&2; return 1 ;;
  esac
}

# RUSTFLAGS of the threaded wasm builds (scripts/build-variants.sh): atomics and shared memory
# change every crate (std too, build-std), so they have their own target directory. The plain
# build's flags are .cargo/config.toml's.
loupe_threads_rustflags() {
  local base='-C target-feature=+simd128,-reference-types --cfg getrandom_backend="wasm_js"'
  # Shared memory as wasm-bindgen-rayon's README asks (std is rebuilt with atomics: build-std).
  local threads='-C target-feature=+atomics,+bulk-memory,+mutable-globals -C link-arg=--shared-memory -C link-arg=--max-memory=4294967296 -C link-arg=--import-memory -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base'
  echo "$base $threads"
}

# Cargo arguments of the relaxed-SIMD builds: relaxed SIMD for the project's own crates only
# (their f32 kernels, gemm.rs `lanes::madd`, are the only code that uses it), through cargo's
# profile-rustflags (unstable; loupe_wasm_env allows it). All of them, not just loupe-model:
# a generic or inline kernel is compiled in the crate that calls it, and compiled without the
# feature it calls relaxed_madd out of line (30× slower, tests/gemm_speed.rs). Every
# dependency is the plain (or threaded) build's, shared in the same target directory.
LOUPE_RELAXED_ARGS=()
for crate in loupe-model loupe-interp loupe-web; do
  LOUPE_RELAXED_ARGS+=(--config "profile.release.package.$crate.rustflags=[\"-C\", \"target-feature=+relaxed-simd\"]")
done
unset crate
