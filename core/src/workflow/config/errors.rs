//! Configuration errors: each names a JSON path and says what is wrong and what to write
//! instead, and a check reports every problem it finds rather than the first.

use serde::{Deserialize, Serialize};

/// One problem in a configuration: where (`business_hours.weekly.mon[1]`, or `$` for the
/// whole document) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid workspace configuration: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// Most errors reported for one document: enough to fix a config in a few rounds, and a
/// bound on the answer a hostile document can make the relay write.
pub const MAX_REPORTED_ERRORS: usize = 50;

/// Collects errors while a configuration is checked.
#[derive(Debug, Default)]
pub(super) struct Errors {
    list: Vec<ConfigError>,
    dropped: usize,
}

impl Errors {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        if self.list.len() < MAX_REPORTED_ERRORS {
            self.list.push(ConfigError::new(path, message));
        } else {
            self.dropped += 1;
        }
    }

    pub fn into_result<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.list.is_empty() {
            return Ok(value);
        }
        let mut list = self.list;
        if self.dropped > 0 {
            list.push(ConfigError::new(
                "$",
                format!("{} more errors not shown; fix the ones above first", self.dropped),
            ));
        }
        Err(ConfigErrors(list))
    }
}

/// `base.field`, or `field` at the root.
pub(super) fn field(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_owned()
    } else {
        format!("{base}.{name}")
    }
}

/// `base[i]`.
pub(super) fn index(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}

/// `s` quoted and cut to a length fit for an error message (the text is the admin's own, but
/// error answers stay small).
pub(super) fn quoted(s: &str) -> String {
    format!("{:?}", crate::auth::shown(s, 80))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_fields_and_indexes_from_the_root() {
        assert_eq!(field("", "sla"), "sla");
        assert_eq!(
            index(&field("business_hours.weekly", "mon"), 1),
            "business_hours.weekly.mon[1]"
        );
    }

    #[test]
    fn a_flood_of_errors_is_cut_and_says_how_many_more() {
        let mut e = Errors::default();
        for i in 0..MAX_REPORTED_ERRORS + 7 {
            e.push(index("keyword_rules", i), "bad");
        }
        let all = e.into_result(()).unwrap_err().0;
        assert_eq!(all.len(), MAX_REPORTED_ERRORS + 1);
        assert_eq!(
            all.last().unwrap().message,
            "7 more errors not shown; fix the ones above first"
        );
    }
}
