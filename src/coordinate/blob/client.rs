//! [`BlobClient`]: one container, the handful of REST calls coordination makes, each
//! signed, bounded by a timeout and answered with a typed result or a [`BlobError`].
//!
//! Details that matter and are easy to miss: every write sends `Content-Length`
//! even when it is 0 (reqwest omits it for an empty body; Azure then answers 411
//! and Azurite 400); the `Date` header of every answer is kept, so the coordinator
//! can judge ages on the service's clock; tags are normalised ([`ETag`]); blob
//! names are percent-encoded once, and the signed path is exactly the sent path.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};

use super::auth::BlobAuth;
use super::listing::{parse_page, ListedBlob};
use super::{BlobError, BlobProps, Condition, Downloaded, ETag, Metadata, Written, API_VERSION};
use crate::pipeline::clock::Clock;
use crate::sink::secret::Redactor;

/// The most of an error answer's body kept (its code and message come first).
const ERROR_BODY_BYTES: usize = 16 * 1024;

/// How a client connects.
#[derive(Debug, Clone)]
pub struct BlobClientOptions {
    /// The bound on one call, from sending to the last byte of the answer.
    pub timeout: Duration,
    /// Extra trusted roots (PEM), besides the platform's: a TLS-inspecting proxy,
    /// Azurite over https in tests.
    pub ca_pem: Option<Vec<u8>>,
}

impl Default for BlobClientOptions {
    fn default() -> Self {
        BlobClientOptions {
            timeout: Duration::from_secs(5),
            ca_pem: None,
        }
    }
}

/// A client for one container. Clones share one connection pool.
#[derive(Clone)]
pub struct BlobClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    container_url: Url,
    container: String,
    auth: BlobAuth,
    timeout: Duration,
    clock: Arc<dyn Clock>,
    redactor: Redactor,
}

impl std::fmt::Debug for BlobClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BlobClient({}, {:?})",
            self.inner.container_url, self.inner.auth
        )
    }
}

