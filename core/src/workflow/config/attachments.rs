//! `attachments`: which files a workspace takes in chat, and how large (PROTOCOL.md §9.11).

use super::errors::{index, Errors};
use super::json::RawAttachments;
use crate::attachment::{check_type, AttachmentError, MAX_ATTACHMENT_BYTES};

/// Without configuration: 5 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 5 * 1024 * 1024;
/// Without configuration: common images, PDF and plain text. SVG is not among them: it can
/// carry script (a workspace may still list it; it is then only ever downloaded, never shown).
pub const DEFAULT_TYPES: [&str; 6] =
    ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"];
pub const MAX_TYPES: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentPolicy {
    pub max_bytes: u64,
    /// Exact types (`image/png`) or a whole top-level type (`image/*`).
    pub types: Vec<String>,
}

impl Default for AttachmentPolicy {
    fn default() -> Self {
        Self { max_bytes: DEFAULT_MAX_BYTES, types: DEFAULT_TYPES.map(str::to_owned).to_vec() }
    }
}

impl AttachmentPolicy {
    /// Whether a file of `content_type` and `size` bytes may be uploaded.
    pub fn allows(&self, content_type: &str, size: u64) -> Result<(), AttachmentError> {
        check_type(content_type)?;
        if size == 0 {
            return Err(AttachmentError::Empty);
        }
        if size > self.max_bytes {
            return Err(AttachmentError::TooLarge { size, max: self.max_bytes });
        }
        let top = content_type.split('/').next().unwrap_or_default();
        let listed = self
            .types
            .iter()
            .any(|t| t == content_type || t.strip_suffix("/*").is_some_and(|prefix| prefix == top));
        if !listed {
            return Err(AttachmentError::TypeNotAllowed(content_type.to_owned()));
        }
        Ok(())
    }

    pub(super) fn to_raw(&self) -> RawAttachments {
        RawAttachments { max_bytes: Some(self.max_bytes), types: Some(self.types.clone()) }
    }

    pub(super) fn from_raw(raw: &RawAttachments, errors: &mut Errors) -> AttachmentPolicy {
        let mut policy = AttachmentPolicy::default();
        if let Some(max) = raw.max_bytes {
            if max == 0 || max > MAX_ATTACHMENT_BYTES {
                errors.push(
                    "attachments.max_bytes",
                    format!("{max} is out of range: 1 to {MAX_ATTACHMENT_BYTES} (10 MiB)"),
                );
            } else {
                policy.max_bytes = max;
            }
        }
        if let Some(types) = &raw.types {
            if types.len() > MAX_TYPES {
                errors.push(
                    "attachments.types",
                    format!("{} types; the limit is {MAX_TYPES}", types.len()),
                );
            }
            for (i, t) in types.iter().enumerate() {
                let whole = t.strip_suffix("/*").map(|top| format!("{top}/x"));
                if check_type(whole.as_deref().unwrap_or(t)).is_err() {
                    errors.push(
                        index("attachments.types", i),
                        format!("{:?} is not a media type like \"image/png\" or \"image/*\" (lowercase)", crate::auth::shown(t, 40)),
                    );
                }
            }
            policy.types = types.clone();
        }
        policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_takes_images_pdf_and_text_up_to_five_mib() {
        let p = AttachmentPolicy::default();
        assert_eq!(p.allows("image/png", 1), Ok(()));
        assert_eq!(p.allows("application/pdf", DEFAULT_MAX_BYTES), Ok(()));
        assert_eq!(
            p.allows("image/png", DEFAULT_MAX_BYTES + 1).unwrap_err().code(),
            "attachment_too_large"
        );
        assert_eq!(p.allows("image/svg+xml", 10).unwrap_err().code(), "type_not_allowed");
        assert_eq!(p.allows("application/x-msdownload", 10).unwrap_err().status(), 415);
        assert_eq!(p.allows("image/png", 0).unwrap_err().code(), "empty_attachment");
    }

    #[test]
    fn a_whole_top_level_type_can_be_listed() {
        let p = AttachmentPolicy { max_bytes: 100, types: vec!["image/*".into()] };
        assert_eq!(p.allows("image/heic", 100), Ok(()));
        assert!(p.allows("imagex/png", 1).is_err());
        assert!(p.allows("application/pdf", 1).is_err());
    }
}
