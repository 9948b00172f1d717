//! A `TokenCredential` for clients of an embedded hub: it signs a fresh shared access
//! signature for the whole namespace with one of the hub's keys, valid for the hub's
//! token lifetime, each time the SDK asks.
//!
//! The SDK needs a credential even with a custom endpoint: it asks for a token and
//! puts it on `$cbs` before it attaches each link, then refreshes it six minutes
//! (± 5 s) before it expires. A lifetime just above six minutes therefore makes the
//! SDK re-authorize every few seconds, against a hub that checks every signature and
//! expiry: the refresh path is exercised for real.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::time::OffsetDateTime;

use super::sas::SharedAccessKey;

/// Issues namespace-wide SAS tokens signed with one of the hub's keys.
#[derive(Debug)]
pub struct HubCredential {
    key: SharedAccessKey,
    audience: String,
    lifetime: Duration,
    issued: AtomicU64,
}

impl HubCredential {
    /// A credential for `namespace`, signing with `key`, tokens valid for `lifetime`.
    pub fn new(namespace: &str, key: SharedAccessKey, lifetime: Duration) -> Self {
        HubCredential {
            key,
            audience: format!("amqps://{namespace}/"),
            lifetime,
            issued: AtomicU64::new(0),
        }
    }

    /// How many tokens it issued (the SDK asks again at every refresh).
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    fn token(&self) -> AccessToken {
        self.issued.fetch_add(1, Ordering::Relaxed);
        let expires = SystemTime::now() + self.lifetime;
        let token = self.key.sign(&self.audience, expires);
        let seconds = expires
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let expires_on =
            OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        AccessToken::new(token, expires_on)
    }
}

/// `TokenCredential` is an `async_trait`; this is the signature the macro generates,
/// written out so that no extra crate is needed.
impl TokenCredential for HubCredential {
    fn get_token<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        _scopes: &'life1 [&'life2 str],
        _options: Option<TokenRequestOptions<'life3>>,
    ) -> Pin<Box<dyn Future<Output = azure_core::Result<AccessToken>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        let token = self.token();
        Box::pin(async move { Ok(token) })
    }
}
