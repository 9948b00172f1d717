//! The plumbing under every [`BlobClient`] call: the URL (the name encoded once),
//! the version, date and length headers, the credential (signed, appended or
//! fetched), one timeout around the whole exchange, and the answer turned into a
//! typed result or a classified [`BlobError`] with secrets scrubbed.

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH};
use reqwest::{Method, StatusCode};

use super::encode_name;
use super::BlobClient;
use crate::coordinate::blob::auth::BlobAuth;
use crate::coordinate::blob::{
    BlobError, BlobProps, Condition, ETag, Metadata, Written, API_VERSION,
};

/// The most of an error answer's body kept (its code and message come first).
const ERROR_BODY_BYTES: usize = 16 * 1024;

/// An answer read whole.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

impl BlobClient {
    pub(super) async fn send(
        &self,
        method: Method,
        blob: Option<&str>,
        query: &[(&str, &str)],
        headers: HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, BlobError> {
        // Answers other than downloads are small (errors, listings).
        self.send_limited(method, blob, query, headers, body, 8 << 20)
            .await
    }

    pub(super) async fn send_limited(
        &self,
        method: Method,
        blob: Option<&str>,
        query: &[(&str, &str)],
        mut headers: HeaderMap,
        body: Option<Vec<u8>>,
        max_bytes: u64,
    ) -> Result<Reply, BlobError> {
        let name = blob.map_or_else(|| self.inner.container.clone(), str::to_owned);
        let mut url = self.inner.container_url.clone();
        if let Some(blob) = blob {
            url.set_path(&format!("{}/{}", url.path(), encode_name(blob)));
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        headers.insert("x-ms-version", HeaderValue::from_static(API_VERSION));
        let date = self
            .inner
            .clock
            .now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        headers.insert("x-ms-date", self.value(&name, &date)?);
        if let Some(body) = &body {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let exchange = async {
            match &self.inner.auth {
                BlobAuth::SharedKey(key) => {
                    let auth = key.authorization(&method, &url, &headers)?;
                    headers.insert("authorization", self.value(&name, &auth)?);
                }
                BlobAuth::Sas(sas) => {
                    let joined = match url.query() {
                        Some(q) => format!("{q}&{}", sas.expose()),
                        None => sas.expose().to_owned(),
                    };
                    url.set_query(Some(&joined));
                }
                BlobAuth::Bearer(token) => {
                    let auth = token.authorization().await?;
                    let mut value = self.value(&name, &auth)?;
                    value.set_sensitive(true);
                    headers.insert("authorization", value);
                }
            }
            let mut request = self.inner.http.request(method, url).headers(headers);
            if let Some(body) = body {
                request = request.body(body);
            }
            let mut response = request.send().await.map_err(|e| self.transport(&name, e))?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| self.transport(&name, e))?
            {
                if !status.is_success() {
                    // An error's explanation: keep the start, it is only read for its code.
                    let room = ERROR_BODY_BYTES.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    continue;
                }
                if (body.len() + chunk.len()) as u64 > max_bytes {
                    return Err(BlobError::Refused {
                        blob: name.clone(),
                        status: status.as_u16(),
                        code: "TooLarge".to_owned(),
                        message: format!(": the answer is larger than {max_bytes} bytes"),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Reply {
                status,
                headers,
                body,
            })
        };
        let reply = tokio::time::timeout(self.inner.timeout, exchange)
            .await
            .map_err(|_| BlobError::Timeout {
                blob: name.clone(),
                after: self.inner.timeout,
            })??;
        if reply.status.is_success() {
            Ok(reply)
        } else {
            Err(self.failure(&name, &reply))
        }
    }

    fn failure(&self, blob: &str, reply: &Reply) -> BlobError {
        let text = String::from_utf8_lossy(&reply.body);
        let code = reply
            .headers
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| xml_text(&text, "Code"))
            .unwrap_or_else(|| "no error code".to_owned());
        let message = xml_text(&text, "Message")
            .map(|m| {
                let first = m.lines().next().unwrap_or_default();
                let clipped: String = first.chars().take(200).collect();
                format!(": {}", self.inner.redactor.clean(&clipped))
            })
            .unwrap_or_default();
        let blob = blob.to_owned();
        let status = reply.status.as_u16();
        match reply.status {
            StatusCode::NOT_FOUND => BlobError::NotFound { blob, code },
            StatusCode::CONFLICT => BlobError::Conflict { blob, code },
            StatusCode::PRECONDITION_FAILED => BlobError::PreconditionFailed { blob, code },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => BlobError::Auth {
                blob,
                status,
                code,
                message,
            },
            s if s == StatusCode::TOO_MANY_REQUESTS
                || s == StatusCode::REQUEST_TIMEOUT
                || s.is_server_error() =>
            {
                BlobError::Unavailable { blob, status, code }
            }
            _ => BlobError::Refused {
                blob,
                status,
                code,
                message,
            },
        }
    }

    fn transport(&self, blob: &str, error: reqwest::Error) -> BlobError {
        if error.is_timeout() {
            return BlobError::Timeout {
                blob: blob.to_owned(),
                after: self.inner.timeout,
            };
        }
        let error = error.without_url();
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        BlobError::Transport {
            blob: blob.to_owned(),
            message: self.inner.redactor.clean(&message),
        }
    }

    pub(super) fn written(&self, blob: &str, reply: Reply) -> Result<Written, BlobError> {
        Ok(Written {
            etag: etag(blob, &reply.headers)?,
            last_modified: date(blob, &reply.headers, "last-modified")?,
            server_date: date(blob, &reply.headers, "date")?,
        })
    }

    pub(super) fn props(&self, blob: &str, headers: &HeaderMap) -> Result<BlobProps, BlobError> {
        let mut metadata = Metadata::new();
        for (name, value) in headers {
            if let Some(key) = name.as_str().strip_prefix("x-ms-meta-") {
                let value = value.to_str().map_err(|_| BlobError::BadResponse {
                    blob: blob.to_owned(),
                    message: format!("metadata {key} is not text"),
                })?;
                metadata.insert(key.to_ascii_lowercase(), value.to_owned());
            }
        }
        let content_length = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(BlobProps {
            etag: etag(blob, headers)?,
            last_modified: date(blob, headers, "last-modified")?,
            server_date: date(blob, headers, "date")?,
            metadata,
            content_length,
        })
    }

    pub(super) fn metadata_headers(
        &self,
        blob: &str,
        metadata: &Metadata,
    ) -> Result<HeaderMap, BlobError> {
        let mut headers = HeaderMap::new();
        for (key, value) in metadata {
            let valid = key.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            let name = HeaderName::from_bytes(format!("x-ms-meta-{key}").as_bytes())
                .ok()
                .filter(|_| valid)
                .ok_or_else(|| BlobError::Setup {
                    message: format!(
                        "blob {blob}: metadata name {key:?} is not a lowercase identifier"
                    ),
                })?;
            headers.insert(name, self.value(blob, value)?);
        }
        Ok(headers)
    }

    pub(super) fn condition(
        &self,
        blob: &str,
        condition: &Condition,
        headers: &mut HeaderMap,
    ) -> Result<(), BlobError> {
        match condition {
            Condition::Always => {}
            Condition::IfMatch(tag) => {
                headers.insert("if-match", self.value(blob, tag.as_str())?);
            }
            Condition::IfAbsent => {
                headers.insert("if-none-match", HeaderValue::from_static("*"));
            }
        }
        Ok(())
    }

    pub(super) fn value(&self, blob: &str, text: &str) -> Result<HeaderValue, BlobError> {
        HeaderValue::from_str(text).map_err(|_| BlobError::Setup {
            message: format!("blob {blob}: a header value is not plain ASCII text"),
        })
    }
}

fn etag(blob: &str, headers: &HeaderMap) -> Result<ETag, BlobError> {
    headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .and_then(ETag::parse)
        .ok_or_else(|| BlobError::BadResponse {
            blob: blob.to_owned(),
            message: "no ETag".to_owned(),
        })
}

fn date(blob: &str, headers: &HeaderMap, name: &str) -> Result<DateTime<Utc>, BlobError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| BlobError::BadResponse {
            blob: blob.to_owned(),
            message: format!("no valid {name} header"),
        })
}

fn xml_text(xml: &str, element: &str) -> Option<String> {
    let open = format!("<{element}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{element}>"))? + start;
    Some(xml[start..end].trim().to_owned()).filter(|t| !t.is_empty())
}
