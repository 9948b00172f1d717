//! The generic webhook: the alert contract as the JSON body, signed per the Standard
//! Webhooks scheme so receivers can check it came from kvwatch and is fresh.
//!
//! Headers: `webhook-id` (the alert id: the same on every retry, so it is the
//! receiver's idempotency key), `webhook-timestamp` (Unix seconds, wall clock) and
//! `webhook-signature` (`v1,` + base64 of HMAC-SHA256 over `id.timestamp.body` with
//! the base64-decoded `whsec_` secret).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderValue};
use sha2::Sha256;

use super::Poster;
use crate::config::delivery::WebhookSettings;
use crate::config::SinkKind;
use crate::sink::secret::{resolve, Redactor};
use crate::sink::transport::{AttemptError, BuildError, Job, Transport, TransportOptions};

/// Posts signed alert JSON.
pub struct GenericWebhook {
    poster: Poster,
    key: Vec<u8>,
}

impl GenericWebhook {
    /// Reads the URL and signing secret.
    pub fn new(
        settings: &WebhookSettings,
        key: &dyn Fn(&str) -> String,
        opts: TransportOptions,
    ) -> Result<Self, BuildError> {
        let mut poster = Poster::new(&settings.url, &key("url"), opts)?;
        let secret = resolve(&settings.signing_secret, &key("signing_secret"))?;
        poster.redact_also(&secret);
        let signing_key = decode_secret(secret.expose()).ok_or_else(|| BuildError::Invalid {
            key: key("signing_secret"),
            message: "the secret must be `whsec_` followed by base64 (Standard Webhooks)".into(),
        })?;
        Ok(GenericWebhook {
            poster,
            key: signing_key,
        })
    }
}

/// The key bytes of a `whsec_…` secret (the prefix is optional).
pub fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    B64.decode(b64.trim()).ok().filter(|k| !k.is_empty())
}

/// The `webhook-signature` value for a message.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length; the else branch is unreachable.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

fn header(value: &str) -> Result<HeaderValue, AttemptError> {
    HeaderValue::from_str(value)
        .map_err(|_| AttemptError::permanent("the alert id cannot be sent as a header"))
}

impl Transport for GenericWebhook {
    fn kind(&self) -> SinkKind {
        SinkKind::Webhook
    }

    fn send<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, Result<(), AttemptError>> {
        Box::pin(async move {
            let Job::One(alert) = job else {
                return Err(AttemptError::permanent("webhooks take one alert at a time"));
            };
            let body = alert.to_json_line().into_bytes();
            let timestamp = chrono::Utc::now().timestamp();
            let mut headers = HeaderMap::new();
            headers.insert("webhook-id", header(&alert.id)?);
            headers.insert("webhook-timestamp", header(&timestamp.to_string())?);
            headers.insert(
                "webhook-signature",
                header(&sign(&self.key, &alert.id, timestamp, &body))?,
            );
            self.poster.post(body, headers).await?.into_result()
        })
    }

    fn redactor(&self) -> &Redactor {
        self.poster.redactor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        let key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = sign(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(decode_secret("whsec_not base64!").is_none());
    }
}
