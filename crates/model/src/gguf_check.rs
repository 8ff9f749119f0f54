//! Validation of a GGUF header before anything is allocated from it.
//!
//! candle's parser bounds each string and array by the bytes left, but three things in a
//! crafted header still go wrong in it or just after it: a metadata array becomes one
//! `Value` per element (32 bytes natively, whatever the element's size on disk: a 4.5 MB
//! array of bytes took 150 MB); tensor dimensions are multiplied without overflow checks
//! and cast with `as usize` (truncated on wasm32); and `general.alignment = 0` divides by
//! zero. This pass walks the same layout (ggml's docs/gguf.md) reading nothing but fixed-size
//! fields, and rejects such a file with an error naming the field and its value, so that
//! candle's parser then only ever sees headers it handles.

use crate::error::{LoupeError, Result};
use crate::gguf::ByteSource;
use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::GgmlDType;

/// What the parsed metadata may take in memory, all arrays and strings together. Real
/// tokenizers need far less: a 262k-token vocabulary with its scores and token types is
/// about 30 MB of `Value`s.
pub const METADATA_MEMORY_LIMIT: u64 = 128 << 20;
/// ggml's GGML_MAX_DIMS, as candle's parser.
const MAX_DIMS: u32 = 4;
/// candle's own limit on nested arrays.
const MAX_DEPTH: usize = 64;
/// ggml's default, used when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u64 = 32;
/// How much of a key or tensor name an error message quotes.
const NAME_PREVIEW: u64 = 80;

/// Checks the header of the GGUF bytes in `source` (whose magic the caller has checked).
pub(crate) fn check_header(source: &dyn ByteSource) -> Result<()> {
    let mut r = Reader { source, pos: 4, wide: true };
    let version = r.u32("version")?;
    if !(1..=3).contains(&version) {
        return Err(invalid(format!("GGUF version {version} (Loupe reads versions 1 to 3)")));
    }
    r.wide = version >= 2;
    let tensor_count = r.length("tensor count")?;
    let kv_count = r.length("metadata count")?;
    // Each entry takes at least this many bytes, so neither count can exceed what is left.
    let (min_kv, min_tensor) = (r.prefix() + 4 + 1, r.prefix() + 4 + 4 + 8);
    if kv_count.saturating_mul(min_kv).saturating_add(tensor_count.saturating_mul(min_tensor)) > r.remaining() {
        return Err(invalid(format!(
            "the header declares {tensor_count} tensors and {kv_count} metadata entries, more than its {} bytes can hold",
            r.len()
        )));
    }

    let mut memory = Cost::default();
    let mut alignment = DEFAULT_ALIGNMENT;
    for _ in 0..kv_count {
        let key = r.name("metadata key")?;
        let ty = r.u32(&format!("the type of metadata '{key}'"))?;
        let (cost, scalar) = r.value(ty, &key, 0)?;
        memory.add(cost, &key);
        if key == "general.alignment" {
            alignment = scalar.unwrap_or(DEFAULT_ALIGNMENT);
        }
    }
    if memory.total > METADATA_MEMORY_LIMIT {
        return Err(invalid(format!(
            "its metadata would take {} MB in memory (limit {} MB); the largest entry is '{}' at {} MB",
            memory.total >> 20,
            METADATA_MEMORY_LIMIT >> 20,
            memory.largest_key,
            memory.largest >> 20
        )));
    }
    if alignment == 0 || !alignment.is_power_of_two() || alignment > 1 << 20 {
        return Err(invalid(format!("metadata 'general.alignment' is {alignment} (a power of two up to 2^20)")));
    }

    let mut extents = Vec::new();
    for _ in 0..tensor_count {
        let name = r.name("tensor name")?;
        extents.push((r.tensor_info(&name)?, name));
    }
    let data_start = r.pos.div_ceil(alignment).checked_mul(alignment).ok_or_else(|| invalid("the tensor data offset overflows"))?;
    for ((offset, bytes), name) in extents {
        let end = data_start.checked_add(offset).and_then(|s| s.checked_add(bytes));
        match end {
            Some(end) if end <= r.len() => {}
            _ => {
                return Err(invalid(format!(
                    "file is truncated: tensor '{name}' ({bytes} bytes at offset {offset}) ends past the file's {} bytes",
                    r.len()
                )))
            }
        }
    }
    Ok(())
}

