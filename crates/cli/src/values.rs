//! Parsers for the flag values that are not plain numbers or text. Enum-valued flags go
//! through serde: the accepted names are the request types' own wire names (one list, in
//! loupe-interp), and a wrong value's error lists them.

use loupe_interp::attribution::{Baseline, Method};
use loupe_interp::target::TokenRef;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::str::FromStr;

/// A unit variant by its wire name: `--site head_z` is `PatchSite::HeadZ`, exactly as the
/// page's JSON request would say it.
pub fn serde_enum<T: DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|e| e.to_string())
}

/// `--method`: an attribution method's wire name, or `ig`, the command line's shorthand.
pub fn method(s: &str) -> Result<Method, String> {
    if s == "ig" {
        return Ok(Method::IntegratedGradients);
    }
    serde_enum(s)
}

/// A token (TOK): its exact text (" Paris"), or `#ID`.
pub fn token(s: &str) -> Result<TokenRef, Infallible> {
    Ok(match s.strip_prefix('#').and_then(|n| n.parse().ok()) {
        Some(id) => TokenRef::Id(id),
        None => TokenRef::Text(s.to_string()),
    })
}

/// `--baseline zero|TOK`: the zero embedding, or a token's embedding at every position.
pub fn baseline(s: &str) -> Result<Baseline, Infallible> {
    Ok(if s == "zero" { Baseline::Zero } else { Baseline::Token { token: token(s)? } })
}

/// `LAYER.INDEX`, e.g. `23.3` (`ablate --head`, `--neuron`).
pub fn layer_index(s: &str) -> Result<(usize, usize), String> {
    let (layer, index) = s.split_once('.').ok_or("takes LAYER.INDEX, e.g. 23.3")?;
    Ok((trimmed(layer).map_err(|e| format!("layer: {e}"))?, trimmed(index).map_err(|e| format!("index: {e}"))?))
}

/// `--clamp FEATURE=VALUE`, e.g. `123=5`.
pub fn clamp(s: &str) -> Result<(usize, f32), String> {
    let (feature, value) = s.split_once('=').ok_or("takes FEATURE=VALUE, e.g. 123=5")?;
    Ok((trimmed(feature).map_err(|e| format!("feature: {e}"))?, trimmed(value).map_err(|e| format!("value: {e}"))?))
}

/// An item of a comma-separated list, spaces around it allowed (`--layers '3, 12'`).
pub fn trimmed<T: FromStr>(s: &str) -> Result<T, T::Err> {
    s.trim().parse()
}
