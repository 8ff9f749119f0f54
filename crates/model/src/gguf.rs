//! A GGUF file held in memory: candle's bounds-checked header parser over the bytes, plus
//! typed metadata getters whose errors name the missing key.
//!
//! Tensors are built straight from slices of the file buffer (one copy, into the QTensor),
//! so a truncated file is caught by a length check, never by a panic.

use crate::error::{LoupeError, Result};
use candle_core::quantized::gguf_file::{Content, TensorInfo, Value};
use candle_core::quantized::{ggml_file::qtensor_from_ggml, QTensor};
use candle_core::Device;
use std::io::Cursor;

pub struct GgufFile {
    bytes: Vec<u8>,
    content: Content,
}

impl GgufFile {
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        if bytes.len() < 4 || &bytes[..4] != b"GGUF" {
            return Err(LoupeError::InvalidModel(format!(
                "not a GGUF file ({} bytes; GGUF files start with the bytes 'GGUF')",
                bytes.len()
            )));
        }
        let content = Content::read(&mut Cursor::new(&bytes[..]))
            .map_err(|e| {
                LoupeError::InvalidModel(format!("corrupt or truncated GGUF header ({} bytes): {e}", bytes.len()))
            })?;
        let file = Self { bytes, content };
        file.check_tensor_extents()?;
        Ok(file)
    }

    pub fn read_path(path: &std::path::Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| {
            LoupeError::InvalidModel(format!("cannot read {}: {e}", path.display()))
        })?;
        Self::from_bytes(bytes)
    }

    /// Every tensor must lie inside the file: this is what tells a truncated download.
    fn check_tensor_extents(&self) -> Result<()> {
        for (name, info) in &self.content.tensor_infos {
            let (start, len) = self.extent(info)?;
            let end = start.saturating_add(len);
            if end > self.bytes.len() {
                return Err(LoupeError::InvalidModel(format!(
                    "file is truncated: tensor '{name}' ends at byte {end} but the file has {} bytes",
                    self.bytes.len()
                )));
            }
        }
        Ok(())
    }

    fn extent(&self, info: &TensorInfo) -> Result<(usize, usize)> {
        let elems = info.shape.elem_count();
        let block = info.ggml_dtype.block_size();
        if !elems.is_multiple_of(block) {
            return Err(LoupeError::InvalidModel(format!(
                "tensor of {elems} elements is not a whole number of {block}-element blocks"
            )));
        }
        let len = elems / block * info.ggml_dtype.type_size();
        let start = self.content.tensor_data_offset.saturating_add(info.offset) as usize;
        Ok((start, len))
    }

    pub fn tensor_info(&self, name: &str) -> Result<&TensorInfo> {
        self.content
            .tensor_infos
            .get(name)
            .ok_or_else(|| LoupeError::InvalidModel(format!("missing tensor '{name}'")))
    }

    /// The raw (still quantized) bytes of a tensor, and its info.
    pub fn tensor_bytes(&self, name: &str) -> Result<(&TensorInfo, &[u8])> {
        let info = self.tensor_info(name)?;
        let (start, len) = self.extent(info)?;
        Ok((info, &self.bytes[start..start + len]))
    }

    pub fn qtensor(&self, name: &str) -> Result<QTensor> {
        let (info, raw) = self.tensor_bytes(name)?;
        Ok(qtensor_from_ggml(info.ggml_dtype, raw, info.shape.dims().to_vec(), &Device::Cpu)?)
    }

    pub fn metadata(&self, key: &str) -> Result<&Value> {
        self.content
            .metadata
            .get(key)
            .ok_or_else(|| LoupeError::InvalidModel(format!("missing metadata key '{key}'")))
    }

    pub fn metadata_str(&self, key: &str) -> Result<&str> {
        Ok(self.metadata(key)?.to_string().map_err(|e| wrong_type(key, e))?.as_str())
    }

    pub fn metadata_u64(&self, key: &str) -> Result<u64> {
        let v = self.metadata(key)?;
        // GGUF writers differ in integer widths; accept any non-negative integer.
        let n = match v {
            Value::U8(x) => *x as u64,
            Value::U16(x) => *x as u64,
            Value::U32(x) => *x as u64,
            Value::U64(x) => *x,
            Value::I8(x) if *x >= 0 => *x as u64,
            Value::I16(x) if *x >= 0 => *x as u64,
            Value::I32(x) if *x >= 0 => *x as u64,
            Value::I64(x) if *x >= 0 => *x as u64,
            _ => return Err(LoupeError::InvalidModel(format!("metadata '{key}' is not a count"))),
        };
        Ok(n)
    }

    pub fn metadata_f64(&self, key: &str) -> Result<f64> {
        match self.metadata(key)? {
            Value::F32(x) => Ok(*x as f64),
            Value::F64(x) => Ok(*x),
            _ => Err(LoupeError::InvalidModel(format!("metadata '{key}' is not a float"))),
        }
    }

    pub fn metadata_bool(&self, key: &str) -> Option<bool> {
        self.content.metadata.get(key).and_then(|v| v.to_bool().ok())
    }

    pub fn metadata_array(&self, key: &str) -> Result<&Vec<Value>> {
        self.metadata(key)?.to_vec().map_err(|e| wrong_type(key, e))
    }

    pub fn metadata_array_len(&self, key: &str) -> Result<usize> {
        Ok(self.metadata_array(key)?.len())
    }

    pub fn metadata_strings(&self, key: &str) -> Result<Vec<&str>> {
        self.metadata_array(key)?
            .iter()
            .map(|v| v.to_string().map(|s| s.as_str()).map_err(|e| wrong_type(key, e)))
            .collect()
    }

    pub fn len_bytes(&self) -> usize {
        self.bytes.len()
    }
}

fn wrong_type(key: &str, e: candle_core::Error) -> LoupeError {
    LoupeError::InvalidModel(format!("metadata '{key}' has the wrong type: {e}"))
}
