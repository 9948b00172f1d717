//! The listener: TCP, AMQP connections and sessions.
//!
//! Each TCP connection is relayed through an in-memory pipe to the fe2o3
//! connection engine. Dropping the relay closes the socket at once, which is
//! how `shutdown` cuts every client off abruptly, whatever state the AMQP
//! engines are in. Every task is owned by the task above it (listener →
//! connection → session → link), so stopping the listener stops them all.

use super::{
    consumer_link::{self, ConsumerLink},
    links::{detach_receiver_with_error, detach_sender_with_error},
    management::{self, ReplyRoutes},
    producer_link::{self, ProducerLink},
    routing::{plan_link, LinkPlan},
    sasl::PermissiveSasl,
    Shared,
};
use fe2o3_amqp::acceptor::{
    ConnectionAcceptor, LinkAcceptor, LinkEndpoint, ListenerSessionHandle, SessionAcceptor,
};
use std::{
    future::Future,
    io,
    net::{Ipv4Addr, SocketAddr},
    pin::Pin,
    sync::Arc,
};
use tokio::{
    io::DuplexStream,
    net::{TcpListener, TcpSocket, TcpStream},
    sync::oneshot,
    task::{JoinHandle, JoinSet},
};
use tracing::debug;

const CONTAINER_ID: &str = "eventhubs-standin";
/// Bytes buffered in each direction between a socket and its AMQP engine.
const PIPE_CAPACITY: usize = 256 * 1024;

type LinkTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A running listener; `stop` ends it and everything it serves.
#[derive(Debug)]
pub(super) struct Serving {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Serving {
    /// Closes the listening socket and every connection, and waits until
    /// they are closed.
    pub(super) async fn stop(self) {
        // The listener may have ended on its own already.
        let _ = self.stop.send(());
        if let Err(error) = self.task.await {
            debug!(%error, "listener task failed");
        }
    }

    /// Stops the listener without waiting, for `Drop`.
    pub(super) fn abort(&self) {
        self.task.abort();
    }
}

/// Binds `127.0.0.1:port` (`0` picks a free port). The address is reusable at
/// once, so a stopped stand-in can be started again on the same port.
pub(super) fn bind(port: u16) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(128)
}

/// Starts serving the clients that connect to `listener`.
pub(super) fn serve(listener: TcpListener, shared: Arc<Shared>) -> Serving {
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
                    connections.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                Err(error) => debug!(%error, "accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    if let Err(error) = stream.set_nodelay(true) {
        debug!(%error, "could not set TCP_NODELAY");
    }
    let (socket_end, engine_end) = tokio::io::duplex(PIPE_CAPACITY);
    tokio::join!(relay(stream, socket_end), serve_amqp(engine_end, shared));
}

/// Copies bytes between the socket and the engine until both sides have
/// closed or either fails.
async fn relay(mut stream: TcpStream, mut pipe: DuplexStream) {
    if let Err(error) = tokio::io::copy_bidirectional(&mut stream, &mut pipe).await {
        debug!(%error, "connection relay ended");
    }
}

async fn serve_amqp(pipe: DuplexStream, shared: Arc<Shared>) {
    let acceptor = ConnectionAcceptor::builder()
        .container_id(CONTAINER_ID)
        .sasl_acceptor(PermissiveSasl)
        .build();
    let mut connection = match acceptor.accept(pipe).await {
        Ok(connection) => connection,
        Err(error) => {
            debug!(%error, "AMQP open failed");
            return;
        }
    };
    let sessions_acceptor = SessionAcceptor::new();
    let mut sessions = JoinSet::new();
    while let Some(incoming) = connection.next_incoming_session().await {
        match sessions_acceptor
            .accept_incoming_session(incoming, &mut connection)
            .await
        {
            Ok(session) => {
                sessions.spawn(serve_session(session, Arc::clone(&shared)));
            }
            Err(error) => debug!(%error, "session begin failed"),
        }
        while sessions.try_join_next().is_some() {}
    }
    // The client closed the connection; the engine has answered the close.
    sessions.shutdown().await;
}

async fn serve_session(mut session: ListenerSessionHandle, shared: Arc<Shared>) {
    let acceptor = LinkAcceptor::builder()
        .max_message_size(shared.max_message_size)
        .build();
    let routes = ReplyRoutes::default();
    let mut links = JoinSet::new();
    while let Some(attach) = session.next_incoming_attach().await {
        let name = attach.name.clone();
        let plan = plan_link(&attach, &shared);
        match acceptor.accept_incoming_attach(attach, &mut session).await {
            Ok(endpoint) => match link_task(plan, endpoint, &shared, &routes) {
                Some(task) => {
                    links.spawn(task);
                }
                None => debug!(%name, "attach did not match its role"),
            },
            Err(error) => debug!(%error, %name, "attach failed"),
        }
        while links.try_join_next().is_some() {}
    }
    links.shutdown().await;
}

/// Builds the task that serves an accepted link according to its plan.
fn link_task(
    plan: LinkPlan,
    endpoint: LinkEndpoint,
    shared: &Arc<Shared>,
    routes: &ReplyRoutes,
) -> Option<LinkTask> {
    let task: LinkTask = match (plan, endpoint) {
        (LinkPlan::Refuse(refusal), LinkEndpoint::Sender(sender)) => Box::pin(
            detach_sender_with_error(sender, refusal.condition, refusal.reason),
        ),
        (LinkPlan::Refuse(refusal), LinkEndpoint::Receiver(receiver)) => Box::pin(
            detach_receiver_with_error(receiver, refusal.condition, refusal.reason),
        ),
        (LinkPlan::Consumer(admitted), LinkEndpoint::Sender(sender)) => {
            Box::pin(consumer_link::serve(ConsumerLink {
                sender,
                partition: admitted.partition,
                cursor: admitted.cursor,
                filter: admitted.filter,
                evicted: admitted.evicted,
                registration: admitted.registration,
            }))
        }
        (LinkPlan::Producer { hub, partition }, LinkEndpoint::Receiver(receiver)) => {
            Box::pin(producer_link::serve(ProducerLink {
                receiver,
                hub,
                partition,
                settle_delay: shared.settle_delay,
            }))
        }
        (LinkPlan::Requests(node), LinkEndpoint::Receiver(receiver)) => Box::pin(
            management::serve_requests(receiver, node, Arc::clone(shared), routes.clone()),
        ),
        (LinkPlan::Replies { node, address }, LinkEndpoint::Sender(sender)) => Box::pin(
            management::serve_replies(sender, node, routes.register(address)),
        ),
        _ => return None,
    };
    Some(task)
}
