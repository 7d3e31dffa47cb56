//! Why a document could not be read or written: shared by the documents and the code that
//! reads their maps, in its own module so that none of them depends on another for it.

use automerge::AutomergeError;

use crate::ids::{IdError, MessageId};
use crate::message::{MAX_BODY_BYTES, MAX_NAME_BYTES};

#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("automerge: {0}")]
    Automerge(#[from] AutomergeError),
    #[error("{doc} document has schema version {found:?}; this build reads version {expected}")]
    Schema { doc: &'static str, found: Option<i64>, expected: i64 },
    #[error("document root has no {0:?} object")]
    MissingRoot(&'static str),
    #[error("message body is {len} bytes; the limit is {MAX_BODY_BYTES}")]
    BodyTooLarge { len: usize },
    #[error("author name is {len} bytes; the limit is {MAX_NAME_BYTES}")]
    NameTooLong { len: usize },
    #[error("{0}")]
    BadTag(String),
    #[error("{0}")]
    BadCaseValue(String),
    #[error("message {0} is not in the conversation")]
    UnknownMessage(MessageId),
    #[error(transparent)]
    Id(#[from] IdError),
}
