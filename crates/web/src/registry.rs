//! The page's side of the registry (`loupe_interp::registry`): `Loupe.call(name, request)`
//! and `Loupe.start(name, request)` find the analysis by its wire name and convert its
//! request and result — one generic implementation for every analysis, none written out.

use crate::convert::{activations_to_js, from_js, to_js, JsResult};
use loupe_interp::registry::{self, Analysis, Progress, Stepped, Visitor};
use loupe_interp::Session;
use wasm_bindgen::prelude::*;

/// Runs the one-shot analysis `name`: its result as a plain object, with any activations
/// attached as `{name: {shape, data: Float32Array}}` under the analysis's field names.
pub fn call(session: &Session, name: &str, request: JsValue) -> JsResult<JsValue> {
    struct Call<'a> {
        session: &'a Session,
        name: &'a str,
        request: Option<JsValue>,
        out: Option<JsResult<JsValue>>,
    }
    impl Visitor for Call<'_> {
        fn call<A: Analysis>(&mut self) {
            if A::NAME != self.name || self.out.is_some() {
                return;
            }
            let request = self.request.take().unwrap_or(JsValue::UNDEFINED);
            self.out = Some(run::<A>(self.session, request));
        }
    }
    let mut v = Call { session, name, request: Some(request), out: None };
    registry::visit(&mut v);
    v.out.unwrap_or_else(|| Err(unknown(name, "call")))
}

fn run<A: Analysis>(session: &Session, request: JsValue) -> JsResult<JsValue> {
    let request: A::Request = from_js(request)?;
    let output = A::run(session, &request)?;
    let result = to_js(&output)?;
    for (field, cache) in A::tensors(&output) {
        js_sys::Reflect::set(&result, &field.into(), &activations_to_js(cache)?)
            .map_err(|_| JsError::new("could not build the result object"))?;
    }
    Ok(result)
}

/// A stepped job without its type: what `Job` drives.
pub trait ErasedJob {
    fn step(&mut self, session: &Session) -> JsResult<bool>;
    fn progress(&self) -> Progress;
    fn partial(&self, session: &Session) -> JsResult<JsValue>;
    fn finish(&self, session: &Session) -> JsResult<JsValue>;
}

struct Running<A: Stepped>(A::Job);

impl<A: Stepped> ErasedJob for Running<A> {
    fn step(&mut self, session: &Session) -> JsResult<bool> {
        Ok(A::step(session, &mut self.0)?)
    }
    fn progress(&self) -> Progress {
        A::progress(&self.0)
    }
    fn partial(&self, session: &Session) -> JsResult<JsValue> {
        to_js(&A::partial(session, &self.0)?)
    }
    fn finish(&self, session: &Session) -> JsResult<JsValue> {
        to_js(&A::finish(session, &self.0)?)
    }
}

/// Starts the stepped analysis `name`.
pub fn start(session: &Session, name: &str, request: JsValue) -> JsResult<Box<dyn ErasedJob>> {
    struct Start<'a> {
        session: &'a Session,
        name: &'a str,
        request: Option<JsValue>,
        out: Option<JsResult<Box<dyn ErasedJob>>>,
    }
    impl Visitor for Start<'_> {
        fn job<A: Stepped>(&mut self) {
            if A::NAME != self.name || self.out.is_some() {
                return;
            }
            let request = self.request.take().unwrap_or(JsValue::UNDEFINED);
            self.out = Some(from_js::<A::Request>(request).and_then(|req| {
                let job = A::start(self.session, &req)?;
                Ok(Box::new(Running::<A>(job)) as Box<dyn ErasedJob>)
            }));
        }
    }
    let mut v = Start { session, name, request: Some(request), out: None };
    registry::visit(&mut v);
    v.out.unwrap_or_else(|| Err(unknown(name, "job")))
}

fn unknown(name: &str, kind: &str) -> JsError {
    if let Some(e) = registry::catalogue().into_iter().find(|e| e.name == name) {
        let how = if e.kind == "job" { "loupe.start" } else { "loupe.call" };
        return JsError::new(&format!("{name:?} is a {}: run it with {how}", e.kind));
    }
    let names: Vec<&str> = registry::catalogue().into_iter().filter(|e| e.kind == kind).map(|e| e.name).collect();
    JsError::new(&format!("unknown analysis {name:?}: the {kind}s are {}", names.join(", ")))
}
