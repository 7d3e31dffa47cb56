//! Compact JWS (RFC 7515) with HS256 (RFC 7518 §3.2) only.
//!
//! Only HS256 is accepted, whatever the header asks for: honouring the header's `alg` is how
//! `alg: none` and algorithm-confusion forgeries get through other verifiers. The `kid` picks
//! the key, the MAC is compared in constant time (`hmac`'s `verify_slice`), and the payload is
//! handed on only after the signature verified.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::keys::{Key, Keyring};
use super::{shown, AuthError};

/// Longest token accepted, in bytes. Ours are about 300 bytes; the bound keeps a request
/// header or URL from making the relay decode and hash megabytes.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// The one algorithm accepted.
pub const ALG: &str = "HS256";

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Critical extensions (RFC 7515 §4.1.11): none is understood, so any makes the token
    /// unusable.
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct OutHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// A token split into its parts; its signature is not checked yet.
#[derive(Debug)]
pub struct Parsed<'a> {
    signing_input: &'a str,
    header: Header,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl Parsed<'_> {
    pub fn alg(&self) -> &str {
        &self.header.alg
    }

    pub fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    /// The payload's bytes, not checked.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Checks the HS256 MAC with `secret`; on success the payload's bytes.
    pub fn verify_with(self, secret: &[u8]) -> Result<Vec<u8>, AuthError> {
        let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| AuthError::BadSignature)?;
        mac.update(self.signing_input.as_bytes());
        mac.verify_slice(&self.signature).map_err(|_| AuthError::BadSignature)?;
        Ok(self.payload)
    }
}

/// Splits a compact token and decodes its header; neither the algorithm nor the signature is
/// checked here.
pub fn parse(token: &str) -> Result<Parsed<'_>, AuthError> {
    let bad = |m: &str| AuthError::Malformed(m.to_owned());
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::Malformed(format!(
            "the token is {} bytes; the limit is {MAX_TOKEN_BYTES}",
            token.len()
        )));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected three base64url parts separated by '.'"));
    };
    let header = URL_SAFE_NO_PAD.decode(h).map_err(|_| bad("the header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header)
        .map_err(|_| bad("the header is not a JSON object with alg"))?;
    if header.crit.is_some() {
        return Err(bad("critical header extensions (crit) are not supported"));
    }
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| bad("the payload is not base64url"))?;
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad("the signature is not base64url"))?;
    Ok(Parsed { signing_input: &token[..h.len() + 1 + p.len()], header, payload, signature })
}

/// Verifies `token` against the keyring: HS256 only, the key its `kid` names, the MAC. Returns
/// the payload's bytes (claims are checked by the caller).
pub fn verify(token: &str, keys: &Keyring) -> Result<Vec<u8>, AuthError> {
    let parsed = parse(token)?;
    if parsed.alg() != ALG {
        return Err(AuthError::UnsupportedAlgorithm(shown(parsed.alg(), 16)));
    }
    let kid = parsed
        .kid()
        .ok_or_else(|| AuthError::UnknownKey("missing: the token header has no kid".into()))?;
    let key = keys
        .get(kid)
        .ok_or_else(|| AuthError::UnknownKey(format!("{:?} is not configured", shown(kid, 64))))?;
    parsed.verify_with(key.secret())
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("claims do not serialise: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the HMAC refused the key")]
    Key,
}

