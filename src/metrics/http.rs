//! The HTTP endpoint: `/metrics` (Prometheus text format), `/healthz` (the process
//! runs) and `/readyz` (every readiness check passes), with axum on tokio.
//!
//! The live service and `kvwatch replay` run it on a thread of its own
//! ([`MetricsServer`]) so a scrape never waits for the pipeline and the pipeline
//! never waits for a scrape. It listens on loopback unless told otherwise
//! (`[metrics] listen`).
//!
//! Anyone who can reach it can open connections, so it defends the process: at most
//! [`ServeLimits::max_connections`] at once (a further one is answered `503` and
//! closed, never queued, so it cannot hold a descriptor the pipeline needs); a client
//! gets [`ServeLimits::request_timeout`] to send its request's headers, and an idle
//! connection is closed after as long; and stopping the endpoint gives requests in
//! flight a bounded grace, then drops every connection, so no client can keep
//! kvwatch from exiting.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinSet;

use super::{Metrics, MetricsError, TEXT_CONTENT_TYPE};

/// What the endpoint allows its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Connections served at once; more are answered `503` and closed.
    pub max_connections: usize,
    /// The longest a client may take to send a request's headers, and the longest a
    /// connection may sit idle.
    pub request_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            max_connections: 32,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The longest a connection lives, however busy: a keep-alive scraper reconnects.
const MAX_CONNECTION_AGE: Duration = Duration::from_secs(300);
/// The most a client may send before its headers are complete.
const MAX_REQUEST_BUFFER: usize = 64 * 1024;
/// What a connection over the limit gets before it is closed.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n";

/// The routes, over one [`Metrics`].
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .with_state(metrics)
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, TEXT_CONTENT_TYPE)], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(metrics): State<Arc<Metrics>>) -> Response {
    let report = metrics.readiness().report();
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        report.render(),
    )
        .into_response()
}

async fn not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "not found; try /metrics, /healthz or /readyz\n",
    )
}

/// Serves the endpoint on `listener` until `shutdown` completes, within `limits`;
/// then requests in flight get up to `grace` to finish and every connection is
/// dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    limits: ServeLimits,
    shutdown: impl Future<Output = Duration> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(metrics);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (closing, closed) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    let grace = loop {
        tokio::select! {
            grace = &mut shutdown => break grace,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors (or a connection reset before it was
                        // taken): wait a little rather than spin.
                        tracing::debug!("metrics endpoint: cannot accept a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                match Arc::clone(&permits).try_acquire_owned() {
                    Ok(permit) => {
                        let (app, closed) = (app.clone(), closed.clone());
                        connections.spawn(async move {
                            connection(stream, app, limits, closed).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        let _ = stream.try_write(BUSY);
                    }
                }
                while connections.try_join_next().is_some() {}
            }
        }
    };
    drop(listener);
    let _ = closing.send(true);
    let all_done = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, all_done).await.is_err() {
        connections.abort_all();
    }
    Ok(())
}

/// One client connection: HTTP/1.1 with a header-read (and idle) timeout, ended
/// gracefully when the endpoint stops or the connection grows old.
async fn connection(
    stream: tokio::net::TcpStream,
    app: Router,
    limits: ServeLimits,
    mut closed: watch::Receiver<bool>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.request_timeout)
        .max_buf_size(MAX_REQUEST_BUFFER);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = closed.changed() => {}
        () = tokio::time::sleep(MAX_CONNECTION_AGE) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(limits.request_timeout, conn).await;
}

/// The endpoint on a thread of its own, with a single-threaded runtime; stops when
/// dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<Duration>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl MetricsServer {
    /// Binds `addr` (port 0 picks a free port; see [`MetricsServer::local_addr`])
    /// and starts serving, with the default [`ServeLimits`].
    pub fn start(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<MetricsServer, MetricsError> {
        Self::start_with(addr, metrics, ServeLimits::default())
    }

    /// Binds `addr` and starts serving within `limits`.
    pub fn start_with(
        addr: SocketAddr,
        metrics: Arc<Metrics>,
        limits: ServeLimits,
    ) -> Result<MetricsServer, MetricsError> {
        let listen_err = |source| MetricsError::Listen {
            addr: addr.to_string(),
            source,
        };
        // Bind here, not on the thread, so a taken port is an error of this call.
        let std_listener = std::net::TcpListener::bind(addr).map_err(listen_err)?;
        std_listener.set_nonblocking(true).map_err(listen_err)?;
        let local = std_listener.local_addr().map_err(listen_err)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(listen_err)?;
        let (stop, stopped) = oneshot::channel::<Duration>();
        let thread = std::thread::Builder::new()
            .name("kvwatch-metrics".to_owned())
            .spawn(move || {
                // Dropping the runtime at the end drops whatever connection is left.
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener)?;
                    serve(listener, metrics, limits, async move {
                        stopped.await.unwrap_or(Duration::ZERO)
                    })
                    .await
                })
            })
            .map_err(listen_err)?;
        Ok(MetricsServer {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving: requests in flight get up to `grace` to finish, then every
    /// connection is dropped; waits for the thread.
    pub fn stop_within(mut self, grace: Duration) -> Result<(), MetricsError> {
        self.shutdown(grace)
    }

    /// Stops serving at once (requests in flight get a second) and waits for the
    /// thread.
    pub fn stop(mut self) -> Result<(), MetricsError> {
        self.shutdown(Duration::from_secs(1))
    }

    fn shutdown(&mut self, grace: Duration) -> Result<(), MetricsError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(grace);
        }
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(MetricsError::Serve(e.to_string())),
            Some(Err(_)) => Err(MetricsError::Serve(
                "the endpoint thread panicked".to_owned(),
            )),
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        let _ = self.shutdown(Duration::ZERO);
    }
}
