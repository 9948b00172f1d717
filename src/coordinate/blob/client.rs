//! [`BlobClient`]: one container, the handful of REST calls coordination makes, each
//! signed, bounded by a timeout and answered with a typed result or a [`BlobError`].
//!
//! Details that matter and are easy to miss: every write sends `Content-Length`
//! even when it is 0 (reqwest omits it for an empty body; Azure then answers 411
//! and Azurite 400); the `Date` header of every answer is kept, so the coordinator
//! can judge ages on the service's clock; tags are normalised ([`super::ETag`]); blob
//! names are percent-encoded once, and the signed path is exactly the sent path.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, Url};

use super::auth::BlobAuth;
use super::listing::{parse_page, ListedBlob};
use super::{BlobError, BlobProps, Condition, Downloaded, Metadata, Written};
use crate::pipeline::clock::Clock;
use crate::sink::secret::Redactor;

mod exchange;

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
