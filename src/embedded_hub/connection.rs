//! One client connection: the socket relay, the AMQP engine, its sessions and links,
//! its authorizations, and the ways the hub ends it.
//!
//! Each TCP connection is relayed through an in-memory pipe to the fe2o3 connection
//! engine. Dropping the relay closes the socket at once, which is how the hub cuts a
//! client off abruptly, whatever state the AMQP engines are in; a close with an error
//! (`amqp:connection:forced`, as the service sends when it moves a namespace) is sent
//! through the engine instead.

use super::{
    authorizations::{enforce_expiry, Authorizations},
    consumer_link::{self, ConsumerLink},
    links::{detach_receiver_with_error, detach_sender_with_error},
    management::{self, ReplyRoutes},
    producer_link::{self, ProducerLink},
    routing::{plan_link, LinkPlan},
    sasl::KeySasl,
    store::lock,
    Shared,
};
use fe2o3_amqp::acceptor::{
    ConnectionAcceptor, LinkAcceptor, LinkEndpoint, ListenerSessionHandle, SessionAcceptor,
};
use fe2o3_amqp::types::definitions;
use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{atomic::AtomicBool, Arc, Mutex},
    time::Duration,
};
use tokio::{io::DuplexStream, net::TcpStream, sync::mpsc, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::debug;

const CONTAINER_ID: &str = "kvwatch-embedded-hub";
/// Bytes buffered in each direction between a socket and its AMQP engine.
const PIPE_CAPACITY: usize = 256 * 1024;
/// How long a close the hub sends waits for the client's answer, and then for the
/// bytes to leave.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

type LinkTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the links of a connection need to know about it.
#[derive(Debug)]
pub(crate) struct ConnectionCtx {
    pub(crate) id: u64,
    pub(crate) authorizations: Arc<Authorizations>,
}

#[derive(Debug)]
struct Control {
    authorizations: Arc<Authorizations>,
    close: mpsc::UnboundedSender<definitions::Error>,
    cut: CancellationToken,
}

/// The open connections, so the hub can close, cut or de-authorize them.
#[derive(Debug, Default)]
pub(crate) struct ConnectionTable {
    state: Mutex<(u64, HashMap<u64, Control>)>,
}

impl ConnectionTable {
    fn open(
        self: &Arc<Self>,
        authorizations: Arc<Authorizations>,
    ) -> (
        ConnectionGuard,
        mpsc::UnboundedReceiver<definitions::Error>,
        CancellationToken,
    ) {
        let (close, closed) = mpsc::unbounded_channel();
        let cut = CancellationToken::new();
        let mut state = lock(&self.state);
        let id = state.0;
        state.0 += 1;
        let control = Control {
            authorizations,
            close,
            cut: cut.clone(),
        };
        state.1.insert(id, control);
        let guard = ConnectionGuard {
            table: Arc::clone(self),
            id,
        };
        (guard, closed, cut)
    }

    /// Sends every connection an AMQP close with `error`; returns how many.
    pub(crate) fn close_all(&self, error: &definitions::Error) -> usize {
        lock(&self.state)
            .1
            .values()
            .filter(|c| c.close.send(error.clone()).is_ok())
            .count()
    }

    /// Drops every connection's socket without a word; returns how many.
    pub(crate) fn cut_all(&self) -> usize {
        let state = lock(&self.state);
        state.1.values().for_each(|c| c.cut.cancel());
        state.1.len()
    }

    /// Makes every token of every connection expire now; returns how many tokens.
    pub(crate) fn expire_tokens(&self) -> usize {
        lock(&self.state)
            .1
            .values()
            .map(|c| c.authorizations.expire_all())
            .sum()
    }

    /// How many connections are open.
    pub(crate) fn count(&self) -> usize {
        lock(&self.state).1.len()
    }
}

/// Keeps a connection listed while it is served.
struct ConnectionGuard {
    table: Arc<ConnectionTable>,
    id: u64,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        lock(&self.table.state).1.remove(&self.id);
    }
}