fn invalid(message: impl Into<String>) -> LoupeError {
    LoupeError::InvalidModel(message.into())
}

/// The memory the parsed metadata will take, and its largest entry (for the message).
#[derive(Default)]
struct Cost {
    total: u64,
    largest: u64,
    largest_key: String,
}

impl Cost {
    fn add(&mut self, cost: u64, key: &str) {
        self.total = self.total.saturating_add(cost);
        if cost > self.largest {
            self.largest = cost;
            self.largest_key = key.to_string();
        }
    }
}

struct Reader<'a> {
    source: &'a dyn ByteSource,
    pos: u64,
    /// Versions 2 and 3 use 64-bit lengths and dimensions, version 1 32-bit ones.
    wide: bool,
}

impl Reader<'_> {
    fn len(&self) -> u64 {
        self.source.len() as u64
    }

    fn remaining(&self) -> u64 {
        self.len().saturating_sub(self.pos)
    }

    fn prefix(&self) -> u64 {
        if self.wide {
            8
        } else {
            4
        }
    }

    fn take(&mut self, n: u64, what: &str) -> Result<u64> {
        if n > self.remaining() {
            return Err(invalid(format!(
                "corrupt or truncated GGUF header: {what} needs {n} bytes at offset {}, only {} remain",
                self.pos,
                self.remaining()
            )));
        }
        let at = self.pos;
        self.pos += n;
        Ok(at)
    }

    fn fixed<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let at = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        self.source.read_at(at as usize, &mut out);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.fixed(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.fixed(what)?))
    }

    fn length(&mut self, what: &str) -> Result<u64> {
        if self.wide {
            self.u64(what)
        } else {
            self.u32(what).map(u64::from)
        }
    }

    /// A string's first bytes (lossy UTF-8), skipping the rest.
    fn name(&mut self, what: &str) -> Result<String> {
        let len = self.length(what)?;
        let at = self.take(len, what)?;
        let mut preview = vec![0u8; len.min(NAME_PREVIEW) as usize];
        self.source.read_at(at as usize, &mut preview);
        let mut name = String::from_utf8_lossy(&preview).into_owned();
        if len > NAME_PREVIEW {
            name.push('…');
        }
        Ok(name)
    }

    /// Skips one metadata value of type `ty`, returning what candle's parsed copy of it will
    /// take in memory and, for an integer, its value.
    fn value(&mut self, ty: u32, key: &str, depth: usize) -> Result<(u64, Option<u64>)> {
        const VALUE: u64 = std::mem::size_of::<Value>() as u64;
        if depth > MAX_DEPTH {
            return Err(invalid(format!("metadata '{key}' nests arrays more than {MAX_DEPTH} deep")));
        }
        let what = format!("metadata '{key}'");
        let scalar = |r: &mut Self, size: u64| -> Result<Option<u64>> {
            let at = r.take(size, &what)?;
            let mut b = [0u8; 8];
            r.source.read_at(at as usize, &mut b[..size as usize]);
            Ok(Some(u64::from_le_bytes(b)))
        };
        match ty {
            // u8, i8 / u16, i16 / u32, i32: the widths candle reads general.alignment from (it
            // ignores a 64-bit one). Signed values count as their bits, so a negative
            // alignment is refused rather than silently replaced.
            0 | 1 => Ok((VALUE, scalar(self, 1)?)),
            2 | 3 => Ok((VALUE, scalar(self, 2)?)),
            4 | 5 => Ok((VALUE, scalar(self, 4)?)),
            7 => self.take(1, &what).map(|_| (VALUE, None)),
            10 | 11 => self.take(8, &what).map(|_| (VALUE, None)),
            6 => self.take(4, &what).map(|_| (VALUE, None)),
            12 => self.take(8, &what).map(|_| (VALUE, None)),
            8 => {
                let len = self.length(&what)?;
                self.take(len, &what)?;
                Ok((VALUE + len, None))
            }
            9 => {
                let item = self.u32(&what)?;
                let n = self.length(&what)?;
                let mut cost = VALUE.saturating_add(n.saturating_mul(VALUE));
                match fixed_size(item) {
                    Some(size) => {
                        let bytes = n.checked_mul(size).ok_or_else(|| invalid(format!("{what}: an array of {n} values overflows")))?;
                        self.take(bytes, &what)?;
                    }
                    None => {
                        for _ in 0..n {
                            // Each element's own cost beyond its Value, which `cost` counted.
                            let (c, _) = self.value(item, key, depth + 1)?;
                            cost = cost.saturating_add(c - VALUE);
                            if cost > METADATA_MEMORY_LIMIT {
                                return Err(invalid(format!(
                                    "{what}: an array of {n} values would take over {} MB in memory",
                                    METADATA_MEMORY_LIMIT >> 20
                                )));
                            }
                        }
                    }
                }
                Ok((cost, None))
            }
            other => Err(invalid(format!("{what} has an unknown value type {other}"))),
        }
    }

    /// One tensor's info: (offset within the data section, bytes), after checking that its
    /// shape is non-empty, its element count fits this machine's memory, and its type is known.
    fn tensor_info(&mut self, name: &str) -> Result<(u64, u64)> {
        let n_dims = self.u32(&format!("tensor '{name}'"))?;
        if !(1..=MAX_DIMS).contains(&n_dims) {
            return Err(invalid(format!("tensor '{name}' has {n_dims} dimensions (1 to {MAX_DIMS})")));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(self.length(&format!("tensor '{name}'"))?);
        }
        if dims.contains(&0) {
            return Err(invalid(format!("tensor '{name}' has shape {dims:?}: every dimension must be at least 1")));
        }
        let elements = dims
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .filter(|&n| usize::try_from(n).is_ok())
            .ok_or_else(|| invalid(format!("tensor '{name}' has shape {dims:?}: too many elements for this machine")))?;
        let type_id = self.u32(&format!("tensor '{name}'"))?;
        let dtype = ggml_type(type_id).ok_or_else(|| invalid(format!("tensor '{name}' has an unknown type {type_id}")))?;
        let block = dtype.block_size() as u64;
        if !elements.is_multiple_of(block) {
            return Err(invalid(format!(
                "tensor '{name}' has {elements} elements, not a whole number of {block}-element {dtype:?} blocks"
            )));
        }
        let bytes = (elements / block)
            .checked_mul(dtype.type_size() as u64)
            .ok_or_else(|| invalid(format!("tensor '{name}' has shape {dims:?}: its size overflows")))?;
        let offset = self.u64(&format!("tensor '{name}'"))?;
        Ok((offset, bytes))
    }
}

/// ggml's type ids, as candle's (private) `GgmlDType::from_u32` maps them.
fn ggml_type(id: u32) -> Option<GgmlDType> {
    use GgmlDType::*;
    Some(match id {
        0 => F32,
        1 => F16,
        2 => Q4_0,
        3 => Q4_1,
        6 => Q5_0,
        7 => Q5_1,
        8 => Q8_0,
        9 => Q8_1,
        10 => Q2K,
        11 => Q3K,
        12 => Q4K,
        13 => Q5K,
        14 => Q6K,
        15 => Q8K,
        30 => BF16,
        _ => return None,
    })
}

/// The size on disk of one value of a fixed-size type, None for strings and arrays.
fn fixed_size(ty: u32) -> Option<u64> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}
