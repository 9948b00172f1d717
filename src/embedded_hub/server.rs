//! The listener: accepts TCP connections and serves each (see [`super::connection`]).
//!
//! Every task is owned by the task above it (listener → connection → session → link),
//! so stopping the listener stops them all.

use super::{connection, Shared};
use std::{io, net::SocketAddr, sync::Arc};
use tokio::{
    net::{TcpListener, TcpSocket},
    sync::oneshot,
    task::{JoinHandle, JoinSet},
};
use tracing::debug;

/// A running listener; `stop` ends it and everything it serves.
#[derive(Debug)]
pub(crate) struct Serving {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Serving {
    /// Closes the listening socket and every connection, and waits until they are
    /// closed.
    pub(crate) async fn stop(self) {
        // The listener may have ended on its own already.
        let _ = self.stop.send(());
        if let Err(error) = self.task.await {
            debug!(%error, "listener task failed");
        }
    }

    /// Stops the listener without waiting, for `Drop`.
    pub(crate) fn abort(&self) {
        self.task.abort();
    }
}

/// Binds `addr` (port `0` picks a free port). The address is reusable at once, so a
/// stopped hub can be started again on the same port.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

/// Starts serving the clients that connect to `listener`.
pub(crate) fn serve(listener: TcpListener, shared: Arc<Shared>) -> Serving {
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, shared, stopped));
    Serving { stop, task }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    debug!(%peer, "client connected");
                    connections.spawn(connection::serve_connection(stream, Arc::clone(&shared)));
                }
                Err(error) => debug!(%error, "accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}
