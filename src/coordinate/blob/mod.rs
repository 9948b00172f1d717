//! A small Azure Blob Storage REST client: exactly the calls coordination needs
//! (conditional uploads, metadata writes, properties, downloads, deletes, one
//! listing), on the reqwest kvwatch already uses.
//!
//! Why our own: the official `azure_storage_blob` crate cannot resolve beside the
//! `azure_core` pre-release that `azure_messaging_eventhubs` 0.16 pins, and has no
//! Shared Key or connection strings (which Azurite and many operators use). The
//! surface is small enough to own: [`BlobClient`] (in `client.rs`) with Shared Key,
//! SAS and Microsoft Entra bearer tokens ([`auth`]), a pinned `x-ms-version`, an
//! explicit `Content-Length` on every write, a timeout on every call, and errors
//! that name the blob and never carry a secret ([`BlobError`]). Should an
//! `azure_storage_blob` release on the same `azure_core` appear, this module is the
//! seam to re-implement on it; nothing above it would change.

pub mod auth;
mod client;
pub mod connection;
mod error;
mod listing;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

pub use auth::{BlobAuth, SharedKey};
pub use client::{check_container_name, BlobClient, BlobClientOptions};
pub use connection::{ConnectionString, ConnectionStringError};
pub use error::BlobError;
pub use listing::ListedBlob;

/// The REST API version every request is pinned to. Azure and Azurite 3.35 (which
/// knows up to 2025-11-05) both serve it, so Azurite needs no extra flag.
pub const API_VERSION: &str = "2023-11-03";

/// Blob metadata (`x-ms-meta-*`): lowercase names, ASCII values. A write replaces
/// all of a blob's metadata with these pairs.
pub type Metadata = BTreeMap<String, String>;

/// An entity tag, always in its quoted header form (`"0x8D…"`), whichever form the
/// service used (headers quote it, listings do not), so tags compare and can be sent
/// back in `If-Match` as they are.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ETag(String);

impl ETag {
    /// Normalises a tag as a header or a listing gives it (`"0x1"`, `0x1`, ` "0x1" `).
    pub fn parse(raw: &str) -> Option<ETag> {
        let inner = raw.trim().trim_matches('"');
        if inner.is_empty() || inner.contains('"') || !inner.is_ascii() {
            return None;
        }
        Some(ETag(format!("\"{inner}\"")))
    }

    /// The quoted form, for `If-Match`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The precondition of a write or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Unconditional.
    Always,
    /// Only if the blob still has this tag (`If-Match`); else
    /// [`BlobError::PreconditionFailed`] (or [`BlobError::NotFound`] when it is gone).
    IfMatch(ETag),
    /// Only if the blob does not exist (`If-None-Match: *`); else
    /// [`BlobError::Conflict`].
    IfAbsent,
}

/// What a successful write returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The blob's new tag.
    pub etag: ETag,
    /// When the service wrote it (its clock, 1-second resolution).
    pub last_modified: DateTime<Utc>,
    /// The service's clock when it answered (`Date`).
    pub server_date: DateTime<Utc>,
}

/// A blob's properties (`HEAD`, or alongside a download).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobProps {
    /// The current tag.
    pub etag: ETag,
    /// When the blob (or its metadata) was last written, by the service's clock.
    pub last_modified: DateTime<Utc>,
    /// The service's clock when it answered; `server_date - last_modified` is the
    /// blob's age without trusting this host's clock.
    pub server_date: DateTime<Utc>,
    /// The blob's metadata.
    pub metadata: Metadata,
    /// The body's length in bytes.
    pub content_length: u64,
}

/// A downloaded blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Its properties.
    pub props: BlobProps,
    /// Its body.
    pub body: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_normalised_to_the_quoted_header_form() {
        let table = [
            ("\"0x8DCE1\"", Some("\"0x8DCE1\"")),
            ("0x8DCE1", Some("\"0x8DCE1\"")),
            ("  \"0x1\" ", Some("\"0x1\"")),
            ("", None),
            ("\"\"", None),
            ("\"a\"b\"", None),
        ];
        for (raw, want) in table {
            assert_eq!(ETag::parse(raw).as_ref().map(ETag::as_str), want, "{raw:?}");
        }
        assert_eq!(ETag::parse("0x1"), ETag::parse("\"0x1\""));
    }
}
