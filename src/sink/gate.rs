//! The delivery gate: whether this process may send alerts right now.
//!
//! A single instance always may. With `[coordination]`, only the active instance
//! may, and only while its ownership is fresh: a standby sends nothing (its outbox
//! may hold alerts from an earlier life as the active one, which the new owner
//! carries on from its snapshot), an active instance whose renewal failed stops
//! sending until a renewal succeeds (alerts wait in the durable outbox), and one
//! whose ownership is lost never sends again. Workers ask [`Gate::permits`] just
//! before every send; a [`Permit`] answers on the spot, so a process frozen past
//! its deadline (SIGSTOP, a paused VM) is refused the moment it wakes, before any
//! background task has run.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Something that decides, at each send, whether sending is allowed (the
/// coordination fence).
pub trait Permit: Send + Sync {
    /// Whether this process may send now.
    fn permits(&self) -> bool;
    /// Why not, for logs and `/readyz`.
    fn why_not(&self) -> String;
}

#[derive(Clone)]
enum GateState {
    Open,
    Closed(String),
    Follows(Arc<dyn Permit>),
}

/// The gate the delivery workers check; clones share it.
#[derive(Clone)]
pub struct Gate {
    state: Arc<watch::Sender<GateState>>,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.why_not() {
            None => f.write_str("Gate(open)"),
            Some(why) => write!(f, "Gate(closed: {why})"),
        }
    }
}

/// How often a closed gate that follows a permit is asked again (a permit says
/// nothing when it opens).
const RECHECK: Duration = Duration::from_millis(100);

impl Gate {
    /// Always open (a single instance).
    pub fn open() -> Gate {
        Gate {
            state: Arc::new(watch::Sender::new(GateState::Open)),
        }
    }

    /// Closed until [`Gate::follow`] or [`Gate::close`] says otherwise.
    pub fn closed(why: impl Into<String>) -> Gate {
        Gate {
            state: Arc::new(watch::Sender::new(GateState::Closed(why.into()))),
        }
    }

    /// Closes the gate for good (until told otherwise).
    pub fn close(&self, why: impl Into<String>) {
        self.state.send_replace(GateState::Closed(why.into()));
    }

    /// From now on, the gate is open exactly when `permit` permits.
    pub fn follow(&self, permit: Arc<dyn Permit>) {
        self.state.send_replace(GateState::Follows(permit));
    }

    /// Whether a send may go now.
    pub fn permits(&self) -> bool {
        self.why_not().is_none()
    }

    /// Why a send may not go now; `None` when it may.
    pub fn why_not(&self) -> Option<String> {
        match &*self.state.borrow() {
            GateState::Open => None,
            GateState::Closed(why) => Some(why.clone()),
            GateState::Follows(p) => (!p.permits()).then(|| p.why_not()),
        }
    }

    /// Waits until a send may go, or `cancel` fires.
    pub async fn wait(&self, cancel: &CancellationToken) {
        let mut changes = self.state.subscribe();
        while !self.permits() {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = changes.changed() => {}
                () = tokio::time::sleep(RECHECK) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct Flag(AtomicBool);

    impl Permit for Flag {
        fn permits(&self) -> bool {
            self.0.load(Ordering::SeqCst)
        }
        fn why_not(&self) -> String {
            "renewal failed".into()
        }
    }

    #[tokio::test]
    async fn a_gate_opens_closes_and_follows_its_permit_at_each_question() {
        assert!(Gate::open().permits());
        let gate = Gate::closed("standby");
        assert_eq!(gate.why_not().as_deref(), Some("standby"));
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        gate.follow(flag.clone());
        assert_eq!(gate.why_not().as_deref(), Some("renewal failed"));
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.wait(&CancellationToken::new()).await }
        });
        flag.0.store(true, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(30), waiter)
            .await
            .expect("the waiter sees the permit open")
            .expect("no panic");
        assert!(gate.permits());
        gate.close("ownership lost");
        assert!(!gate.permits());
        let cancel = CancellationToken::new();
        cancel.cancel();
        gate.wait(&cancel).await;
    }
}
