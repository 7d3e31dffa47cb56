//! Webhook signing, verification, retry schedule and fan-out (PROTOCOL.md, "Webhooks").
//!
//! The signature scheme is the one integrators know from Stripe-style webhooks: HMAC-SHA256
//! over `"<t>.<body>"` with the endpoint's secret, sent as
//! `x-edgedesk-signature: t=<unix seconds>,v1=<lowercase hex>`. Binding the timestamp into
//! the MAC lets receivers refuse replays older than a tolerance without keeping state.
//! Nothing here does I/O: the Worker's outbox stores what [`deliveries`] returns and sends it,
//! asking [`backoff`] when to try again.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::workflow::config::WebhookEndpoint;
use crate::workflow::event::WebhookEvent;

/// Carries the signature (`t=<unix seconds>,v1=<hex>`).
pub const SIGNATURE_HEADER: &str = "x-edgedesk-signature";
/// Carries the event id: receivers deduplicate on it (delivery is at least once).
pub const EVENT_ID_HEADER: &str = "x-edgedesk-event-id";
/// Carries the event type, e.g. `message.created`.
pub const EVENT_TYPE_HEADER: &str = "x-edgedesk-event";
/// How far a signature's timestamp may be from the receiver's clock, by default.
pub const DEFAULT_TOLERANCE_S: i64 = 300;
/// Attempts per delivery, the first included; after the last one fails it is dead.
pub const MAX_ATTEMPTS: u32 = 10;
/// The wait after the first failed attempt.
pub const FIRST_RETRY_MS: i64 = 1_000;
/// No wait is longer than this.
pub const MAX_RETRY_MS: i64 = 3_600_000;
/// Each wait is this many times the previous one (until [`MAX_RETRY_MS`]).
const GROWTH: i64 = 4;
/// Longest signature header [`verify`] reads: a few `v1` values fit with room to spare.
const MAX_HEADER_BYTES: usize = 1024;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error(
        "malformed {SIGNATURE_HEADER} header: {0}; expected t=<unix seconds>,v1=<64 hex digits>"
    )]
    Malformed(String),
    #[error(
        "signature timestamp {t} is {age_s} s away from now, more than the {tolerance_s} s allowed; check the clocks or refuse the replay"
    )]
    Stale { t: i64, age_s: i64, tolerance_s: i64 },
    #[error("signature does not match the body: wrong secret, or the body was altered")]
    BadSignature,
}

/// One event for one endpoint: what the outbox stores and posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    /// The JSON body, byte for byte as it is signed and sent.
    pub body: String,
}

/// The `x-edgedesk-signature` value for `body` sent at `t` (unix seconds).
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let hex = mac(secret, t, body).map(|m| hex::encode(m.finalize().into_bytes()));
    // HMAC takes keys of any length, so `mac` cannot fail; were it to, an empty v1 fails
    // every verification instead of sending something unsigned-looking.
    format!("t={t},v1={}", hex.unwrap_or_default())
}

