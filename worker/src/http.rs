//! JSON responses for refusals and failures, and the CORS headers of browser-facing endpoints.

use worker::{Request, Response, ResponseBuilder};

use crate::request::Refusal;

/// The refusal as JSON `{"error": code, "message": text}`. The code is also sent as the
/// `x-edgedesk-error` header: WebSocket clients often see only the headers of a refused
/// handshake (tungstenite keeps just the body bytes that arrived with them).
pub fn refusal(r: &Refusal) -> Response {
    refusal_with_body(r, r.to_json())
}

/// A refusal whose body says more than code and message (e.g. every error of an invalid
/// workspace configuration); `body` should hold `error` and `message` as well.
pub fn refusal_with_body(r: &Refusal, body: String) -> Response {
    let mut headers = vec![("content-type", "application/json"), ("x-edgedesk-error", r.code)];
    if r.status == 401 {
        // RFC 6750 §3: a 401 names the scheme the client should authenticate with.
        headers.push(("www-authenticate", "Bearer realm=\"edgedesk\""));
    }
    headers
        .into_iter()
        .try_fold(ResponseBuilder::new().with_status(r.status), |b, (k, v)| b.with_header(k, v))
        .map(|b| b.fixed(body.into_bytes()))
        .unwrap_or_else(|_| ResponseBuilder::new().with_status(r.status).empty())
}

pub fn json(body: &serde_json::Value) -> Response {
    json_with(body, &[])
}

/// `200` JSON with extra headers (e.g. an `ETag`).
pub fn json_with(body: &serde_json::Value, headers: &[(&str, &str)]) -> Response {
    std::iter::once(("content-type", "application/json"))
        .chain(headers.iter().copied())
        .try_fold(ResponseBuilder::new(), |b, (k, v)| b.with_header(k, v))
        .map(|b| b.fixed(body.to_string().into_bytes()))
        .unwrap_or_else(|_| ResponseBuilder::new().with_status(500).empty())
}

/// Lets any origin call the endpoint from a browser. Safe because nothing rides on cookies:
/// the caller must hold the site key or a token, which the browser does not add by itself.
pub fn cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-methods", "GET, POST, PUT, OPTIONS"),
        ("access-control-allow-headers", "authorization, content-type"),
        ("access-control-max-age", "86400"),
    ] {
        // Only fails for invalid header names or immutable headers; ours are neither.
        let _ = headers.set(name, value);
    }
    response
}

/// A JSON answer from a Durable Object copied into a fresh response: the object's has
/// immutable headers, and CORS goes on this one.
pub async fn fresh_json(mut answer: Response) -> Result<Response, Refusal> {
    let status = answer.status_code();
    let mut response = Response::from_bytes(answer.bytes().await?)?.with_status(status);
    response.headers_mut().set("content-type", "application/json")?;
    if let Some(code) = answer.headers().get("x-edgedesk-error")? {
        response.headers_mut().set("x-edgedesk-error", &code)?;
    }
    Ok(response)
}

/// `204 No Content`, the answer to a CORS preflight.
pub fn no_content() -> Response {
    ResponseBuilder::new().with_status(204).empty()
}

/// Last resort for an error the handlers did not turn into a refusal. Logs the error (never
/// request bodies) and answers 500 so the caller is not left hanging.
pub fn internal_error(e: worker::Error) -> Response {
    refusal(&e.into())
}

/// A platform failure inside a handler that answers with [`Refusal`]s: a 500, logged by its
/// text (never a body or a token: `worker::Error` carries neither).
impl From<worker::Error> for Refusal {
    fn from(e: worker::Error) -> Self {
        worker::console_error!("internal error: {e}");
        Refusal::new(500, "internal", "internal error; retry later")
    }
}

/// The response of a handler that answers with [`Refusal`]s.
pub fn answer(result: Result<Response, Refusal>) -> Response {
    result.unwrap_or_else(|r| refusal(&r))
}

/// The request's body, at most `max` bytes: a declared oversize body is refused before it is
/// read (413 `body_too_large`).
pub async fn bounded_body(req: &mut Request, max: usize) -> Result<Vec<u8>, Refusal> {
    let too_large =
        || Refusal::new(413, "body_too_large", format!("the body is limited to {max} bytes"));
    let declared = req.headers().get("content-length")?.and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let body = req.bytes().await?;
    if body.len() > max {
        return Err(too_large());
    }
    Ok(body)
}
