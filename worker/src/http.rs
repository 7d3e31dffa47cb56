//! JSON responses for refusals and failures.

use worker::{Response, ResponseBuilder};

use crate::request::Refusal;

pub fn refusal(r: &Refusal) -> Response {
    ResponseBuilder::new()
        .with_status(r.status)
        .with_header("content-type", "application/json")
        .map(|b| b.fixed(r.to_json().into_bytes()))
        .unwrap_or_else(|_| ResponseBuilder::new().with_status(r.status).empty())
}

pub fn json(body: &serde_json::Value) -> Response {
    ResponseBuilder::new()
        .with_header("content-type", "application/json")
        .map(|b| b.fixed(body.to_string().into_bytes()))
        .unwrap_or_else(|_| ResponseBuilder::new().with_status(500).empty())
}

/// Last resort for an error the handlers did not turn into a refusal. Logs the error (never
/// request bodies) and answers 500 so the caller is not left hanging.
pub fn internal_error(e: worker::Error) -> Response {
    worker::console_error!("internal error: {e}");
    refusal(&Refusal::new(500, "internal", "internal error; retry later"))
}
