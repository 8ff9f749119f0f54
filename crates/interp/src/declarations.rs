//! TypeScript declarations of every analysis's request, partial and result, generated from
//! the Rust types (ts-rs, which follows their serde attributes) — so the page's JS is
//! type-checked against the wire format instead of a hand-kept copy of it.
//!
//! The output is committed as www/types/analyses.d.ts; tests/declarations.rs fails when it
//! is stale (`LOUPE_BLESS=1 cargo test -p loupe-interp --test declarations` rewrites it).

use crate::registry::{self, Analysis, Stepped, Visitor};
use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};
use ts_rs::{Config, TypeVisitor, TS};

/// The whole declaration file: every wire type, then `Calls` and `Jobs`, which map each
/// analysis name to its types (what `loupe.call` / `loupe.start` are typed with).
pub fn typescript() -> String {
    let mut v = Collect { cfg: Config::new().with_large_int("number"), ..Collect::default() };
    registry::visit(&mut v);
    // The worker's own commands that take a Rust request: generate and steerGenerate.
    v.visit::<crate::run::GenerateRequest>();
    let mut out = String::from(HEADER);
    for decl in v.decls.values() {
        out.push_str(decl);
        out.push_str("\n\n");
    }
    out.push_str(ACTIVATIONS);
    out.push_str("/** The one-shot analyses: `loupe.call(name, request)` resolves with `result`. */\nexport interface Calls {\n");
    out.push_str(&v.calls);
    out.push_str("}\n\n/** The stepped analyses: `loupe.start(name, request, {onProgress})` reports `partial` after\n *  each step and resolves with `result` (with `stopped: true` when stopped early). */\nexport interface Jobs {\n");
    out.push_str(&v.jobs);
    out.push_str("}\n\nexport type Analyses = Calls & Jobs;\n");
    out
}

const HEADER: &str = "// Generated from the Rust types by crates/interp/src/declarations.rs (ts-rs): do not edit.
// Regenerate: LOUPE_BLESS=1 cargo test -p loupe-interp --test declarations

";

/// What `Analysis::TENSORS` fields hold in the page (crates/web/src/convert.rs).
const ACTIVATIONS: &str = "/** Activations by hook name, as the page receives them beside a result. */
export type Activations = { [hook: string]: { shape: Array<number>, data: Float32Array } };

";

#[derive(Default)]
struct Collect {
    cfg: Config,
    seen: HashSet<TypeId>,
    /// name → declaration, so the file's order does not depend on visiting order.
    decls: BTreeMap<String, String>,
    calls: String,
    jobs: String,
}

impl Collect {
    fn declare<T: TS + 'static>(&mut self) -> String {
        self.visit::<T>();
        T::name(&self.cfg)
    }
}

impl TypeVisitor for Collect {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        // Only types of ours have an output path; std and primitive types are inlined.
        if T::output_path().is_some() {
            let docs = T::docs().unwrap_or_default();
            self.decls.insert(T::name(&self.cfg), format!("{docs}export {}", T::decl(&self.cfg)));
            T::visit_dependencies(self);
        }
        T::visit_generics(self);
    }
}

impl Visitor for Collect {
    fn call<A: Analysis>(&mut self) {
        let request = self.declare::<A::Request>();
        let mut result = self.declare::<A::Output>();
        for field in A::TENSORS {
            result = format!("{result} & {{ {field}: Activations }}");
        }
        self.calls.push_str(&format!("  {}: {{ request: {request}, result: {result} }};\n", A::NAME));
    }

    fn job<A: Stepped>(&mut self) {
        let request = self.declare::<A::Request>();
        let partial = self.declare::<A::Partial>();
        let result = self.declare::<A::Output>();
        self.jobs.push_str(&format!(
            "  {}: {{ request: {request}, partial: {partial}, result: {result} & {{ stopped: boolean }} }};\n",
            A::NAME
        ));
    }
}
