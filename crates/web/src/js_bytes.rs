//! The model file where the page downloaded it: a JavaScript `Uint8Array`, outside the wasm
//! heap. `GgufFile` copies one tensor at a time out of it while the model is built (and again
//! if the f32 gradient model is built later), so the wasm heap holds the weights once instead
//! of the file plus the weights — wasm memory never shrinks, so the transient copy would
//! otherwise stay in the page's footprint for good.

use loupe_model::gguf::ByteSource;

pub struct JsBytes(pub js_sys::Uint8Array);

impl ByteSource for JsBytes {
    fn len(&self) -> usize {
        self.0.length() as usize
    }

    fn read_at(&self, offset: usize, out: &mut [u8]) {
        self.0.subarray(offset as u32, (offset + out.len()) as u32).copy_to(out);
    }
}
