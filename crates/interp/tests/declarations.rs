//! The committed TypeScript declarations (www/types/analyses.d.ts) are the ones the Rust
//! types generate: a request or result changed without regenerating them fails here, and the
//! page's type check (`tsc -p www`) then checks the JS against the new shapes.

use std::path::PathBuf;

#[test]
fn the_committed_declarations_are_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../www/types/analyses.d.ts");
    let generated = loupe_interp::declarations::typescript();
    if std::env::var_os("LOUPE_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("writing www/types/analyses.d.ts");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "www/types/analyses.d.ts is stale: regenerate it with \
         `LOUPE_BLESS=1 cargo test -p loupe-interp --test declarations` and commit it"
    );
}

#[test]
fn every_analysis_is_declared_with_its_request_and_result() {
    let ts = loupe_interp::declarations::typescript();
    for entry in loupe_interp::registry::catalogue() {
        let line = ts.lines().find(|l| l.starts_with(&format!("  {}: {{ request: ", entry.name)));
        let line = line.unwrap_or_else(|| panic!("{} is not in Calls or Jobs", entry.name));
        assert!(line.contains("result: "), "{line}");
        assert_eq!(line.contains("partial: "), entry.kind == "job", "{line}");
    }
    // Defaults on the Rust side are optional fields on the JS side; required ones are not.
    assert!(
        ts.contains("export type NeuronRequest = { prompt: string, layer: number, neuron: number, topK?: number, prependBos?: boolean, }"),
        "{ts}"
    );
}
