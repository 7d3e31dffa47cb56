//! The relay's WebSocket addresses: one device's in one conversation, and an agent device's
//! inbox.
//!
//! Who is connecting is the token's business (sent as `Authorization: Bearer`); the URL names
//! the conversation (or the workspace's inbox) and this device.

use edgedesk_core::ids::{ConversationId, DeviceId, WorkspaceId};

/// Browsers do TLS themselves; the native SDK has no TLS stack yet.
const TLS_AVAILABLE: bool = cfg!(target_arch = "wasm32");

/// A base URL the SDK cannot connect to, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("base_url {url:?} is unusable: {reason}")]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

/// `ws[s]://host[/prefix]/v1/workspaces/{ws}/conversations/{id}/connect?device=..&caps=changes,acks`
/// from an `http(s)://` or `ws(s)://` base URL.
pub fn connect_url(
    base_url: &str,
    workspace: &WorkspaceId,
    conversation: &ConversationId,
    device: &DeviceId,
) -> Result<String, UrlError> {
    // Ids are validated to a path-safe alphabet, so they go into the path as they are (the
    // Worker matches the raw path); query values are percent-encoded.
    Ok(format!(
        "{}/v1/workspaces/{workspace}/conversations/{conversation}/connect?device={}&caps=changes,acks",
        socket_base(base_url)?,
        encode(device.as_str()),
    ))
}

/// `ws[s]://host[/prefix]/v1/workspaces/{ws}/inbox/connect?device=..`: an agent device's
/// inbox socket.
pub fn inbox_url(
    base_url: &str,
    workspace: &WorkspaceId,
    device: &DeviceId,
) -> Result<String, UrlError> {
    Ok(format!(
        "{}/v1/workspaces/{workspace}/inbox/connect?device={}",
        socket_base(base_url)?,
        encode(device.as_str()),
    ))
}

/// `http[s]://host[/prefix]/v1/workspaces/{ws}/conversations/{id}/history`: pages of the
/// sealed history (PROTOCOL.md §16.3); the caller appends the query. (The browser SDK's
/// base URL is already the HTTP one.)
#[cfg(not(target_arch = "wasm32"))]
pub fn history_url(
    base_url: &str,
    workspace: &WorkspaceId,
    conversation: &ConversationId,
) -> Result<String, UrlError> {
    let socket = socket_base(base_url)?;
    let http = match socket.strip_prefix("wss://") {
        Some(rest) => format!("https://{rest}"),
        None => format!("http://{}", socket.trim_start_matches("ws://")),
    };
    Ok(format!("{http}/v1/workspaces/{workspace}/conversations/{conversation}/history"))
}

/// `ws://host[/prefix]` from the base URL, or why it cannot be connected to.
fn socket_base(base_url: &str) -> Result<String, UrlError> {
    let bad = |reason: &str| UrlError { url: base_url.to_owned(), reason: reason.to_owned() };
    let (scheme, rest) = base_url
        .split_once("://")
        .ok_or_else(|| bad("expected a scheme, e.g. http://127.0.0.1:8787"))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return Err(bad("the scheme must be http, https, ws or wss")),
    };
    if scheme == "wss" && !TLS_AVAILABLE {
        return Err(bad(
            "TLS (https/wss) is not built into this SDK yet; use http:// to a local relay or a TLS-terminating proxy",
        ));
    }
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad("the URL has no host"));
    }
    if rest.contains(['?', '#']) {
        return Err(bad("the base URL must not carry a query or a fragment"));
    }
    Ok(format!("{scheme}://{rest}"))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (WorkspaceId, ConversationId, DeviceId) {
        (
            WorkspaceId::new("acme").unwrap(),
            ConversationId::new("conv-1").unwrap(),
            DeviceId::new("d:1@x").unwrap(),
        )
    }

    #[test]
    fn builds_the_connect_url_with_encoded_query() {
        let (w, c, d) = ids();
        assert_eq!(
            connect_url("http://127.0.0.1:8787/", &w, &c, &d).unwrap(),
            "ws://127.0.0.1:8787/v1/workspaces/acme/conversations/conv-1/connect?device=d%3A1%40x&caps=changes,acks"
        );
        assert!(connect_url("ws://h/prefix", &w, &c, &d).unwrap().starts_with("ws://h/prefix/v1/"));
    }

    #[test]
    fn refuses_urls_it_cannot_connect_to() {
        let (w, c, d) = ids();
        for bad in ["127.0.0.1:8787", "ftp://h", "http://", "http://h/?x=1", "https://h"] {
            assert!(connect_url(bad, &w, &c, &d).is_err(), "{bad}");
            assert!(inbox_url(bad, &w, &d).is_err(), "{bad}");
        }
    }

    #[test]
    fn builds_the_history_url_over_http() {
        let (w, c, _) = ids();
        assert_eq!(
            history_url("ws://127.0.0.1:8787/", &w, &c).unwrap(),
            "http://127.0.0.1:8787/v1/workspaces/acme/conversations/conv-1/history"
        );
    }

    #[test]
    fn builds_the_inbox_url() {
        let (w, _, d) = ids();
        assert_eq!(
            inbox_url("http://127.0.0.1:8787/", &w, &d).unwrap(),
            "ws://127.0.0.1:8787/v1/workspaces/acme/inbox/connect?device=d%3A1%40x"
        );
    }
}
