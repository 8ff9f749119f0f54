//! Rust ↔ JS conversions: serde for structure, typed arrays for tensors.

use candle_core::DType;
use loupe_interp::ActivationCache;
use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::prelude::*;

pub type JsResult<T> = Result<T, JsError>;

/// Plain objects (not `Map`s) so page code can use `result.top[0].token`.
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> JsResult<JsValue> {
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&ser).map_err(|e| JsError::new(&format!("could not convert the result: {e}")))
}

pub fn from_js<T: DeserializeOwned>(value: JsValue) -> JsResult<T> {
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&format!("bad request: {e}")))
}

/// `{name: {shape: number[], data: Float32Array}}` in forward order.
pub fn activations_to_js(cache: &ActivationCache) -> JsResult<JsValue> {
    let out = js_sys::Object::new();
    for (point, tensor) in &cache.entries {
        let shape: Vec<usize> = tensor.dims().to_vec();
        let data = tensor
            .to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| JsError::new(&format!("{point}: {e}")))?;
        let entry = js_sys::Object::new();
        set(&entry, "shape", &to_js(&shape)?)?;
        set(&entry, "data", &js_sys::Float32Array::from(data.as_slice()).into())?;
        set(&out, &point.to_string(), &entry.into())?;
    }
    Ok(out.into())
}

fn set(target: &js_sys::Object, key: &str, value: &JsValue) -> JsResult<()> {
    js_sys::Reflect::set(target, &key.into(), value).map(|_| ()).map_err(|_| JsError::new("could not build the result object"))
}

pub fn js_error_message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|err| String::from(err.message())).or_else(|| e.as_string()).unwrap_or_else(|| format!("{e:?}"))
}