/// Serves one client until it goes, or the hub ends the connection.
pub(crate) async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    if let Err(error) = stream.set_nodelay(true) {
        debug!(%error, "could not set TCP_NODELAY");
    }
    let plain_login = Arc::new(AtomicBool::new(false));
    let authorizations = Arc::new(Authorizations::new(Arc::clone(&plain_login)));
    let (guard, closes, cut) = shared.connections.open(Arc::clone(&authorizations));
    shared.counters.connection_opened();
    let ctx = Arc::new(ConnectionCtx {
        id: guard.id,
        authorizations,
    });
    let counters = Arc::clone(&shared.counters);
    let expiry = enforce_expiry(
        ctx.id,
        Arc::clone(&ctx.authorizations),
        Arc::clone(&shared.links),
        move |cut| counters.cut_by_token_expiry(cut),
    );
    let (socket_end, engine_end) = tokio::io::duplex(PIPE_CAPACITY);
    let relay = relay(stream, socket_end);
    tokio::pin!(relay);
    let amqp = serve_amqp(engine_end, Arc::clone(&shared), ctx, plain_login, closes);
    tokio::select! {
        () = cut.cancelled() => debug!("the hub cut a connection"),
        () = expiry => {}
        () = &mut relay => {}
        closed_by_hub = amqp => {
            if closed_by_hub {
                let _ = tokio::time::timeout(CLOSE_GRACE, relay).await;
            } else {
                // The client closed: let the engine's answer reach it.
                relay.await;
            }
        }
    }
}

/// Copies bytes between the socket and the engine until both sides have closed or
/// either fails.
async fn relay(mut stream: TcpStream, mut pipe: DuplexStream) {
    if let Err(error) = tokio::io::copy_bidirectional(&mut stream, &mut pipe).await {
        debug!(%error, "connection relay ended");
    }
}

/// Runs the AMQP side of a connection; returns whether the hub closed it.
async fn serve_amqp(
    pipe: DuplexStream,
    shared: Arc<Shared>,
    ctx: Arc<ConnectionCtx>,
    plain_login: Arc<AtomicBool>,
    mut closes: mpsc::UnboundedReceiver<definitions::Error>,
) -> bool {
    let acceptor = ConnectionAcceptor::builder()
        .container_id(CONTAINER_ID)
        .sasl_acceptor(KeySasl::new(Arc::clone(&shared.keys), plain_login))
        .build();
    let mut connection = match acceptor.accept(pipe).await {
        Ok(connection) => connection,
        Err(error) => {
            debug!(%error, "AMQP open failed");
            return false;
        }
    };
    let sessions_acceptor = SessionAcceptor::new();
    let mut sessions = JoinSet::new();
    let closed_by_hub = loop {
        tokio::select! {
            incoming = connection.next_incoming_session() => {
                let Some(incoming) = incoming else { break false };
                match sessions_acceptor.accept_incoming_session(incoming, &mut connection).await {
                    Ok(session) => {
                        sessions.spawn(serve_session(session, Arc::clone(&shared), Arc::clone(&ctx)));
                    }
                    Err(error) => debug!(%error, "session begin failed"),
                }
            }
            Some(error) = closes.recv() => {
                match tokio::time::timeout(CLOSE_GRACE, connection.close_with_error(error)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => debug!(%error, "the client did not answer the close cleanly"),
                    Err(_) => debug!("the client did not answer the close in time"),
                }
                break true;
            }
        }
        while sessions.try_join_next().is_some() {}
    };
    sessions.shutdown().await;
    closed_by_hub
}

async fn serve_session(
    mut session: ListenerSessionHandle,
    shared: Arc<Shared>,
    ctx: Arc<ConnectionCtx>,
) {
    let acceptor = LinkAcceptor::builder()
        .max_message_size(shared.max_message_size)
        .build();
    let routes = ReplyRoutes::default();
    let mut links = JoinSet::new();
    while let Some(attach) = session.next_incoming_attach().await {
        let name = attach.name.clone();
        let plan = plan_link(&attach, &shared, &ctx);
        match acceptor.accept_incoming_attach(attach, &mut session).await {
            Ok(endpoint) => match link_task(plan, endpoint, &shared, &ctx, &routes) {
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
    ctx: &ConnectionCtx,
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
                stop: admitted.stop,
                registration: admitted.registration,
                guard: admitted.guard,
            }))
        }
        (LinkPlan::Producer(admitted), LinkEndpoint::Receiver(receiver)) => {
            Box::pin(producer_link::serve(ProducerLink {
                receiver,
                hub: admitted.hub,
                partition: admitted.partition,
                settle_delay: shared.settle_delay,
                stop: admitted.stop,
                guard: admitted.guard,
            }))
        }
        (LinkPlan::Requests(node), LinkEndpoint::Receiver(receiver)) => {
            Box::pin(management::serve_requests(
                receiver,
                node,
                Arc::clone(shared),
                routes.clone(),
                Arc::clone(&ctx.authorizations),
            ))
        }
        (LinkPlan::Replies { node, address }, LinkEndpoint::Sender(sender)) => Box::pin(
            management::serve_replies(sender, node, routes.register(address)),
        ),
        _ => return None,
    };
    Some(task)
}
