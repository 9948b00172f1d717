//! The HTTP endpoint: `/metrics` (Prometheus text format), `/healthz` (the process
//! runs) and `/readyz` (every readiness check passes), with axum on tokio.
//!
//! The live service runs it as a task on its runtime ([`serve`]); `kvwatch replay`,
//! which is synchronous, runs it on a thread of its own ([`MetricsServer`]) so a
//! scrape never waits for the pipeline and the pipeline never waits for a scrape.
//! It listens on loopback unless told otherwise (`[metrics] listen`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;

use super::{Metrics, MetricsError, TEXT_CONTENT_TYPE};

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

/// Serves the endpoint on `listener` until `shutdown` completes (for a caller that
/// already runs tokio).
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The endpoint on a thread of its own, with a single-threaded runtime; stops when
/// dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl MetricsServer {
    /// Binds `addr` (port 0 picks a free port; see [`MetricsServer::local_addr`])
    /// and starts serving.
    pub fn start(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<MetricsServer, MetricsError> {
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
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("kvwatch-metrics".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener)?;
                    serve(listener, metrics, async move {
                        let _ = stopped.await;
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

    /// Stops serving (in-flight scrapes finish) and waits for the thread.
    pub fn stop(mut self) -> Result<(), MetricsError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), MetricsError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
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
        let _ = self.shutdown();
    }
}
