//! The fence: whether this instance may still act as the owner (deliver alerts,
//! commit state) right now.
//!
//! The renewal task moves it: `Open` while renewals succeed, `Paused` from the
//! first failed renewal until one succeeds again (delivery waits; alerts stay in the
//! durable outbox), `Lost` for good when the ownership was taken (412), released, or
//! could not be renewed before its deadline. The deadline (last renewal sent +
//! expiry − safety margin, on this host's monotonic clock) is also checked by every
//! reader itself, so a process that was frozen (SIGSTOP, a paused VM) and wakes up
//! past it is refused before its renewal task has even run again.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant;

/// Why the ownership is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LostReason {
    /// Another owner wrote an ownership blob (a renewal got 412 or 404).
    Stolen {
        /// The blob.
        blob: String,
        /// Its owner now, when known (`""`: released by someone else).
        by: Option<String>,
    },
    /// The manifest was written by a newer owner (a commit got 412).
    Fenced {
        /// The manifest blob.
        blob: String,
    },
    /// No renewal succeeded before the deadline.
    Deadline,
    /// This instance released its ownership.
    Released,
}

impl fmt::Display for LostReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LostReason::Stolen { blob, by: Some(by) } if !by.is_empty() => {
                write!(f, "{blob} is now owned by {by}")
            }
            LostReason::Stolen { blob, .. } => {
                write!(f, "{blob} was taken or released by another owner")
            }
            LostReason::Fenced { blob } => write!(f, "{blob} was written by a newer owner"),
            LostReason::Deadline => {
                f.write_str("no renewal succeeded before the ownership deadline")
            }
            LostReason::Released => f.write_str("ownership released"),
        }
    }
}

/// What the fence says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FenceState {
    /// The ownership is held and fresh: act.
    Open,
    /// A renewal failed; the ownership may still be held. Wait.
    Paused {
        /// The last renewal error.
        reason: String,
    },
    /// The ownership is gone for good: never act again.
    Lost(LostReason),
}

/// The deadline, shared between the renewal task and every [`Fence`].
#[derive(Debug)]
pub(crate) struct Deadline {
    base: Instant,
    /// Nanoseconds after `base`.
    nanos: AtomicU64,
}

impl Deadline {
    pub(crate) fn new(at: Instant) -> Arc<Deadline> {
        let base = Instant::now();
        let d = Arc::new(Deadline {
            base,
            nanos: AtomicU64::new(0),
        });
        d.set(at);
        d
    }

    pub(crate) fn set(&self, at: Instant) {
        let nanos = at.saturating_duration_since(self.base).as_nanos();
        self.nanos
            .store(u64::try_from(nanos).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    pub(crate) fn get(&self) -> Instant {
        self.base + std::time::Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }

    pub(crate) fn passed(&self) -> bool {
        Instant::now() >= self.get()
    }
}

/// A handle on the fence; clones are cheap and all see the same state.
#[derive(Debug, Clone)]
pub struct Fence {
    rx: watch::Receiver<FenceState>,
    deadline: Arc<Deadline>,
}

impl Fence {
    pub(crate) fn new(rx: watch::Receiver<FenceState>, deadline: Arc<Deadline>) -> Fence {
        Fence { rx, deadline }
    }

    /// The state now, the deadline applied (past it, `Lost(Deadline)` even if the
    /// renewal task has not said so yet).
    pub fn state(&self) -> FenceState {
        let state = self.rx.borrow().clone();
        match state {
            FenceState::Lost(_) => state,
            _ if self.deadline.passed() => FenceState::Lost(LostReason::Deadline),
            _ => state,
        }
    }

    /// Whether the owner may act right now (deliver, commit): open and before the
    /// deadline. Call it just before each act.
    pub fn permits(&self) -> bool {
        matches!(self.state(), FenceState::Open)
    }

    /// Whether the ownership is gone for good.
    pub fn is_lost(&self) -> bool {
        matches!(self.state(), FenceState::Lost(_))
    }

    /// Waits until the fence is open (at once when it is); `Err` with the reason
    /// once it is lost.
    pub async fn wait_open(&mut self) -> Result<(), LostReason> {
        loop {
            match self.state() {
                FenceState::Open => return Ok(()),
                FenceState::Lost(reason) => return Err(reason),
                FenceState::Paused { .. } => {}
            }
            let deadline = self.deadline.get();
            tokio::select! {
                changed = self.rx.changed() => {
                    if changed.is_err() {
                        // The renewal task is gone without saying why: it stopped.
                        return Err(self.lost_reason());
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// Waits until the ownership is lost, and says why.
    pub async fn lost(&mut self) -> LostReason {
        loop {
            if let FenceState::Lost(reason) = self.state() {
                return reason;
            }
            let deadline = self.deadline.get();
            tokio::select! {
                changed = self.rx.changed() => {
                    if changed.is_err() {
                        return self.lost_reason();
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    fn lost_reason(&self) -> LostReason {
        match self.state() {
            FenceState::Lost(reason) => reason,
            _ => LostReason::Released,
        }
    }

    /// A receiver of the state as the renewal task publishes it (for a delivery
    /// gate that selects on changes); check [`Fence::permits`] before acting.
    pub fn subscribe(&self) -> watch::Receiver<FenceState> {
        self.rx.clone()
    }
}

impl crate::sink::gate::Permit for Fence {
    fn permits(&self) -> bool {
        Fence::permits(self)
    }

    fn why_not(&self) -> String {
        match self.state() {
            FenceState::Open => "open".to_owned(),
            FenceState::Paused { reason } => {
                format!("paused: an ownership renewal failed ({reason})")
            }
            FenceState::Lost(reason) => format!("ownership lost: {reason}"),
        }
    }
}
