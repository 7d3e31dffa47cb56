//! How the front Worker hands a Durable Object the identity it verified.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use crate::refusal::Refusal;

/// The header through which the front Worker hands the Durable Object the verified identity.
///
/// The Durable Object trusts it as is: it can only be reached through the Worker's
/// `CONVERSATION` binding (there is no public route to an object), and the Worker builds the
/// request it forwards from scratch, so no client header ever reaches the object.
pub const FORWARDED_HEADER: &str = "x-edgedesk-forwarded";

/// A verified identity as the Worker forwards it to a Durable Object: JSON, base64url-encoded,
/// because a display name may hold any Unicode, and header values that are not Latin-1 make
/// the platform's `Headers` throw.
pub fn forwarded_header(value: &impl Serialize) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// Reads a [`forwarded_header`]; anything else means the request did not come through the
/// Worker (`object` names what was reached, for the refusal).
pub fn from_forwarded_header<T: serde::de::DeserializeOwned>(
    value: Option<&str>,
    object: &str,
) -> Result<T, Refusal> {
    value
        .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(|| {
            Refusal::new(
                400,
                "bad_forward",
                format!("requests reach {object} through the Worker only"),
            )
        })
}
