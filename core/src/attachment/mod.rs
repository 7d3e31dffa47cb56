//! Files in chat (PROTOCOL.md §2.10, §8.2): what a message says about its attachment, the
//! checks on it, and the signed URLs that serve it.
//!
//! The bytes never travel in the document: a client uploads them to the relay, which seals
//! them with the conversation's data key and keeps them in R2; the message carries only
//! [`AttachmentRef`] (id, name, type, size). Reading goes through a short-lived URL
//! ([`signed_url`]) that only a participant of the conversation can obtain.

pub mod signed_url;

use serde::{Deserialize, Serialize};

/// The largest attachment any workspace may allow: a Worker holds the file in memory while
/// it seals it.
pub const MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;
/// Longest file name, in bytes.
pub const MAX_FILE_NAME_BYTES: usize = 255;
/// Longest content type, in bytes.
pub const MAX_TYPE_BYTES: usize = 127;

/// The fields of a message map that describe its attachment (all or none).
pub const ATTACHMENT_KEYS: [&str; 4] =
    ["attachment_id", "attachment_name", "attachment_type", "attachment_size"];

/// An attachment, as a message refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// 24 lowercase hex digits, chosen by the uploading client (so a retried upload is the
    /// same upload).
    pub id: String,
    /// The file's name as the sender had it, for display and download.
    pub name: String,
    /// Its media type, e.g. `image/png`.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Why an attachment, or a request about one, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    #[error("attachment id {0:?} must be 24 lowercase hex digits")]
    BadId(String),
    #[error(
        "a file name is 1 to {MAX_FILE_NAME_BYTES} bytes without control characters or slashes"
    )]
    BadName,
    #[error("content type {0:?} is not a media type like image/png")]
    BadType(String),
    #[error("the file is {size} bytes; this workspace takes at most {max}")]
    TooLarge { size: u64, max: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("files of type {0} are not accepted in this workspace (its configuration lists the types, PROTOCOL.md §9.11)")]
    TypeNotAllowed(String),
    #[error("the link is malformed; ask for a new one")]
    BadUrl,
    #[error("the link expired; ask for a new one")]
    Expired,
    #[error("the link's signature does not match; ask for a new one")]
    BadSignature,
}

impl AttachmentError {
    pub fn status(&self) -> u16 {
        match self {
            AttachmentError::TooLarge { .. } => 413,
            AttachmentError::TypeNotAllowed(_) => 415,
            AttachmentError::BadUrl | AttachmentError::Expired | AttachmentError::BadSignature => {
                403
            }
            _ => 400,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AttachmentError::BadId(_) => "bad_attachment_id",
            AttachmentError::BadName => "bad_file_name",
            AttachmentError::BadType(_) => "bad_content_type",
            AttachmentError::TooLarge { .. } => "attachment_too_large",
            AttachmentError::Empty => "empty_attachment",
            AttachmentError::TypeNotAllowed(_) => "type_not_allowed",
            AttachmentError::BadUrl => "bad_link",
            AttachmentError::Expired => "link_expired",
            AttachmentError::BadSignature => "bad_link_signature",
        }
    }
}

pub fn check_id(id: &str) -> Result<(), AttachmentError> {
    if id.len() == 24 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(AttachmentError::BadId(crate::auth::shown(id, 40)))
    }
}

pub fn check_name(name: &str) -> Result<(), AttachmentError> {
    let bad = name.is_empty()
        || name.len() > MAX_FILE_NAME_BYTES
        || name.chars().any(|c| c.is_control() || c == '/' || c == '\\');
    if bad {
        Err(AttachmentError::BadName)
    } else {
        Ok(())
    }
}

/// A media type `type/subtype`, lowercase, of RFC 6838's restricted name characters; any
/// parameters (`; charset=…`) are not part of it.
pub fn check_type(t: &str) -> Result<(), AttachmentError> {
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$&-^_.+".contains(&b))
    };
    match t.split_once('/') {
        Some((a, b)) if t.len() <= MAX_TYPE_BYTES && token(a) && token(b) => Ok(()),
        _ => Err(AttachmentError::BadType(crate::auth::shown(t, 40))),
    }
}

impl AttachmentRef {
    /// The checks a message's attachment passes (PROTOCOL.md §8.2), whatever the workspace.
    pub fn check(&self) -> Result<(), AttachmentError> {
        check_id(&self.id)?;
        check_name(&self.name)?;
        check_type(&self.content_type)?;
        if self.size == 0 {
            return Err(AttachmentError::Empty);
        }
        if self.size > MAX_ATTACHMENT_BYTES {
            return Err(AttachmentError::TooLarge { size: self.size, max: MAX_ATTACHMENT_BYTES });
        }
        Ok(())
    }

    /// Whether a browser may show it inline: raster images only (never SVG, which can carry
    /// script).
    pub fn is_inline_image(&self) -> bool {
        is_inline_image(&self.content_type)
    }
}

pub fn is_inline_image(content_type: &str) -> bool {
    matches!(content_type, "image/png" | "image/jpeg" | "image/gif" | "image/webp")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png() -> AttachmentRef {
        AttachmentRef {
            id: "0123456789abcdef01234567".into(),
            name: "截图 1.png".into(),
            content_type: "image/png".into(),
            size: 2048,
        }
    }

    #[test]
    fn a_well_formed_attachment_passes_and_each_field_is_checked() {
        assert_eq!(png().check(), Ok(()));
        assert!(png().is_inline_image());
        let bad = |f: fn(&mut AttachmentRef)| {
            let mut a = png();
            f(&mut a);
            a.check().unwrap_err().code()
        };
        assert_eq!(bad(|a| a.id = "XYZ".into()), "bad_attachment_id");
        assert_eq!(bad(|a| a.id = "0123456789ABCDEF01234567".into()), "bad_attachment_id");
        assert_eq!(bad(|a| a.name = "../etc/passwd".into()), "bad_file_name");
        assert_eq!(bad(|a| a.name = String::new()), "bad_file_name");
        assert_eq!(bad(|a| a.name = "a\nb".into()), "bad_file_name");
        assert_eq!(bad(|a| a.content_type = "image".into()), "bad_content_type");
        assert_eq!(bad(|a| a.content_type = "Image/PNG".into()), "bad_content_type");
        assert_eq!(bad(|a| a.content_type = "text/html; charset=utf-8".into()), "bad_content_type");
        assert_eq!(bad(|a| a.size = 0), "empty_attachment");
        assert_eq!(bad(|a| a.size = MAX_ATTACHMENT_BYTES + 1), "attachment_too_large");
        assert!(!is_inline_image("image/svg+xml"));
    }
}
