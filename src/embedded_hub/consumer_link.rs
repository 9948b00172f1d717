//! Links on which clients receive events: `<hub>/ConsumerGroups/<cg>/Partitions/<n>`.
//!
//! The link starts where its selector filter says and then tails the partition: events
//! stored later are sent as they arrive, as far as the client's link credit allows
//! (fe2o3's `send` waits for credit). Events that the filter excludes are skipped even
//! when they arrive later, as with a start sequence number or time in the future. When
//! retention removed the events the link would send next, it goes on from the first
//! one still there, as on the service. Events go out pre-settled, because fe2o3-amqp
//! 0.16 can miss a disposition that arrives quickly and would then wait forever for it.
//!
//! The link ends when the client detaches (answered in kind), when the connection
//! goes, or when the hub ends it (a receiver with a higher or equal owner level took
//! the partition: `amqp:link:stolen`; its token expired: `amqp:unauthorized-access`; an
//! injected fault): then the hub detaches it with that error.

use super::{
    filter::StartFilter,
    link_table::{LinkEnd, LinkGuard, LinkStop},
    links::{answer_sender, detach_sender_with_error, RemoteEnd},
    registry::Registration,
    store::Partition,
};
use fe2o3_amqp::{link::delivery::Sendable, Sender};
use std::sync::Arc;
use tracing::debug;

/// A client's receiving link, admitted to its partition.
pub(crate) struct ConsumerLink {
    pub(crate) sender: Sender,
    pub(crate) partition: Arc<Partition>,
    /// The sequence number of the next event to consider.
    pub(crate) cursor: i64,
    /// The start the client asked for.
    pub(crate) filter: StartFilter,
    /// Where the hub says the link must end.
    pub(crate) stop: LinkStop,
    /// Keeps the link listed as a receiver of the partition while it runs.
    pub(crate) registration: Registration,
    /// Keeps the link listed in the hub's link table while it runs.
    pub(crate) guard: LinkGuard,
}

/// What happened while the link waited.
enum Step {
    Sent(i64),
    Skipped(i64),
    Appended,
    Ended(LinkEnd),
    RemoteEnded(RemoteEnd),
    Stop,
}

/// Sends events until the link ends.
pub(crate) async fn serve(link: ConsumerLink) {
    let ConsumerLink {
        mut sender,
        partition,
        mut cursor,
        filter,
        mut stop,
        registration: _registration,
        guard: _guard,
    } = link;
    let mut appended = partition.subscribe();
    loop {
        let step = match partition.next_from(cursor) {
            Some(event) if !event.is_selected_by(filter) => Step::Skipped(event.sequence_number),
            Some(event) => {
                let sequence = event.sequence_number;
                let sendable = Sendable::builder()
                    .message(event.to_message())
                    .settled(true)
                    .build();
                tokio::select! {
                    biased;
                    end = stop.recv() => ended(end),
                    sent = sender.send(sendable) => match sent {
                        Ok(_) => Step::Sent(sequence),
                        Err(error) => {
                            // Includes a client detach while waiting for credit,
                            // which fe2o3 answers itself.
                            debug!(%error, partition = %partition.id, "receiver link ended");
                            Step::Stop
                        }
                    },
                }
            }
            None => tokio::select! {
                biased;
                end = stop.recv() => ended(end),
                changed = appended.changed() => match changed {
                    Ok(()) => Step::Appended,
                    Err(_) => Step::Stop,
                },
                detach = sender.on_detach() => Step::RemoteEnded(RemoteEnd::from_detach_error(&detach)),
            },
        };
        match step {
            Step::Sent(sequence) | Step::Skipped(sequence) => cursor = sequence + 1,
            Step::Appended => {}
            Step::Stop => return,
            Step::RemoteEnded(end) => return answer_sender(sender, end).await,
            Step::Ended(end) => {
                return detach_sender_with_error(sender, end.condition, end.description).await;
            }
        }
    }
}

/// The hub's end, or a stop when the hub forgot the link (shutdown).
fn ended(end: Option<LinkEnd>) -> Step {
    end.map_or(Step::Stop, Step::Ended)
}