/// Checks a received `x-edgedesk-signature` header against `body` with `secret`: the
/// timestamp must be within `tolerance_s` of `now_s` (either way), and one of its `v1`
/// values must be the MAC, compared in constant time. Unknown `key=value` parts are ignored,
/// so later schemes can be added next to `v1`.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_s: i64,
    tolerance_s: i64,
) -> Result<(), WebhookError> {
    let malformed = |m: &str| WebhookError::Malformed(m.to_owned());
    if header.len() > MAX_HEADER_BYTES {
        return Err(malformed("longer than 1024 bytes"));
    }
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let (key, value) =
            part.trim().split_once('=').ok_or_else(|| malformed("a part has no '='"))?;
        match key {
            "t" if t.is_some() => return Err(malformed("more than one t")),
            "t" => t = Some(value.parse::<i64>().map_err(|_| malformed("t is not an integer"))?),
            "v1" => match hex::decode(value) {
                Ok(bytes) if bytes.len() == 32 => candidates.push(bytes),
                _ => return Err(malformed("v1 is not 64 hex digits")),
            },
            _ => {}
        }
    }
    let t = t.ok_or_else(|| malformed("no t"))?;
    if candidates.is_empty() {
        return Err(malformed("no v1"));
    }
    let age_s = now_s.saturating_sub(t).saturating_abs();
    if age_s > tolerance_s {
        return Err(WebhookError::Stale { t, age_s, tolerance_s });
    }
    let matches = |candidate: &Vec<u8>| {
        mac(secret, t, body).is_some_and(|m| m.verify_slice(candidate).is_ok())
    };
    if candidates.iter().any(matches) {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret).ok()?;
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// How long to wait after `failed_attempts` attempts (1 or more) have failed, or `None` when
/// that was the last attempt ([`MAX_ATTEMPTS`]): 1 s, 4 s, 16 s, … up to 1 h, about 3.4 h in
/// all. `jitter` (any random number; 0 for the plain schedule) shortens a wait by up to 20%,
/// so endpoints that failed together are not retried in lockstep.
pub fn backoff(failed_attempts: u32, jitter: u32) -> Option<i64> {
    if failed_attempts >= MAX_ATTEMPTS {
        return None;
    }
    let exponent = failed_attempts.saturating_sub(1);
    let base = GROWTH
        .checked_pow(exponent)
        .and_then(|g| g.checked_mul(FIRST_RETRY_MS))
        .map_or(MAX_RETRY_MS, |ms| ms.min(MAX_RETRY_MS));
    Some(base - i64::from(jitter) % (base / 5 + 1))
}

