//! The tokenizer, rebuilt from GGUF metadata (`tokenizer.ggml.*`) so the model file alone
//! is enough: byte-level BPE as in GPT-2 (Radford et al. 2019), with SmolLM's pre-tokenizer.
//!
//! SmolLM2's own `tokenizer.json` splits every digit on its own before the GPT-2 regex
//! (`Digits(individual_digits=true)` then `ByteLevel`); llama.cpp calls this pre-tokenizer
//! "smollm". Control tokens (type 3, e.g. `<|im_start|>`) are matched as special tokens.

use crate::error::{LoupeError, Result};
use crate::gguf::GgufFile;
use serde::Serialize;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

/// GGUF `tokenizer.ggml.token_type` value of control tokens.
const TOKEN_TYPE_CONTROL: i32 = 3;

/// One token of a prompt: its id and the exact bytes it stands for, as text.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TokenInfo {
    pub id: u32,
    pub text: String,
}

pub struct LoupeTokenizer {
    inner: Tokenizer,
    /// Each id's bytes (byte-level BPE tokens can be parts of a UTF-8 character).
    token_bytes: Vec<Vec<u8>>,
    pub bos_id: Option<u32>,
    pub eos_id: Option<u32>,
    pub add_bos_default: bool,
}

impl LoupeTokenizer {
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let model = file.metadata_str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(LoupeError::Unsupported(format!("tokenizer model '{model}' (only byte-level BPE, 'gpt2', is supported)")));
        }
        let tokens = file.metadata_strings("tokenizer.ggml.tokens")?;
        let merges = file
            .metadata_strings("tokenizer.ggml.merges")?
            .into_iter()
            .map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| LoupeError::InvalidModel(format!("malformed merge '{m}'")))
            })
            .collect::<Result<Vec<_>>>()?;
        let types: Vec<i32> = match file.metadata_array("tokenizer.ggml.token_type") {
            Ok(v) => v.iter().map(|t| t.to_i32().unwrap_or(1)).collect(),
            Err(_) => vec![1; tokens.len()],
        };
        let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.to_string(), i as u32)).collect();
        let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(|e| LoupeError::Tokenizer(e.to_string()))?;
        let mut inner = Tokenizer::new(bpe);
        let byte_level = ByteLevel::new(false, true, true);
        let pre: PreTokenizerWrapper = match file.metadata_str("tokenizer.ggml.pre").unwrap_or("gpt2") {
            "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into(),
            _ => byte_level.into(),
        };
        inner.with_pre_tokenizer(Some(pre));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        let specials: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, &t)| t == TOKEN_TYPE_CONTROL)
            .map(|(tok, _)| AddedToken::from(tok.to_string(), true))
            .collect();
        inner.add_special_tokens(&specials);

        let unicode_to_byte = gpt2_unicode_to_byte();
        let token_bytes = tokens
            .iter()
            .zip(&types)
            .map(|(tok, &t)| {
                if t == TOKEN_TYPE_CONTROL {
                    return tok.as_bytes().to_vec();
                }
                tok.chars().map(|c| unicode_to_byte(c).unwrap_or(b'?')).collect()
            })
            .collect();
        let id = |key: &str| file.metadata_u64(key).ok().map(|v| v as u32);
        Ok(Self {
            inner,
            token_bytes,
            bos_id: id("tokenizer.ggml.bos_token_id"),
            eos_id: id("tokenizer.ggml.eos_token_id"),
            add_bos_default: file.metadata_bool("tokenizer.ggml.add_bos_token").unwrap_or(false),
        })
    }

    /// Token ids exactly as the reference tokenizer gives them; BOS only when asked
    /// (SmolLM2 adds none by default).
    pub fn encode(&self, text: &str, prepend_bos: bool) -> Result<Vec<u32>> {
        let enc = self.inner.encode(text, false).map_err(|e| LoupeError::Tokenizer(e.to_string()))?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        if prepend_bos {
            ids.push(self.bos_id.ok_or_else(|| LoupeError::BadInput("this model's tokenizer has no BOS token".into()))?);
        }
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&id| self.bytes(id).iter().copied()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    pub fn bytes(&self, id: u32) -> &[u8] {
        self.token_bytes.get(id as usize).map(|b| b.as_slice()).unwrap_or(&[])
    }

    /// A token's own text; bytes that are only part of a UTF-8 character show as `\xNN`,
    /// so token boundaries stay exact.
    pub fn token_text(&self, id: u32) -> String {
        let bytes = self.bytes(id);
        match std::str::from_utf8(bytes) {
            Ok(s) => s.to_string(),
            Err(_) => bytes.utf8_chunks().fold(String::new(), |mut out, chunk| {
                out.push_str(chunk.valid());
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02X}"));
                }
                out
            }),
        }
    }

    pub fn token_infos(&self, ids: &[u32]) -> Vec<TokenInfo> {
        ids.iter().map(|&id| TokenInfo { id, text: self.token_text(id) }).collect()
    }

    pub fn vocab_size(&self) -> usize {
        self.token_bytes.len()
    }
}

/// The inverse of GPT-2's `bytes_to_unicode` (openai/gpt-2 `encoder.py`): printable bytes
/// map to themselves, the other 68 to U+0100 onwards, in byte order.
fn gpt2_unicode_to_byte() -> impl Fn(char) -> Option<u8> {
    let mut table = std::collections::HashMap::with_capacity(256);
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
    let mut next = 256u32;
    for b in 0..=255u8 {
        let c = if printable(b) {
            b as u32
        } else {
            next += 1;
            next - 1
        };
        if let Some(c) = char::from_u32(c) {
            table.insert(c, b);
        }
    }
    move |c| table.get(&c).copied()
}