/// An answer read whole.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl BlobClient {
    /// A client for `container` in the account at `endpoint`
    /// (`https://acct.blob.core.windows.net`, `http://127.0.0.1:PORT/devstoreaccount1`).
    pub fn new(
        endpoint: &Url,
        container: &str,
        auth: BlobAuth,
        options: BlobClientOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<BlobClient, BlobError> {
        let setup = |message: String| BlobError::Setup { message };
        check_container_name(container).map_err(setup)?;
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            return Err(setup("the account URL must be an http or https URL".into()));
        }
        if endpoint.query().is_some() {
            return Err(setup(
                "the account URL has a query: give a SAS as the credential, not in the URL".into(),
            ));
        }
        if matches!(auth, BlobAuth::Bearer(_)) && endpoint.scheme() != "https" {
            return Err(setup("bearer tokens are only sent over https".into()));
        }
        let mut container_url = endpoint.clone();
        let path = format!("{}/{container}", endpoint.path().trim_end_matches('/'));
        container_url.set_path(&path);
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("kvwatch/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &options.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| setup(format!("the CA file is not PEM: {}", e.without_url())))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| setup(format!("cannot build an HTTP client: {}", e.without_url())))?;
        let mut redactor = Redactor::new();
        for secret in auth.secrets() {
            redactor.add(&secret);
        }
        Ok(BlobClient {
            inner: Arc::new(Inner {
                http,
                container_url,
                container: container.to_owned(),
                auth,
                timeout: options.timeout,
                clock,
                redactor,
            }),
        })
    }

    /// The container's name.
    pub fn container(&self) -> &str {
        &self.inner.container
    }

    /// The container's URL (no credential in it).
    pub fn container_url(&self) -> &Url {
        &self.inner.container_url
    }

    /// Uploads a block blob (replacing it, when the condition allows) with `metadata`.
    pub async fn put(
        &self,
        blob: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: &Metadata,
        condition: &Condition,
    ) -> Result<Written, BlobError> {
        let mut headers = self.metadata_headers(blob, metadata)?;
        headers.insert("x-ms-blob-type", HeaderValue::from_static("BlockBlob"));
        headers.insert(CONTENT_TYPE, self.value(blob, content_type)?);
        self.condition(blob, condition, &mut headers)?;
        let reply = self
            .send(Method::PUT, Some(blob), &[], headers, Some(body))
            .await?;
        self.written(blob, reply)
    }

    /// Replaces a blob's metadata (all of it), leaving its body.
    pub async fn set_metadata(
        &self,
        blob: &str,
        metadata: &Metadata,
        condition: &Condition,
    ) -> Result<Written, BlobError> {
        let mut headers = self.metadata_headers(blob, metadata)?;
        self.condition(blob, condition, &mut headers)?;
        let reply = self
            .send(
                Method::PUT,
                Some(blob),
                &[("comp", "metadata")],
                headers,
                Some(Vec::new()),
            )
            .await?;
        self.written(blob, reply)
    }

    /// A blob's properties and metadata.
    pub async fn properties(&self, blob: &str) -> Result<BlobProps, BlobError> {
        let reply = self
            .send(Method::HEAD, Some(blob), &[], HeaderMap::new(), None)
            .await?;
        self.props(blob, &reply.headers)
    }

    /// Downloads a blob of at most `max_bytes`.
    pub async fn get(&self, blob: &str, max_bytes: u64) -> Result<Downloaded, BlobError> {
        let reply = self
            .send_limited(
                Method::GET,
                Some(blob),
                &[],
                HeaderMap::new(),
                None,
                max_bytes,
            )
            .await?;
        let props = self.props(blob, &reply.headers)?;
        Ok(Downloaded {
            props,
            body: reply.body,
        })
    }

    /// Deletes a blob.
    pub async fn delete(&self, blob: &str, condition: &Condition) -> Result<(), BlobError> {
        let mut headers = HeaderMap::new();
        self.condition(blob, condition, &mut headers)?;
        self.send(Method::DELETE, Some(blob), &[], headers, None)
            .await
            .map(|_| ())
    }

    /// Every blob whose name starts with `prefix`, with its metadata, in name order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ListedBlob>, BlobError> {
        let mut blobs = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut query = vec![
                ("restype", "container"),
                ("comp", "list"),
                ("prefix", prefix),
                ("include", "metadata"),
            ];
            if let Some(m) = &marker {
                query.push(("marker", m.as_str()));
            }
            let reply = self
                .send(Method::GET, None, &query, HeaderMap::new(), None)
                .await?;
            let text = String::from_utf8_lossy(&reply.body);
            let page = parse_page(&text).map_err(|message| BlobError::BadResponse {
                blob: format!("{}/{prefix}*", self.inner.container),
                message,
            })?;
            blobs.extend(page.blobs);
            match page.next_marker {
                Some(next) => marker = Some(next),
                None => return Ok(blobs),
            }
        }
    }

    /// Creates the container; `false` when it exists already. (Tests and first
    /// setups; in production the container is created with the account.)
    pub async fn create_container(&self) -> Result<bool, BlobError> {
        let query = [("restype", "container")];
        match self
            .send(
                Method::PUT,
                None,
                &query,
                HeaderMap::new(),
                Some(Vec::new()),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(BlobError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn send(
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

    async fn send_limited(
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

    fn written(&self, blob: &str, reply: Reply) -> Result<Written, BlobError> {
        Ok(Written {
            etag: etag(blob, &reply.headers)?,
            last_modified: date(blob, &reply.headers, "last-modified")?,
            server_date: date(blob, &reply.headers, "date")?,
        })
    }

    fn props(&self, blob: &str, headers: &HeaderMap) -> Result<BlobProps, BlobError> {
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

    fn metadata_headers(&self, blob: &str, metadata: &Metadata) -> Result<HeaderMap, BlobError> {
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

    fn condition(
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

    fn value(&self, blob: &str, text: &str) -> Result<HeaderValue, BlobError> {
        HeaderValue::from_str(text).map_err(|_| BlobError::Setup {
            message: format!("blob {blob}: a header value is not plain ASCII text"),
        })
    }
}

/// Container names: 3 to 63 of `a-z`, `0-9` and single hyphens, starting and ending
/// with a letter or digit.
pub fn check_container_name(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "container {name:?}: 3 to 63 lowercase letters, digits and single hyphens"
        ))
    }
}

/// Percent-encodes a blob name for the path: `/` and the unreserved characters
/// stay, everything else is `%XX`.
fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_once_and_container_names_checked() {
        assert_eq!(
            encode_name("ns.servicebus.windows.net/hub/$default/ownership/0"),
            "ns.servicebus.windows.net/hub/%24default/ownership/0"
        );
        assert_eq!(encode_name("a b%c"), "a%20b%25c");
        for good in ["kvwatch", "kv-watch-1", "abc"] {
            assert!(check_container_name(good).is_ok(), "{good}");
        }
        for bad in ["ab", "KVWatch", "-kv", "kv-", "k--v", "kv_watch"] {
            assert!(check_container_name(bad).is_err(), "{bad}");
        }
    }
}
