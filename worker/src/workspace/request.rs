//! The HTTP surface of a workspace's configuration, free of platform types so it is unit
//! tested natively: what the front Worker checks and forwards, and what the `Workspace`
//! Durable Object answers.

use edgedesk_core::ids::{ParticipantId, WorkspaceId};
use edgedesk_core::workflow::config::{ConfigErrors, MAX_CONFIG_BYTES};
use serde::{Deserialize, Serialize};

use crate::request::{forwarded_header, from_forwarded_header, Refusal};

/// Sent by a conversation Durable Object with the configuration version it holds; the
/// `Workspace` object answers 304 if that is still the current one.
pub const CONFIG_VERSION_HEADER: &str = "x-edgedesk-config-version";
/// The version an admin's `If-Match` named, as the front Worker forwards it.
pub const IF_MATCH_VERSION_HEADER: &str = "x-edgedesk-if-match";

/// What the front Worker tells the `Workspace` object about a request it let through (in
/// [`crate::request::FORWARDED_HEADER`], built from scratch like a conversation's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardedWorkspace {
    pub workspace: WorkspaceId,
    /// The admin replacing the configuration (the token's subject), on `PUT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<ParticipantId>,
}

impl ForwardedWorkspace {
    pub fn to_header(&self) -> String {
        forwarded_header(self)
    }

    pub fn from_header(value: Option<&str>) -> Result<Self, Refusal> {
        from_forwarded_header(value, "a workspace")
    }
}

/// `If-Match: 3` (or the ETag form `"3"`): the version the admin's change is based on.
/// `0` means "only if no configuration was ever set".
pub fn if_match(value: Option<&str>) -> Result<Option<u64>, Refusal> {
    let Some(raw) = value.map(str::trim) else { return Ok(None) };
    let unquoted = raw.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(raw);
    unquoted.parse::<u64>().map(Some).map_err(|_| {
        Refusal::new(
            400,
            "bad_if_match",
            "If-Match must be the configuration version the change is based on, e.g. `If-Match: 3` (the `version` of GET)",
        )
    })
}

/// 412 when the stored version (0: none yet) is not the one the admin based the change on.
pub fn check_version(expected: Option<u64>, current: u64) -> Result<(), Refusal> {
    match expected {
        Some(v) if v != current => Err(Refusal::new(
            412,
            "version_conflict",
            format!(
                "the configuration is at version {current}, not {v}: someone changed it meanwhile; GET it, apply your change again and PUT with If-Match: {current}"
            ),
        )),
        _ => Ok(()),
    }
}

pub fn body_too_large(len: usize) -> Refusal {
    Refusal::new(
        413,
        "body_too_large",
        format!("the configuration is {len} bytes; the limit is {MAX_CONFIG_BYTES} (64 KiB)"),
    )
}

/// The body, checked for size (declared, then actual) and UTF-8.
pub fn config_body(declared: Option<usize>, body: Option<&[u8]>) -> Result<String, Refusal> {
    if let Some(n) = declared.filter(|&n| n > MAX_CONFIG_BYTES) {
        return Err(body_too_large(n));
    }
    let body = body.unwrap_or_default();
    if body.len() > MAX_CONFIG_BYTES {
        return Err(body_too_large(body.len()));
    }
    String::from_utf8(body.to_vec())
        .map_err(|_| Refusal::new(400, "bad_request", "the configuration must be UTF-8 JSON"))
}

/// The 422 answer to an invalid configuration: every error with its path, and all of them
/// in `message` too for clients that show only that.
pub fn invalid_config(errors: &ConfigErrors) -> (Refusal, serde_json::Value) {
    let refusal = Refusal::new(422, "invalid_config", errors.to_string());
    let body = serde_json::json!({
        "error": refusal.code,
        "message": refusal.message,
        "errors": errors.0,
    });
    (refusal, body)
}

/// The stored version a conversation object says it holds (absent or unreadable: none).
pub fn known_version(value: Option<&str>) -> Option<u64> {
    value.and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use edgedesk_core::workflow::config::WorkspaceConfig;

    use super::*;

    #[test]
    fn if_match_takes_a_version_plain_or_quoted() {
        assert_eq!(if_match(None), Ok(None));
        assert_eq!(if_match(Some("3")), Ok(Some(3)));
        assert_eq!(if_match(Some(" \"12\" ")), Ok(Some(12)));
        assert_eq!(if_match(Some("0")), Ok(Some(0)));
        let e = if_match(Some("W/\"3\"")).unwrap_err();
        assert_eq!((e.status, e.code), (400, "bad_if_match"));
        assert!(if_match(Some("*")).is_err());
    }

    #[test]
    fn a_stale_version_is_a_conflict_naming_the_current_one() {
        assert!(check_version(None, 4).is_ok());
        assert!(check_version(Some(4), 4).is_ok());
        assert!(check_version(Some(0), 0).is_ok(), "0: create only");
        let e = check_version(Some(3), 4).unwrap_err();
        assert_eq!((e.status, e.code), (412, "version_conflict"));
        assert!(e.message.contains("at version 4, not 3"), "{}", e.message);
        assert_eq!(check_version(Some(0), 1).unwrap_err().status, 412);
    }

    #[test]
    fn oversize_and_non_utf8_bodies_are_refused() {
        let big = vec![b' '; MAX_CONFIG_BYTES + 1];
        assert_eq!(config_body(Some(MAX_CONFIG_BYTES + 1), None).unwrap_err().status, 413);
        assert_eq!(config_body(None, Some(&big)).unwrap_err().status, 413);
        assert_eq!(config_body(None, Some(&[0xff, 0xfe])).unwrap_err().code, "bad_request");
        assert_eq!(config_body(Some(2), Some(b"{}")), Ok("{}".to_owned()));
    }

    #[test]
    fn an_invalid_config_answer_lists_each_error_with_its_path() {
        let errors = WorkspaceConfig::parse(r#"{"business_hours": {"time_zone": "Mars/Base"}}"#)
            .unwrap_err();
        let (refusal, body) = invalid_config(&errors);
        assert_eq!((refusal.status, refusal.code), (422, "invalid_config"));
        assert_eq!(body["errors"][0]["path"], "business_hours.time_zone");
        assert!(body["message"].as_str().unwrap().contains("unknown time zone \"Mars/Base\""));
    }

    #[test]
    fn the_forwarded_admin_round_trips_and_is_required() {
        let f = ForwardedWorkspace {
            workspace: WorkspaceId::new("acme").unwrap(),
            admin: Some(ParticipantId::new("admin-1").unwrap()),
        };
        assert_eq!(ForwardedWorkspace::from_header(Some(&f.to_header())), Ok(f));
        assert_eq!(ForwardedWorkspace::from_header(None).unwrap_err().code, "bad_forward");
        assert_eq!(known_version(Some(" 7")), Some(7));
        assert_eq!(known_version(Some("x")), None);
    }
}
