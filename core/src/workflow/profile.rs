//! What the workflow knows about the visitor beyond the documents: the claims of the
//! visitor's token (name, locale, VIP, custom attributes). The integrator's backend signs
//! them, so unlike the visitor-editable `profile` map they can drive priority.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Most custom attributes kept per visitor, and their sizes: they ride in every
/// conversation's storage and in template output.
pub const MAX_ATTRIBUTES: usize = 32;
pub const MAX_ATTRIBUTE_KEY_BYTES: usize = 64;
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 256;
/// Longest channel name.
pub const MAX_CHANNEL_BYTES: usize = 32;
/// Longest locale tag kept (`zh-Hant-TW` and the like are far shorter).
pub const MAX_LOCALE_BYTES: usize = 35;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default)]
    pub vip: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// The visitor's channel (`web`, `app`, …), for the inbox's filters and routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The visitor's participant id (the token's subject): the inbox finds the visitor's
    /// earlier conversations by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl VisitorProfile {
    /// Checks sizes and shapes; the error says which claim and what is allowed.
    pub fn check(&self) -> Result<(), String> {
        if let Some(l) = &self.locale {
            let ok = !l.is_empty()
                && l.len() <= MAX_LOCALE_BYTES
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(format!(
                    "locale must be a language tag such as zh-CN (letters, digits, '-'), at most {MAX_LOCALE_BYTES} bytes"
                ));
            }
        }
        if let Some(c) = &self.channel {
            let ok = !c.is_empty()
                && c.len() <= MAX_CHANNEL_BYTES
                && c.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !ok {
                return Err(format!(
                    "channel must be 1 to {MAX_CHANNEL_BYTES} of [a-z0-9_-], such as web or app"
                ));
            }
        }
        if self.attributes.len() > MAX_ATTRIBUTES {
            return Err(format!("at most {MAX_ATTRIBUTES} attributes"));
        }
        for (k, v) in &self.attributes {
            let key_ok = !k.is_empty()
                && k.len() <= MAX_ATTRIBUTE_KEY_BYTES
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !key_ok {
                return Err(format!(
                    "attribute name {k:?} must be 1 to {MAX_ATTRIBUTE_KEY_BYTES} of [A-Za-z0-9_-]"
                ));
            }
            if v.len() > MAX_ATTRIBUTE_VALUE_BYTES || v.chars().any(char::is_control) {
                return Err(format!(
                    "attribute {k:?} must be at most {MAX_ATTRIBUTE_VALUE_BYTES} bytes without control characters"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_or_malformed_claims_are_refused() {
        let ok = VisitorProfile {
            locale: Some("zh-CN".into()),
            attributes: [("plan".to_owned(), "gold".to_owned())].into(),
            ..Default::default()
        };
        assert!(ok.check().is_ok());
        let bad_locale = VisitorProfile { locale: Some("zh CN".into()), ..ok.clone() };
        assert!(bad_locale.check().unwrap_err().contains("locale"));
        let mut bad_key = ok.clone();
        bad_key.attributes.insert("has space".into(), "x".into());
        assert!(bad_key.check().unwrap_err().contains("has space"));
        let mut long = ok;
        long.attributes.insert("k".into(), "x".repeat(MAX_ATTRIBUTE_VALUE_BYTES + 1));
        assert!(long.check().is_err());
    }
}
