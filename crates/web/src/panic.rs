//! Panics must reach the UI as messages (egui's `has_panicked`): the hook forwards the
//! panic text to a JS callback before the wasm instance traps, after which the worker is
//! replaced by the page.

use std::cell::RefCell;
use wasm_bindgen::prelude::*;

thread_local! {
    static REPORTER: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Registers `reporter(message)`, called with the panic message on any panic.
#[wasm_bindgen]
pub fn set_panic_reporter(reporter: js_sys::Function) {
    REPORTER.with(|r| *r.borrow_mut() = Some(reporter));
    install();
}

pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            console_error_panic_hook::hook(info);
            let message = format!("internal error (please report): {info}");
            REPORTER.with(|r| {
                if let Some(f) = r.borrow().as_ref() {
                    let _ = f.call1(&JsValue::NULL, &JsValue::from_str(&message));
                }
            });
        }));
    });
}

/// Deliberately panics: lets tests check that a panic reaches the page as a message.
#[wasm_bindgen]
pub fn debug_panic(message: &str) {
    panic!("{message}");
}