/// Every (endpoint, event) pair where the endpoint wants the event's type, each with the
/// event's JSON body.
pub fn deliveries(endpoints: &[WebhookEndpoint], events: &[WebhookEvent]) -> Vec<Delivery> {
    let mut out = Vec::new();
    for event in events {
        // Serialising a struct of strings, integers and a JSON value cannot fail.
        let Ok(body) = serde_json::to_string(event) else { continue };
        for endpoint in endpoints.iter().filter(|e| e.wants(&event.kind)) {
            out.push(Delivery {
                endpoint_id: endpoint.id.clone(),
                event_id: event.id.clone(),
                event_type: event.kind.clone(),
                body: body.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"at-least-16-bytes-secret";
    const NOW: i64 = 1_790_000_000;

    #[test]
    fn a_signed_body_verifies() {
        let body = br#"{"id":"e1","type":"sla.breached"}"#;
        let header = sign(SECRET, NOW, body);
        assert_eq!(verify(SECRET, &header, body, NOW + 10, DEFAULT_TOLERANCE_S), Ok(()));
    }

    /// Computed outside this code: `printf '%s' '1700000000.{"id":"evt_1","type":"message.created"}'
    /// | openssl dgst -sha256 -hmac 'whsec_test_0123456789'`.
    #[test]
    fn the_signature_matches_an_independently_computed_vector() {
        let body = br#"{"id":"evt_1","type":"message.created"}"#;
        let expected =
            "t=1700000000,v1=959a4bc5edbff73e975ef678d014a04e5091bf7fdcb8c7e6d5f7cefbb77a0fb2";
        assert_eq!(sign(b"whsec_test_0123456789", 1_700_000_000, body), expected);
    }

    #[test]
    fn an_altered_body_or_another_secret_is_refused() {
        let body = br#"{"text":"refund please"}"#;
        let header = sign(SECRET, NOW, body);
        let tampered = br#"{"text":"refund pleasE"}"#;
        assert_eq!(verify(SECRET, &header, tampered, NOW, 300), Err(WebhookError::BadSignature));
        assert_eq!(
            verify(b"another-secret-of-16+", &header, body, NOW, 300),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn an_old_or_future_timestamp_is_stale_and_moving_it_breaks_the_mac() {
        let body = b"{}";
        let old = sign(SECRET, NOW - 301, body);
        assert_eq!(
            verify(SECRET, &old, body, NOW, 300),
            Err(WebhookError::Stale { t: NOW - 301, age_s: 301, tolerance_s: 300 })
        );
        // Moving t forward without the secret breaks the MAC.
        let forged = old.replace(&format!("t={}", NOW - 301), &format!("t={NOW}"));
        assert_eq!(verify(SECRET, &forged, body, NOW, 300), Err(WebhookError::BadSignature));
        // A clock ahead of the receiver's by more than the tolerance is refused too.
        let future = sign(SECRET, NOW + 400, body);
        assert!(matches!(verify(SECRET, &future, body, NOW, 300), Err(WebhookError::Stale { .. })));
    }

    #[test]
    fn any_of_several_v1_values_may_match_as_during_a_secret_rotation() {
        let body = b"{}";
        let good = sign(SECRET, NOW, body);
        let other = sign(b"the-previous-secret-value", NOW, body);
        let (_, other_v1) = other.split_once(",v1=").unwrap();
        let both = format!("{good},v1={other_v1},v2=ignored");
        assert_eq!(verify(SECRET, &both, body, NOW, 300), Ok(()));
    }

    #[test]
    fn malformed_headers_say_what_is_wrong() {
        let body = b"{}";
        let v1 = "ab".repeat(32);
        for (header, says) in [
            ("", "a part has no '='"),
            (&format!("v1={v1}") as &str, "no t"),
            (&format!("t=12,t=13,v1={v1}"), "more than one t"),
            (&format!("t=soon,v1={v1}"), "t is not an integer"),
            ("t=12", "no v1"),
            ("t=12,v1=xyz", "v1 is not 64 hex digits"),
            (&format!("t=12,v1={}", &v1[..62]), "v1 is not 64 hex digits"),
            (&format!("t=12,v1={}", "a".repeat(2000)), "longer than 1024 bytes"),
        ] {
            assert_eq!(
                verify(SECRET, header, body, 12, 300),
                Err(WebhookError::Malformed(says.to_owned())),
                "{header}"
            );
        }
    }

    #[test]
    fn retries_wait_1s_then_4x_longer_up_to_an_hour_and_stop_after_the_last_attempt() {
        let schedule: Vec<Option<i64>> = (1..=MAX_ATTEMPTS).map(|n| backoff(n, 0)).collect();
        let s = |secs: i64| Some(secs * 1000);
        assert_eq!(
            schedule,
            vec![s(1), s(4), s(16), s(64), s(256), s(1024), s(3600), s(3600), s(3600), None]
        );
        assert_eq!(backoff(u32::MAX, 0), None);
    }

    #[test]
    fn jitter_only_shortens_a_wait_by_at_most_a_fifth() {
        for n in 1..MAX_ATTEMPTS {
            let plain = backoff(n, 0).unwrap();
            for jitter in [1, 7, 999, 123_456, u32::MAX] {
                let wait = backoff(n, jitter).unwrap();
                assert!(
                    wait <= plain && wait >= plain - plain / 5,
                    "attempt {n}: {wait} vs {plain}"
                );
            }
        }
        assert_ne!(backoff(7, 123_456), backoff(7, 0));
    }

    fn endpoint(id: &str, events: &[&str]) -> WebhookEndpoint {
        WebhookEndpoint {
            id: id.to_owned(),
            url: format!("https://example.com/{id}"),
            secret: "0123456789abcdef".to_owned(),
            events: events.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn event(id: &str, kind: &str) -> WebhookEvent {
        WebhookEvent {
            id: id.to_owned(),
            kind: kind.to_owned(),
            at: 1,
            workspace: "ws".to_owned(),
            conversation: "c".to_owned(),
            data: serde_json::json!({ "text": "退款" }),
        }
    }

    #[test]
    fn each_event_goes_to_every_endpoint_that_wants_its_type() {
        let endpoints =
            [endpoint("crm", &["message.created", "sla.breached"]), endpoint("all", &[])];
        let events = [event("m1", "message.created"), event("s1", "conversation.status_changed")];
        let got: Vec<(String, String)> = deliveries(&endpoints, &events)
            .into_iter()
            .map(|d| (d.endpoint_id, d.event_id))
            .collect();
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(got, vec![pair("crm", "m1"), pair("all", "m1"), pair("all", "s1")]);
    }

    #[test]
    fn a_delivery_body_is_the_event_as_json_with_its_type_field() {
        let d = deliveries(&[endpoint("all", &[])], &[event("m1", "message.created")]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].event_type, "message.created");
        let json: serde_json::Value = serde_json::from_str(&d[0].body).unwrap();
        assert_eq!(json["type"], "message.created");
        assert_eq!(json["id"], "m1");
        assert_eq!(json["data"]["text"], "退款");
    }
}
