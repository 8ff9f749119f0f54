// What the browser's WebAssembly engine supports, probed without running anything: used by
// the worker (www/worker.js) to pick a build of the module, and by the benchmark pages.

/** Whether this browser validates a module using a simd128 instruction (every build needs
 *  simd128; the benchmark pages report it beside their numbers). */
export function simd128() {
  // (func (result v128) (i8x16.popcnt (i8x16.splat (i32.const 0))))
  const bytes = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11];
  try {
    return WebAssembly.validate(new Uint8Array(bytes));
  } catch {
    return false;
  }
}

/** Whether this browser validates a module using f32x4.relaxed_madd (0xfd 0x105), the one
 *  relaxed-SIMD instruction the relaxed builds use (scripts/build-variants.sh). */
export function relaxedSimd() {
  // (func (result v128) (f32x4.relaxed_madd (i8x16.splat 0) (i8x16.splat 0) (i8x16.splat 0)))
  const bytes = [
    0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253,
    133, 2, 11,
  ];
  try {
    return WebAssembly.validate(new Uint8Array(bytes));
  } catch {
    return false;
  }
}