/// Signs `claims` with `key`: header `{"alg":"HS256","typ":"JWT","kid":…}`.
pub fn sign(key: &Key, claims: &impl Serialize) -> Result<String, SignError> {
    let header = serde_json::to_vec(&OutHeader { alg: ALG, typ: "JWT", kid: key.kid() })?;
    let payload = serde_json::to_vec(claims)?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(payload));
    // HMAC takes keys of any length, so this does not fail in practice.
    let mut mac = HmacSha256::new_from_slice(key.secret()).map_err(|_| SignError::Key)?;
    mac.update(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7515 Appendix A.1: an HS256 JWS produced by the spec's authors, with its key.
    const RFC_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_KEY: &str =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

    fn rfc_key() -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(RFC_KEY).unwrap()
    }

    fn ring() -> Keyring {
        Keyring::new(vec![Key::new("rfc", rfc_key()).unwrap()]).unwrap()
    }

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn verifies_the_rfc_7515_a1_hs256_example() {
        let parsed = parse(RFC_TOKEN).unwrap();
        assert_eq!(parsed.alg(), "HS256");
        assert_eq!(parsed.kid(), None);
        let payload = parsed.verify_with(&rfc_key()).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(claims["iss"], "joe");
        assert_eq!(claims["exp"], 1300819380);
        // One flipped bit anywhere in the signing input breaks it.
        let tampered = RFC_TOKEN.replacen("eyJpc3Mi", "eyJpc3Ni", 1);
        assert_eq!(parse(&tampered).unwrap().verify_with(&rfc_key()), Err(AuthError::BadSignature));
    }

    #[test]
    fn our_signer_matches_the_rfc_mac() {
        // Recompute the RFC's signature with our HMAC over its signing input.
        let input = RFC_TOKEN.rsplit_once('.').unwrap().0;
        let mut mac = HmacSha256::new_from_slice(&rfc_key()).unwrap();
        mac.update(input.as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
    }

    #[test]
    fn signed_tokens_round_trip_through_verify() {
        let ring = ring();
        let token = sign(ring.signing(), &serde_json::json!({"sub": "a"})).unwrap();
        let payload = verify(&token, &ring).unwrap();
        assert_eq!(payload, br#"{"sub":"a"}"#);
        let header = URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap();
        assert_eq!(header, br#"{"alg":"HS256","typ":"JWT","kid":"rfc"}"#);
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let ring = ring();
        let none = format!("{}.{}.", b64(r#"{"alg":"none","kid":"rfc"}"#), b64("{}"));
        assert_eq!(verify(&none, &ring), Err(AuthError::UnsupportedAlgorithm("none".into())));
        let hs512 = format!("{}.{}.AAAA", b64(r#"{"alg":"HS512","kid":"rfc"}"#), b64("{}"));
        assert_eq!(verify(&hs512, &ring).unwrap_err().code(), "unsupported_algorithm");
        // The signature over a valid token is still refused under another header's alg.
        let good = sign(ring.signing(), &serde_json::json!({})).unwrap();
        let sig = good.rsplit('.').next().unwrap();
        let rs = format!("{}.{}.{sig}", b64(r#"{"alg":"RS256","kid":"rfc"}"#), b64("{}"));
        assert_eq!(verify(&rs, &ring).unwrap_err().code(), "unsupported_algorithm");
    }

    #[test]
    fn unknown_or_missing_kid_is_refused() {
        let other = Keyring::new(vec![Key::random("other").unwrap()]).unwrap();
        let token = sign(other.signing(), &serde_json::json!({})).unwrap();
        assert_eq!(verify(&token, &ring()).unwrap_err().code(), "unknown_key");
        // The RFC token has no kid at all.
        assert_eq!(verify(RFC_TOKEN, &ring()).unwrap_err().code(), "unknown_key");
    }

    #[test]
    fn a_token_signed_with_another_secret_under_a_known_kid_is_a_bad_signature() {
        let impostor = Keyring::new(vec![Key::random("rfc").unwrap()]).unwrap();
        let token = sign(impostor.signing(), &serde_json::json!({})).unwrap();
        assert_eq!(verify(&token, &ring()), Err(AuthError::BadSignature));
        // A truncated signature too.
        assert_eq!(verify(&token[..token.len() - 3], &ring()), Err(AuthError::BadSignature));
    }

    #[test]
    fn malformed_tokens_are_refused_with_a_reason() {
        let ring = ring();
        for bad in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "!!!.e30.AAAA",
            &format!("{}.e30.AAAA", b64("[1]")),
            &format!("{}.e30.AAAA", b64(r#"{"alg":"HS256","kid":"rfc","crit":["exp"]}"#)),
            &format!("{}.not*b64.AAAA", b64(r#"{"alg":"HS256","kid":"rfc"}"#)),
            &format!("{}.e30.AA=A", b64(r#"{"alg":"HS256","kid":"rfc"}"#)),
            &"a".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            let e = verify(bad, &ring).unwrap_err();
            assert_eq!(e.code(), "malformed_token", "{bad:?}: {e}");
        }
    }
}
