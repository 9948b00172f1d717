//! What one connection is authorized to do, and the end of the links whose token
//! expired.
//!
//! The SDK puts a token on `$cbs` for each link address before it attaches the link,
//! and puts a fresh one before the old one expires. The hub keeps, per connection,
//! each address's latest token expiry; a link may attach only under an address with a
//! valid token, and when a token expires without a fresh one, the hub detaches the
//! links it covered with `amqp:unauthorized-access`, as the service does. A PLAIN SASL
//! login with a key of the namespace authorizes everything on its connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use fe2o3_amqp::types::definitions::AmqpError;
use tokio::sync::watch;

use super::link_table::{LinkEnd, LinkTable};
use super::sas::covers;
use super::store::lock;

/// How long the watcher sleeps when no token is waiting to expire.
const IDLE_WAKE: Duration = Duration::from_secs(3600);

#[derive(Debug, Default)]
struct Grant {
    path: String,
    expires: Option<SystemTime>,
}

/// One connection's authorizations.
#[derive(Debug)]
pub(crate) struct Authorizations {
    grants: Mutex<Vec<Grant>>,
    plain_login: Arc<AtomicBool>,
    changed: watch::Sender<u64>,
}

impl Authorizations {
    pub(crate) fn new(plain_login: Arc<AtomicBool>) -> Self {
        Authorizations {
            grants: Mutex::new(Vec::new()),
            plain_login,
            changed: watch::channel(0).0,
        }
    }

    /// Records a token for `path` valid until `expires`; returns whether it renewed
    /// one the connection had for the same path.
    pub(crate) fn put(&self, path: String, expires: SystemTime) -> bool {
        let mut grants = lock(&self.grants);
        let renewed = match grants.iter_mut().find(|g| g.path == path) {
            Some(grant) => {
                grant.expires = Some(expires);
                true
            }
            None => {
                grants.push(Grant {
                    path,
                    expires: Some(expires),
                });
                false
            }
        };
        drop(grants);
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
        renewed
    }

    /// Whether `path` is authorized as of `now`.
    pub(crate) fn covers(&self, path: &str, now: SystemTime) -> bool {
        self.plain_login.load(Ordering::Acquire)
            || lock(&self.grants)
                .iter()
                .any(|g| g.expires.is_some_and(|e| e > now) && covers(&g.path, path))
    }

    /// Makes every token of the connection expire now; returns how many there were.
    pub(crate) fn expire_all(&self) -> usize {
        let mut grants = lock(&self.grants);
        let count = grants.len();
        for grant in grants.iter_mut() {
            grant.expires = Some(SystemTime::UNIX_EPOCH);
        }
        drop(grants);
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
        count
    }

    /// Forgets the expired tokens and returns the next expiry, if any.
    fn prune(&self, now: SystemTime) -> Option<SystemTime> {
        let mut grants = lock(&self.grants);
        grants.retain(|g| g.expires.is_some_and(|e| e > now));
        grants.iter().filter_map(|g| g.expires).min()
    }
}

/// Ends the links of connection `connection` whose token expired, until the
/// connection's task drops this future. Returns never; counts in `cut`.
pub(crate) async fn enforce_expiry(
    connection: u64,
    authorizations: Arc<Authorizations>,
    links: Arc<LinkTable>,
    cut: impl Fn(usize),
) {
    let mut changed = authorizations.changed.subscribe();
    loop {
        let now = SystemTime::now();
        let next = authorizations.prune(now);
        let stopped = links.stop_where(
            |link| link.connection == connection && !authorizations.covers(&link.path, now),
            |link| {
                LinkEnd::new(
                    AmqpError::UnauthorizedAccess,
                    format!("The token authorizing '{}' has expired.", link.path),
                )
            },
        );
        if stopped > 0 {
            cut(stopped);
        }
        let wait = next.map_or(IDLE_WAKE, |at| {
            at.duration_since(now).unwrap_or(Duration::ZERO) + Duration::from_millis(1)
        });
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            changed = changed.changed() => if changed.is_err() { return },
        }
    }
}
