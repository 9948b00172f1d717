//! Why a Blob Storage call failed, classified the way the coordinator decides:
//! a lost race (409, 412), a missing blob, a refused credential, a transient fault
//! (throttling, 5xx, timeout, transport) or a bad answer.
//!
//! Every error names the blob (or the container) and the HTTP status and storage
//! error code; none carries a URL, a header or a key. Messages from the service
//! pass through the client's redactor before they land here.

use std::time::Duration;

/// A failed Blob Storage call.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The blob (or container) does not exist (404).
    #[error("blob {blob}: not found ({code})")]
    NotFound {
        /// The blob's name.
        blob: String,
        /// The storage error code (`BlobNotFound`, `ContainerNotFound`).
        code: String,
    },
    /// The blob exists and the write asked for it not to (409, `If-None-Match: *`).
    #[error("blob {blob}: already exists ({code})")]
    Conflict {
        /// The blob's name.
        blob: String,
        /// The storage error code (`BlobAlreadyExists`).
        code: String,
    },
    /// The blob changed since the tag the write was conditioned on (412).
    #[error("blob {blob}: changed since it was read ({code})")]
    PreconditionFailed {
        /// The blob's name.
        blob: String,
        /// The storage error code (`ConditionNotMet`).
        code: String,
    },
    /// The credential was refused (401, 403).
    #[error(
        "blob {blob}: the storage account refused the credential (HTTP {status}, {code}){message}"
    )]
    Auth {
        /// The blob's name.
        blob: String,
        /// The status.
        status: u16,
        /// The storage error code (`AuthenticationFailed`, `AuthorizationFailure` …).
        code: String,
        /// The service's explanation, redacted and clipped (`: …`), or empty.
        message: String,
    },
    /// The service is busy (429, 503) or failed (other 5xx): try again later.
    #[error("blob {blob}: the storage service answered HTTP {status} ({code}), try again")]
    Unavailable {
        /// The blob's name.
        blob: String,
        /// The status.
        status: u16,
        /// The storage error code.
        code: String,
    },
    /// Any other refusal (400, 411 …): a bug or a setting to fix, not worth retrying.
    #[error(
        "blob {blob}: the storage service refused the request (HTTP {status}, {code}){message}"
    )]
    Refused {
        /// The blob's name.
        blob: String,
        /// The status.
        status: u16,
        /// The storage error code.
        code: String,
        /// The service's explanation, redacted and clipped (`: …`), or empty.
        message: String,
    },
    /// No complete answer within the client's timeout.
    #[error("blob {blob}: no answer within {}", humantime::format_duration(*.after))]
    Timeout {
        /// The blob's name.
        blob: String,
        /// The bound.
        after: Duration,
    },
    /// The request did not get through (connection refused or reset, DNS, TLS).
    #[error("blob {blob}: {message}")]
    Transport {
        /// The blob's name.
        blob: String,
        /// What failed (never the URL).
        message: String,
    },
    /// The answer lacked something every answer has (an ETag, a date).
    #[error("blob {blob}: unexpected answer: {message}")]
    BadResponse {
        /// The blob's name.
        blob: String,
        /// What is missing or malformed.
        message: String,
    },
    /// The credential could not produce a token or a signature.
    #[error("blob storage credential: {message}")]
    Credential {
        /// What failed (never a secret).
        message: String,
    },
    /// The client is set up wrongly (a URL, a name).
    #[error("blob storage: {message}")]
    Setup {
        /// What is wrong.
        message: String,
    },
}

impl BlobError {
    /// A fault that may pass by itself (throttling, 5xx, timeout, transport): the
    /// coordinator retries these and treats the others as answers.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            BlobError::Unavailable { .. } | BlobError::Timeout { .. } | BlobError::Transport { .. }
        )
    }

    /// The blob lost a race: 409 (exists) or 412 (changed).
    pub fn is_lost_race(&self) -> bool {
        matches!(
            self,
            BlobError::Conflict { .. } | BlobError::PreconditionFailed { .. }
        )
    }
}
