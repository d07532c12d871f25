//! woothee-js, the JavaScript implementation of woothee, called from wasm: the edge's
//! User-Agent parser (see `crate::engine::device::UaFields` for why it is not woothee-rust here).
//! esbuild bundles the npm package `woothee` (pinned in package-lock.json) into the worker.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::js_sys::{Object, Reflect};

use crate::visit::user_agent::UaFields;

#[wasm_bindgen(module = "woothee")]
extern "C" {
    #[wasm_bindgen(js_name = parse, catch)]
    fn woothee_parse(user_agent: &str) -> Result<JsValue, JsValue>;
}

fn field(object: &Object, name: &str) -> String {
    Reflect::get(object, &JsValue::from_str(name))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// Parses a User-Agent with woothee-js; `None` if it throws or answers nothing usable.
pub(crate) fn parse(user_agent: &str) -> Option<UaFields> {
    let result = woothee_parse(user_agent).ok()?;
    let object = result.dyn_ref::<Object>()?;
    Some(UaFields {
        name: field(object, "name"),
        category: field(object, "category"),
        os: field(object, "os"),
    })
}
