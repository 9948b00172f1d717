//! A webhook receiver on 127.0.0.1 (axum): it can verify Standard Webhooks
//! signatures, answer from a script of behaviours (500, 429 with Retry-After, stall),
//! be taken down and brought back on the same port, and counts deliveries both raw
//! and as an idempotent receiver would (distinct alert ids).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 and accept.
    Accept,
    /// Answer with this status, accept nothing.
    Status(u16),
    /// 429 with `Retry-After: secs`.
    TooMany(u64),
    /// Hold the request this long, then accept (the client has usually given up).
    Stall(Duration),
    /// Answer with this status and a body that echoes what a careless receiver
    /// would: the path and query percent-decoded, and the `Authorization` header.
    Echo(u16),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    /// The path.
    pub path: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Request {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Which alert a request carries (the idempotency key).
pub type KeyOf = fn(&Request) -> Option<String>;

/// The generic webhook's key: the `webhook-id` header.
pub fn webhook_id(r: &Request) -> Option<String> {
    r.headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[derive(Default)]
struct Shared {
    requests: Vec<Request>,
    plan: VecDeque<Behaviour>,
    accepted: BTreeMap<String, usize>,
    bad_signatures: usize,
}

struct Inner {
    shared: Mutex<Shared>,
    default: Mutex<Behaviour>,
    key_of: KeyOf,
    signing_key: Option<Vec<u8>>,
}

/// A running receiver.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Starts on a free port; `signing_key` (raw bytes) turns signature checks on.
    pub async fn start(key_of: KeyOf, signing_key: Option<Vec<u8>>) -> Receiver {
        let inner = Arc::new(Inner {
            shared: Mutex::default(),
            default: Mutex::new(Behaviour::Accept),
            key_of,
            signing_key,
        });
        let mut r = Receiver {
            addr: "127.0.0.1:0".parse().unwrap(),
            inner,
            stop: None,
            task: None,
        };
        r.serve("127.0.0.1:0".parse().unwrap()).await;
        r
    }

    async fn serve(&mut self, addr: SocketAddr) {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind receiver");
        self.addr = listener.local_addr().unwrap();
        let app = Router::new()
            .fallback(handle)
            .with_state(self.inner.clone());
        let (tx, rx) = oneshot::channel::<()>();
        self.stop = Some(tx);
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        }));
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Takes the receiver down: its port refuses connections until [`Self::up`].
    pub async fn down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut Box::pin(task))
                .await
                .is_err()
            {
                // A stalled request keeps graceful shutdown waiting; the listener is gone anyway.
            }
        }
    }

    /// Brings the receiver back on the same port.
    pub async fn up(&mut self) {
        let addr = self.addr;
        self.serve(addr).await;
    }

    /// Answers the next requests with these behaviours, in order.
    pub fn plan(&self, behaviours: &[Behaviour]) {
        self.inner
            .shared
            .lock()
            .unwrap()
            .plan
            .extend(behaviours.iter().copied());
    }

    /// Answers every unplanned request this way.
    pub fn set_default(&self, b: Behaviour) {
        *self.inner.default.lock().unwrap() = b;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.shared.lock().unwrap().requests.clone()
    }

    /// Requests so far.
    pub fn raw_count(&self) -> usize {
        self.inner.shared.lock().unwrap().requests.len()
    }

    /// Accepted alert ids and how often each was accepted.
    pub fn accepted(&self) -> BTreeMap<String, usize> {
        self.inner.shared.lock().unwrap().accepted.clone()
    }

    /// Requests whose signature did not verify.
    pub fn bad_signatures(&self) -> usize {
        self.inner.shared.lock().unwrap().bad_signatures
    }
}

/// Verifies a Standard Webhooks signature (an implementation independent of kvwatch's).
pub fn verify(key: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (id, ts, sigs) = (
        get("webhook-id"),
        get("webhook-timestamp"),
        get("webhook-signature"),
    );
    let Ok(ts_num) = ts.parse::<i64>() else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - ts_num).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    sigs.split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let echo = format!(
        "no such hook {} (query {}); credentials {}",
        percent_decoded(uri.path()),
        percent_decoded(uri.query().unwrap_or("")),
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
    );
    let request = Request {
        path: uri.path().to_owned(),
        headers,
        body,
    };
    let behaviour = {
        let mut shared = inner.shared.lock().unwrap();
        shared.requests.push(request.clone());
        if let Some(key) = &inner.signing_key {
            if !verify(key, &request.headers, &request.body) {
                shared.bad_signatures += 1;
                return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
            }
        }
        shared
            .plan
            .pop_front()
            .unwrap_or(*inner.default.lock().unwrap())
    };
    let accept = |inner: &Inner| {
        if let Some(key) = (inner.key_of)(&request) {
            *inner
                .shared
                .lock()
                .unwrap()
                .accepted
                .entry(key)
                .or_default() += 1;
        }
        (StatusCode::OK, "ok").into_response()
    };
    match behaviour {
        Behaviour::Accept => accept(&inner),
        Behaviour::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            // Echo the path: a receiver's error page often shows the URL (a secret).
            (status, format!("error for {}", request.path)).into_response()
        }
        Behaviour::TooMany(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", secs.to_string())],
            "slow down",
        )
            .into_response(),
        Behaviour::Stall(d) => {
            tokio::time::sleep(d).await;
            accept(&inner)
        }
        Behaviour::Echo(code) => (StatusCode::from_u16(code).unwrap(), echo).into_response(),
    }
}

/// `%XX` escapes decoded (invalid ones kept as they are).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
