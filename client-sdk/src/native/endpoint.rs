//! The relay's WebSocket address for one device in one conversation.
//!
//! Until auth tokens exist, the Worker reads who is connecting from the query string.

use edgedesk_core::client::Identity;
use edgedesk_core::ids::ConversationId;

use super::ClientError;

/// `ws[s]://host[/prefix]/v1/conversations/{id}/connect?role=..&participant=..&device=..&name=..`
/// from an `http(s)://` or `ws(s)://` base URL.
pub fn connect_url(
    base_url: &str,
    conversation: &ConversationId,
    me: &Identity,
) -> Result<String, ClientError> {
    let bad =
        |reason: &str| ClientError::Url { url: base_url.to_owned(), reason: reason.to_owned() };
    let (scheme, rest) = base_url
        .split_once("://")
        .ok_or_else(|| bad("expected a scheme, e.g. http://127.0.0.1:8787"))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return Err(bad("the scheme must be http, https, ws or wss")),
    };
    if scheme == "wss" {
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
    // Ids are validated to a path-safe alphabet, so the conversation goes into the path as is
    // (the Worker matches the raw path); query values are percent-encoded.
    Ok(format!(
        "{scheme}://{rest}/v1/conversations/{conversation}/connect?role={}&participant={}&device={}&name={}&caps=changes",
        encode(me.role.as_str()),
        encode(me.participant.as_str()),
        encode(me.device.as_str()),
        encode(&me.name),
    ))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
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
    use edgedesk_core::ids::{DeviceId, ParticipantId};
    use edgedesk_core::message::Role;

    fn me() -> Identity {
        Identity {
            role: Role::Visitor,
            participant: ParticipantId::new("v:1@x").unwrap(),
            name: "Zoë & co/1".into(),
            device: DeviceId::new("d-1").unwrap(),
        }
    }

    #[test]
    fn builds_the_connect_url_with_encoded_query() {
        let c = ConversationId::new("conv-1").unwrap();
        assert_eq!(
            connect_url("http://127.0.0.1:8787/", &c, &me()).unwrap(),
            "ws://127.0.0.1:8787/v1/conversations/conv-1/connect?role=visitor&participant=v%3A1%40x&device=d-1&name=Zo%C3%AB%20%26%20co%2F1&caps=changes"
        );
        assert!(connect_url("ws://h/prefix", &c, &me()).unwrap().starts_with("ws://h/prefix/v1/"));
    }

    #[test]
    fn refuses_urls_it_cannot_connect_to() {
        let c = ConversationId::new("c").unwrap();
        for bad in ["127.0.0.1:8787", "ftp://h", "http://", "http://h/?x=1", "https://h"] {
            assert!(matches!(connect_url(bad, &c, &me()), Err(ClientError::Url { .. })), "{bad}");
        }
    }
}
