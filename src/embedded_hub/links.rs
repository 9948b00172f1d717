//! Detach handling shared by every link the hub serves.
//!
//! Two rules keep fe2o3-amqp clients from hanging:
//!
//! * A detach is answered in kind: a non-closing detach with a non-closing
//!   detach, a closing one with a closing one. (Answering a detach with a
//!   close makes the client re-attach in order to close.)
//! * A detach that the hub starts waits for the client's answer only for
//!   a while: the client answers when it next polls the link, which may be
//!   never.
//! * A `$cbs` link's detach is answered late (see [`hold_cbs_detach_answer`]).

use fe2o3_amqp::{
    link::DetachError,
    types::definitions::{self, ErrorCondition},
    Receiver, Sender,
};
use std::time::Duration;
use tracing::debug;

/// How long a hub-initiated detach waits for the client's answer.
const DETACH_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits before the hub settles a transfer that a client is waiting on.
///
/// fe2o3-amqp 0.16's `Sender::send` records a delivery in its unsettled map
/// only *after* it has queued the transfer frame for the session task
/// (`send_payload_with_transfer`). When the sending task is held up in
/// between, a disposition that comes back quickly finds no entry and is
/// dropped, and `send` waits for ever: the SDK's `send_event`, `send_batch`,
/// management calls and CBS authorizations then hang. Over a network the
/// answer is rarely that fast; in-process it is, so the hub holds the
/// disposition back for a moment. Measured on this 2-core machine: with no
/// delay about one send in 200 hung; with 1 ms none in 9,000, even beside
/// four busy-loop processes. The default of 10 ms leaves a wide margin.
pub(crate) async fn pause_before_settling(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// How long the hub holds back the answer to a client's detach of a
/// `$cbs` link.
const CBS_DETACH_HOLD: Duration = Duration::from_secs(5);

/// Holds back the answer to a client's detach of a `$cbs` link.
///
/// The SDK authorizes on a session of its own: it attaches the two `$cbs`
/// links, puts a token, then drops the links and the session, which makes
/// fe2o3-amqp 0.16 send two closing detaches and an end without waiting for
/// any answer. An answering detach that reaches the client after it has
/// dropped a link fails its session with `UnattachedHandle`; a second one,
/// arriving while that session waits for the end, stops the session at once
/// and frees its channel; the peer's end then arrives on a channel the client
/// no longer knows, and fe2o3 closes the whole connection ("Connection
/// dropped: Connection must have been closed"), killing the session the SDK
/// is beginning for the partition. In-process the answers come back within
/// microseconds, so about one authorization in twenty lost its connection.
/// (fe2o3-amqp 0.18.0 answers detaches in the session loop and fixes this;
/// SDK 0.16 cannot use it.) Held back, the answers are never sent: the
/// session's end arrives first and ends the task holding them. A client that
/// closes a `$cbs` link and waits for the answer still gets it, late.
pub(crate) async fn hold_cbs_detach_answer() {
    tokio::time::sleep(CBS_DETACH_HOLD).await;
}

/// How a client ended a link, as reported by `on_detach` or a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemoteEnd {
    /// A non-closing detach: answer with a detach.
    Detached,
    /// A closing detach: answer with a close.
    Closed,
    /// The session or connection went away: nothing to answer.
    Gone,
}

impl RemoteEnd {
    pub(crate) fn from_detach_error(error: &DetachError) -> Self {
        match error {
            DetachError::DetachedByRemote | DetachError::RemoteDetachedWithError(_) => {
                Self::Detached
            }
            DetachError::ClosedByRemote | DetachError::RemoteClosedWithError(_) => Self::Closed,
            DetachError::IllegalState | DetachError::IllegalSessionState => Self::Gone,
        }
    }
}

/// Answers a client's detach on a hub sender.
pub(crate) async fn answer_sender(sender: Sender, end: RemoteEnd) {
    let result = match end {
        RemoteEnd::Detached => sender.detach().await.err().map(|(_, e)| e),
        RemoteEnd::Closed => sender.close().await.err(),
        RemoteEnd::Gone => None,
    };
    if let Some(error) = result {
        debug!(%error, "answering a sender detach failed");
    }
}

/// Detaches a hub sender with an error, as the broker does when it
/// refuses or displaces a receiver.
pub(crate) async fn detach_sender_with_error(
    sender: Sender,
    condition: impl Into<ErrorCondition>,
    description: String,
) {
    let error = definitions::Error::new(condition, description, None);
    match tokio::time::timeout(DETACH_ANSWER_TIMEOUT, sender.detach_with_error(error)).await {
        Ok(Ok(_)) => {}
        Ok(Err((_, error))) => debug!(%error, "error detach of a sender was not answered cleanly"),
        Err(_) => debug!("client did not answer an error detach in time"),
    }
}

/// Detaches a hub receiver with an error, refusing what the client
/// wanted to send to.
pub(crate) async fn detach_receiver_with_error(
    receiver: Receiver,
    condition: impl Into<ErrorCondition>,
    description: String,
) {
    let error = definitions::Error::new(condition, description, None);
    match tokio::time::timeout(DETACH_ANSWER_TIMEOUT, receiver.detach_with_error(error)).await {
        Ok(Ok(_)) => {}
        Ok(Err((_, error))) => {
            debug!(%error, "error detach of a receiver was not answered cleanly");
        }
        Err(_) => debug!("client did not answer an error detach in time"),
    }
}
