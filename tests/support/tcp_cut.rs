//! A TCP forwarder on 127.0.0.1 that a test can cut and restore: a real network
//! fault between a client and a server (here kvwatch and Azurite), not a mock.
//!
//! While cut, every open connection is dropped and new ones are closed as soon as
//! they are accepted (the client sees resets); restored, it forwards again.

#![allow(dead_code)]

use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running forwarder.
pub struct TcpCut {
    port: u16,
    cut: Arc<watch::Sender<bool>>,
    task: JoinHandle<()>,
}

impl TcpCut {
    /// Forwards 127.0.0.1:(a free port) to 127.0.0.1:`upstream`.
    pub async fn start(upstream: u16) -> TcpCut {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                if *rx.borrow() {
                    drop(inbound);
                    continue;
                }
                let mut cut = rx.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let (mut a, mut b) = (inbound, outbound);
                    tokio::select! {
                        _ = copy_bidirectional(&mut a, &mut b) => {}
                        _ = cut.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        TcpCut {
            port,
            cut: Arc::new(tx),
            task,
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for TcpCut {
    fn drop(&mut self) {
        self.task.abort();
    }
}
