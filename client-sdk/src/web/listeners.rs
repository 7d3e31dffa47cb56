//! `client.on(type, fn)`: the event half of the JS API. A listener that throws is reported
//! on the console and does not stop the others (one broken UI widget must not stall sync).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::Function;
use wasm_bindgen::prelude::*;

use super::js::error;

pub struct Listeners {
    types: &'static [&'static str],
    next: Cell<u32>,
    list: RefCell<Vec<(&'static str, u32, Function)>>,
}

impl Listeners {
    pub fn new(types: &'static [&'static str]) -> Rc<Self> {
        Rc::new(Self { types, next: Cell::new(0), list: RefCell::new(Vec::new()) })
    }

    /// Adds a listener; returns the function that removes it.
    pub fn on(self: &Rc<Self>, ty: &str, listener: Function) -> Result<Function, JsValue> {
        let Some(ty) = self.types.iter().find(|t| **t == ty) else {
            return Err(error(format!(
                "unknown event type {ty:?}; the types are {}",
                self.types.join(", ")
            )));
        };
        let id = self.next.get();
        self.next.set(id + 1);
        self.list.borrow_mut().push((ty, id, listener));
        let weak: Weak<Self> = Rc::downgrade(self);
        let off = Closure::<dyn FnMut()>::new(move || {
            if let Some(me) = weak.upgrade() {
                me.list.borrow_mut().retain(|(_, i, _)| *i != id);
            }
        });
        Ok(off.into_js_value().unchecked_into())
    }

    /// Calls every listener of `ty` with `arg`. Never call it while holding a borrow of
    /// client state: listeners call back into the client.
    pub fn emit(&self, ty: &str, arg: &JsValue) {
        let targets: Vec<Function> = self
            .list
            .borrow()
            .iter()
            .filter(|(t, _, _)| *t == ty)
            .map(|(_, _, f)| f.clone())
            .collect();
        for f in targets {
            if let Err(e) = f.call1(&JsValue::NULL, arg) {
                web_sys::console::error_2(&format!("edgedesk: a {ty:?} listener threw").into(), &e);
            }
        }
    }

    pub fn clear(&self) {
        self.list.borrow_mut().clear();
    }
}
