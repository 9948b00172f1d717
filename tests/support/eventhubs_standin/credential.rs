//! A `TokenCredential` that hands out one fixed token, for clients of the
//! stand-in. The SDK requires a credential even with a custom endpoint: it
//! asks it for a token and sends that token in a `$cbs` put-token request
//! before it attaches each link. The stand-in accepts any token.

use azure_core::{
    credentials::{AccessToken, TokenCredential, TokenRequestOptions},
    time::{Duration, OffsetDateTime},
};
use std::{future::Future, pin::Pin, sync::Arc};

/// A credential whose token never needs refreshing during a test.
#[derive(Debug, Clone)]
pub struct StaticTokenCredential {
    token: String,
}

impl StaticTokenCredential {
    /// Creates the credential, ready to pass to a client builder's `open`.
    pub fn shared() -> Arc<dyn TokenCredential> {
        Arc::new(Self {
            token: "eventhubs-standin-token".to_string(),
        })
    }

    fn access_token(&self) -> AccessToken {
        // Far enough ahead that the SDK's refresher (6 minutes before expiry)
        // stays asleep for the whole test.
        AccessToken::new(
            self.token.clone(),
            OffsetDateTime::now_utc() + Duration::hours(24),
        )
    }
}

/// `TokenCredential` is an `async_trait`; this is the signature that the
/// macro generates, written out so that the tests need no extra crate.
impl TokenCredential for StaticTokenCredential {
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
        let token = self.access_token();
        Box::pin(async move { Ok(token) })
    }
}
