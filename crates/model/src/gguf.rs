//! A GGUF file: candle's bounds-checked header parser over the bytes, plus typed metadata
//! getters whose errors name the missing key.
//!
//! The bytes stay wherever their [`ByteSource`] keeps them: in a `Vec` natively, in the
//! page's JavaScript `ArrayBuffer` in the browser. Each tensor is copied out only when the
//! model is built from it, so the wasm heap never holds the whole file beside the model
//! (one copy of the weights, not two). Every tensor's extent is checked against the file's
//! length first, so a truncated file is caught by a length check, never by a panic.

use crate::error::{LoupeError, Result};
use candle_core::quantized::gguf_file::{Content, TensorInfo, Value};
use candle_core::quantized::{ggml_file::qtensor_from_ggml, QTensor};
use candle_core::Device;
use std::io::{BufReader, Read, Seek, SeekFrom};

/// Random access to a file's bytes.
pub trait ByteSource {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copies bytes `offset..offset + out.len()` into `out`; the caller keeps that in bounds.
    fn read_at(&self, offset: usize, out: &mut [u8]);
}

impl ByteSource for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn read_at(&self, offset: usize, out: &mut [u8]) {
        out.copy_from_slice(&self[offset..offset + out.len()]);
    }
}

/// `Read + Seek` over a [`ByteSource`], for candle's header parser (behind a `BufReader`,
/// since it reads field by field).
struct SourceReader<'a> {
    source: &'a dyn ByteSource,
    pos: u64,
}

impl Read for SourceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let len = self.source.len() as u64;
        let n = buf.len().min(len.saturating_sub(self.pos) as usize);
        self.source.read_at(self.pos as usize, &mut buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SourceReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => (self.source.len() as u64).checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// A boxed source: shareable between threads natively; in the browser a JavaScript array,
/// which belongs to its one thread.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxedSource = Box<dyn ByteSource + Send + Sync>;
#[cfg(target_arch = "wasm32")]
pub type BoxedSource = Box<dyn ByteSource>;

pub struct GgufFile {
    source: BoxedSource,
    content: Content,
}

impl GgufFile {
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::from_source(Box::new(bytes))
    }

    pub fn from_source(source: BoxedSource) -> Result<Self> {
        let len = source.len();
        let mut magic = [0u8; 4];
        if len >= 4 {
            source.read_at(0, &mut magic);
        }
        if len < 4 || &magic != b"GGUF" {
            return Err(LoupeError::InvalidModel(format!("not a GGUF file ({len} bytes; GGUF files start with the bytes 'GGUF')")));
        }
        // Sizes, counts, offsets and the memory the metadata will take, before candle's
        // parser allocates anything (crate::gguf_check says what it would get wrong).
        crate::gguf_check::check_header(&*source)?;
        let content = Content::read(&mut BufReader::with_capacity(1 << 16, SourceReader { source: &*source, pos: 0 }))
            .map_err(|e| LoupeError::InvalidModel(format!("corrupt or truncated GGUF header ({len} bytes): {e}")))?;
        let file = Self { source, content };
        file.check_tensor_extents()?;
        Ok(file)
    }

    pub fn read_path(path: &std::path::Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| LoupeError::InvalidModel(format!("cannot read {}: {e}", path.display())))?;
        Self::from_bytes(bytes)
    }

    /// Every tensor must lie inside the file: this is what tells a truncated download.
    fn check_tensor_extents(&self) -> Result<()> {
        for (name, info) in &self.content.tensor_infos {
            let (start, len) = self.extent(info)?;
            let end = start.saturating_add(len);
            if end > self.source.len() {
                return Err(LoupeError::InvalidModel(format!(
                    "file is truncated: tensor '{name}' ends at byte {end} but the file has {} bytes",
                    self.source.len()
                )));
            }
        }
        Ok(())
    }

    /// Where a tensor's bytes lie, with checked arithmetic (check_header has already bounded
    /// every shape; this keeps the type system honest about it).
    fn extent(&self, info: &TensorInfo) -> Result<(usize, usize)> {
        let too_big = || LoupeError::InvalidModel(format!("tensor of shape {:?} does not fit in memory", info.shape.dims()));
        let elems = info.shape.dims().iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(too_big)?;
        let block = info.ggml_dtype.block_size();
        if !elems.is_multiple_of(block) {
            return Err(LoupeError::InvalidModel(format!("tensor of {elems} elements is not a whole number of {block}-element blocks")));
        }
        let len = (elems / block).checked_mul(info.ggml_dtype.type_size()).ok_or_else(too_big)?;
        let start = self.content.tensor_data_offset.checked_add(info.offset).and_then(|s| usize::try_from(s).ok()).ok_or_else(too_big)?;
        Ok((start, len))
    }

    pub fn tensor_info(&self, name: &str) -> Result<&TensorInfo> {
        self.content.tensor_infos.get(name).ok_or_else(|| LoupeError::InvalidModel(format!("missing tensor '{name}'")))
    }

    /// A copy of the raw (still quantized) bytes of a tensor, and its info.
    pub fn tensor_bytes(&self, name: &str) -> Result<(&TensorInfo, Vec<u8>)> {
        let info = self.tensor_info(name)?;
        let (start, len) = self.extent(info)?;
        let mut raw = vec![0u8; len];
        self.source.read_at(start, &mut raw);
        Ok((info, raw))
    }

    pub fn qtensor(&self, name: &str) -> Result<QTensor> {
        let (info, raw) = self.tensor_bytes(name)?;
        Ok(qtensor_from_ggml(info.ggml_dtype, &raw, info.shape.dims().to_vec(), &Device::Cpu)?)
    }

    pub fn metadata(&self, key: &str) -> Result<&Value> {
        self.content.metadata.get(key).ok_or_else(|| LoupeError::InvalidModel(format!("missing metadata key '{key}'")))
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
        self.metadata_array(key)?.iter().map(|v| v.to_string().map(|s| s.as_str()).map_err(|e| wrong_type(key, e))).collect()
    }

    pub fn len_bytes(&self) -> usize {
        self.source.len()
    }
}

fn wrong_type(key: &str, e: candle_core::Error) -> LoupeError {
    LoupeError::InvalidModel(format!("metadata '{key}' has the wrong type: {e}"))
}
