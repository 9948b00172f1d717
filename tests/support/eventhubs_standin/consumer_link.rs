//! Links on which clients receive events:
//! `<hub>/ConsumerGroups/<cg>/Partitions/<n>`.
//!
//! The link starts where its selector filter says and then tails the
//! partition: events stored later are sent as they arrive, as far as the
//! client's link credit allows (fe2o3's `send` waits for credit). Events that
//! the filter excludes are skipped even when they arrive later, as with a
//! start sequence number or time in the future. Events go out pre-settled,
//! because fe2o3-amqp 0.16 can miss a disposition that arrives quickly and
//! would then wait forever for it.
//!
//! The link ends when the client detaches (answered in kind), when the
//! connection goes, or when a receiver with a higher or equal owner level
//! takes the partition: then the stand-in detaches it with
//! `amqp:link:stolen`, as Event Hubs does.

use super::{
    filter::StartFilter,
    links::{answer_sender, detach_sender_with_error, RemoteEnd},
    registry::{Eviction, Registration},
    store::Partition,
};
use fe2o3_amqp::{link::delivery::Sendable, types::definitions::LinkError, Sender};
use std::sync::Arc;
use tokio::sync::oneshot;
use tracing::debug;

/// A client's receiving link, admitted to its partition.
pub(super) struct ConsumerLink {
    pub(super) sender: Sender,
    pub(super) partition: Arc<Partition>,
    /// Index (= sequence number) of the next event to consider.
    pub(super) cursor: usize,
    /// The start the client asked for.
    pub(super) filter: StartFilter,
    pub(super) evicted: oneshot::Receiver<Eviction>,
    /// Keeps the link listed as a receiver of the partition while it runs.
    pub(super) registration: Registration,
}

/// What happened while the link waited.
enum Step {
    Sent,
    Skipped,
    Appended,
    Evicted(Eviction),
    RemoteEnded(RemoteEnd),
    Stop,
}

/// Sends events until the link ends.
pub(super) async fn serve(link: ConsumerLink) {
    let ConsumerLink {
        mut sender,
        partition,
        mut cursor,
        filter,
        mut evicted,
        registration: _registration,
    } = link;
    let mut appended = partition.subscribe();
    loop {
        let step = match partition.get(cursor) {
            Some(event) if !event.is_selected_by(filter) => Step::Skipped,
            Some(event) => {
                let sendable = Sendable::builder()
                    .message(event.to_message())
                    .settled(true)
                    .build();
                tokio::select! {
                    biased;
                    eviction = &mut evicted => evicted_step(eviction),
                    sent = sender.send(sendable) => match sent {
                        Ok(_) => Step::Sent,
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
                eviction = &mut evicted => evicted_step(eviction),
                changed = appended.changed() => match changed {
                    Ok(()) => Step::Appended,
                    Err(_) => Step::Stop,
                },
                detach = sender.on_detach() => Step::RemoteEnded(RemoteEnd::from_detach_error(&detach)),
            },
        };
        match step {
            Step::Sent | Step::Skipped => cursor += 1,
            Step::Appended => {}
            Step::Stop => return,
            Step::RemoteEnded(end) => return answer_sender(sender, end).await,
            Step::Evicted(eviction) => {
                return detach_sender_with_error(sender, LinkError::Stolen, eviction.description)
                    .await;
            }
        }
    }
}

/// An eviction, or a stop when the registry forgot the link (shutdown).
fn evicted_step(eviction: Result<Eviction, oneshot::error::RecvError>) -> Step {
    match eviction {
        Ok(eviction) => Step::Evicted(eviction),
        Err(_) => Step::Stop,
    }
}
