//! Short-lived links to an attachment: `/v1/files/{ws}/{conv}/{id}?exp=…&kid=…&sig=…`, where
//! `sig` is HMAC-SHA256 over the workspace, conversation, attachment and expiry with a key of
//! the relay's keyring (`EDGEDESK_JWT_KEYS`, used under a label of its own so a link's MAC can
//! never pass as a token's). A link is what an `<img src>` can use: no header needed. Only a
//! participant of the conversation gets one (its token is checked when it asks), and it works
//! for [`URL_TTL_SECONDS`] for that conversation's file only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::AttachmentError;
use crate::auth::keys::Key;
use crate::auth::Keyring;

/// How long a link works.
pub const URL_TTL_SECONDS: i64 = 300;

fn mac(
    key: &Key,
    workspace: &str,
    conversation: &str,
    id: &str,
    exp: i64,
) -> Result<Hmac<Sha256>, AttachmentError> {
    // HMAC takes keys of any length; the error case is never reached.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.secret())
        .map_err(|_| AttachmentError::BadSignature)?;
    mac.update(b"edgedesk-attachment-link\0");
    for part in [workspace, conversation, id, &exp.to_string()] {
        mac.update(part.as_bytes());
        mac.update(b"\0");
    }
    Ok(mac)
}

/// The query string of a link to `id`, valid until `now + URL_TTL_SECONDS`; and that expiry.
pub fn sign(
    keys: &Keyring,
    workspace: &str,
    conversation: &str,
    id: &str,
    now: i64,
) -> Result<(String, i64), AttachmentError> {
    let key = keys.signing();
    let exp = now + URL_TTL_SECONDS;
    let sig = mac(key, workspace, conversation, id, exp)?.finalize().into_bytes();
    Ok((format!("exp={exp}&kid={}&sig={}", key.kid(), URL_SAFE_NO_PAD.encode(sig)), exp))
}

/// Checks a link's query parameters at `now`.
pub fn verify(
    keys: &Keyring,
    workspace: &str,
    conversation: &str,
    id: &str,
    query: &[(String, String)],
    now: i64,
) -> Result<(), AttachmentError> {
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (Some(exp), Some(kid), Some(sig)) = (param("exp"), param("kid"), param("sig")) else {
        return Err(AttachmentError::BadUrl);
    };
    let exp: i64 = exp.parse().map_err(|_| AttachmentError::BadUrl)?;
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| AttachmentError::BadUrl)?;
    let key = keys.get(kid).ok_or(AttachmentError::BadSignature)?;
    // Constant time: the MAC crate's own comparison.
    mac(key, workspace, conversation, id, exp)?
        .verify_slice(&sig)
        .map_err(|_| AttachmentError::BadSignature)?;
    if now >= exp {
        return Err(AttachmentError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keyring {
        Keyring::new(vec![
            Key::new("k2", vec![2u8; 32]).unwrap(),
            Key::new("k1", vec![1u8; 32]).unwrap(),
        ])
        .unwrap()
    }

    fn query(q: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    const ID: &str = "0123456789abcdef01234567";

    #[test]
    fn a_link_works_for_its_file_until_it_expires() {
        let (q, exp) = sign(&keys(), "shop", "c-1", ID, 1000).unwrap();
        assert_eq!(exp, 1000 + URL_TTL_SECONDS);
        assert_eq!(verify(&keys(), "shop", "c-1", ID, &query(&q), 1000), Ok(()));
        assert_eq!(
            verify(&keys(), "shop", "c-1", ID, &query(&q), exp),
            Err(AttachmentError::Expired)
        );
    }

    #[test]
    fn a_link_does_not_open_another_conversation_or_file_or_survive_tampering() {
        let (q, exp) = sign(&keys(), "shop", "c-1", ID, 1000).unwrap();
        let k = keys();
        assert_eq!(
            verify(&k, "shop", "c-2", ID, &query(&q), 1000),
            Err(AttachmentError::BadSignature)
        );
        assert_eq!(
            verify(&k, "other", "c-1", ID, &query(&q), 1000),
            Err(AttachmentError::BadSignature)
        );
        assert_eq!(
            verify(&k, "shop", "c-1", "ffffffffffffffffffffffff", &query(&q), 1000),
            Err(AttachmentError::BadSignature)
        );
        let later = q.replace(&format!("exp={exp}"), &format!("exp={}", exp + 3600));
        assert_eq!(
            verify(&k, "shop", "c-1", ID, &query(&later), 1000),
            Err(AttachmentError::BadSignature)
        );
        assert_eq!(verify(&k, "shop", "c-1", ID, &query("exp=1"), 0), Err(AttachmentError::BadUrl));
        // A retired key: the link no longer verifies.
        let rotated = Keyring::new(vec![Key::new("k3", vec![3u8; 32]).unwrap()]).unwrap();
        assert_eq!(
            verify(&rotated, "shop", "c-1", ID, &query(&q), 1000),
            Err(AttachmentError::BadSignature)
        );
    }
}
