//! Any bytes as a request: the first byte picks an analysis of the registry, the rest is its
//! request JSON, run on the tiny model (with an SAE loaded) as `loupe call` and the page run it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loupe_interp::session::Session;

thread_local! {
    static SESSION: Session = loupe_fuzz::tiny_session_with_sae();
    static NAMES: Vec<&'static str> = loupe_fuzz::names();
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, json)) = data.split_first() else { return };
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(json) else { return };
    SESSION.with(|s| NAMES.with(|names| loupe_fuzz::call(s, names[pick as usize % names.len()], request)));
});
