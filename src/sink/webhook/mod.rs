//! What every webhook sink shares: an HTTP client with timeouts and no redirects, a
//! secret URL, and one reading of HTTP answers: 2xx delivered; 408, 425, 429 and 5xx
//! worth retrying (honouring `Retry-After`); other answers permanent. Errors never
//! carry the URL (it is a secret), and answer bodies are clipped and made inert.

pub mod chat;
pub mod generic;
pub mod pagerduty;

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;

use super::render::{clip, inert};
use super::secret::{resolve, Redactor, Secret};
use super::transport::{AttemptError, BuildError, TransportOptions};
use crate::config::SecretRef;

/// The longest `Retry-After` honoured; a longer one is capped (a receiver cannot park
/// a sink for a day).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A secret endpoint and a client to post to it.
pub struct Poster {
    client: reqwest::Client,
    url: Secret,
    redactor: Redactor,
}

impl Poster {
    /// Reads the URL secret and builds the client.
    pub fn new(url: &SecretRef, key: &str, opts: TransportOptions) -> Result<Self, BuildError> {
        let url = resolve(url, key)?;
        let parsed = reqwest::Url::parse(url.expose()).map_err(|_| BuildError::Invalid {
            key: key.to_owned(),
            message: "the secret is not a URL".into(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(BuildError::Invalid {
                key: key.to_owned(),
                message: "the URL must be http or https".into(),
            });
        }
        let client = client(opts)?;
        let mut redactor = Redactor::new();
        redactor.add(&url);
        Ok(Poster {
            client,
            url,
            redactor,
        })
    }

    /// A poster for a URL that is not secret (PagerDuty's endpoint).
    pub fn public(url: &str, key: &str, opts: TransportOptions) -> Result<Self, BuildError> {
        reqwest::Url::parse(url).map_err(|e| BuildError::Invalid {
            key: key.to_owned(),
            message: format!("not a URL: {e}"),
        })?;
        Ok(Poster {
            client: client(opts)?,
            url: Secret::new(url),
            redactor: Redactor::new(),
        })
    }

    /// The redactor knowing this URL.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Adds another secret to scrub (a signing key, a routing key).
    pub fn redact_also(&mut self, secret: &Secret) {
        self.redactor.add(secret);
    }

    /// Posts a JSON body with extra headers; reads the answer.
    pub async fn post(
        &self,
        body: Vec<u8>,
        mut headers: HeaderMap,
    ) -> Result<Answer, AttemptError> {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let response = self
            .client
            .post(self.url.expose())
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = response.text().await.unwrap_or_default();
        Ok(Answer {
            status,
            retry_after,
            body: clip(&inert(&text), 300),
        })
    }
}

fn client(opts: TransportOptions) -> Result<reqwest::Client, BuildError> {
    reqwest::Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("kvwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| BuildError::Invalid {
            key: "sinks".into(),
            message: format!("cannot build an HTTP client: {}", e.without_url()),
        })
}

/// A receiver's answer.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// `Retry-After`, when given.
    pub retry_after: Option<Duration>,
    /// The body, clipped and inert.
    pub body: String,
}

impl Answer {
    /// 2xx is success; the rest is classified per HTTP semantics.
    pub fn into_result(self) -> Result<(), AttemptError> {
        let status = self.status;
        if status.is_success() {
            return Ok(());
        }
        let message = if self.body.is_empty() {
            format!("receiver answered {status}")
        } else {
            format!("receiver answered {status}: {}", self.body)
        };
        let code = status.as_u16();
        let retryable = matches!(code, 408 | 425 | 429) || status.is_server_error();
        Err(AttemptError {
            retryable,
            rate_limited: code == 429,
            retry_after: self
                .retry_after
                .filter(|_| retryable)
                .map(|d| d.min(MAX_RETRY_AFTER)),
            message,
        })
    }
}

/// Describes a request failure without its URL.
fn request_error(e: reqwest::Error) -> AttemptError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut message = format!("{kind}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    AttemptError::retryable(clip(&message, 400))
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        let a = |code: u16, ra: Option<u64>| Answer {
            status: StatusCode::from_u16(code).unwrap(),
            retry_after: ra.map(Duration::from_secs),
            body: String::new(),
        };
        assert!(a(200, None).into_result().is_ok());
        assert!(a(202, None).into_result().is_ok());
        let e = a(429, Some(7)).into_result().unwrap_err();
        assert!(e.retryable && e.rate_limited && e.retry_after == Some(Duration::from_secs(7)));
        assert!(a(503, None).into_result().unwrap_err().retryable);
        assert!(!a(400, None).into_result().unwrap_err().retryable);
        assert!(!a(404, None).into_result().unwrap_err().retryable);
        assert_eq!(
            a(429, Some(999_999)).into_result().unwrap_err().retry_after,
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
