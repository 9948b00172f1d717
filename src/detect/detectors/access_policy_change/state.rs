//! What `access_policy_change` remembers: the last known configuration of every
//! vault, and the grants still open for chaining (reads by the grantee, or a removal
//! shortly after). Both are bounded: vaults by a cap with the least recently seen
//! going first, grants by time and by count.

use serde::{Deserialize, Serialize};

use crate::alert::PrincipalSummary;
use crate::detect::baseline::keys::FastMap;
use crate::detect::detector::DetectorMemory;
use crate::detect::stateful::DetectorState;
use crate::event::VaultConfig;

/// The most vaults whose configuration is remembered.
pub const MAX_VAULTS: usize = 20_000;

/// The last known configuration of one vault.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultState {
    /// The vault's name.
    pub name: String,
    /// Its configuration.
    pub config: VaultConfig,
    /// When it was last seen (seconds).
    pub seen: u32,
}

/// A grant kept open to link what follows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    /// The vault's key.
    pub vault: u64,
    /// The vault's name.
    pub vault_name: String,
    /// The grantee's key.
    pub grantee: u128,
    /// The grantee's object id as written.
    pub grantee_id: String,
    /// When it was granted (seconds).
    pub at: u32,
    /// The caller's identity (the incident the chain joins).
    pub caller_identity: String,
    /// The caller.
    pub caller: PrincipalSummary,
    /// The caller in words.
    pub caller_who: String,
    /// The caller granted itself.
    pub self_grant: bool,
    /// The permissions granted.
    pub permissions: Vec<String>,
    /// Reads by the grantee since.
    pub reads: u32,
    /// Objects the grantee read (first ten).
    pub objects: Vec<String>,
    /// Reads at the last chain finding.
    pub reported: u32,
    /// The first read (seconds; 0 = none).
    pub first_read: u32,
    /// Removed again.
    pub revoked: bool,
}

/// Everything the detector holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Last known configuration per vault.
    pub vaults: FastMap<u64, VaultState>,
    grants: Vec<Grant>,
}

impl State {
    /// Remembers a vault's configuration.
    pub fn remember(&mut self, vault: u64, state: VaultState) {
        if self.vaults.len() >= MAX_VAULTS && !self.vaults.contains_key(&vault) {
            if let Some(oldest) = self
                .vaults
                .iter()
                .min_by_key(|(_, v)| v.seen)
                .map(|(k, _)| *k)
            {
                self.vaults.remove(&oldest);
            }
        }
        self.vaults.insert(vault, state);
    }

    /// Keeps a grant open (the oldest goes past `max`).
    pub fn open_grant(&mut self, g: Grant, max: usize) {
        if self.grants.len() >= max {
            self.grants.remove(0);
        }
        self.grants.push(g);
    }

    /// Whether any grant is open.
    pub fn has_open_grants(&self) -> bool {
        !self.grants.is_empty()
    }

    /// Forgets grants made before `before`.
    pub fn expire(&mut self, before: u32) {
        self.grants.retain(|g| g.at >= before);
    }

    /// The latest unrevoked grant of `grantee` on `vault` made at or after `since`.
    pub fn recent_grant(&mut self, vault: u64, grantee: u128, since: u32) -> Option<&mut Grant> {
        self.grants
            .iter_mut()
            .rev()
            .find(|g| g.vault == vault && g.grantee == grantee && g.at >= since && !g.revoked)
    }

    /// The latest grant of `reader` on `vault` made between `since` and `until`
    /// (revoked or not). Grants are read on arrival, reads in event-time order, so a
    /// grant newer than the read can already be here: it does not explain the read.
    pub fn grant_for_read(
        &mut self,
        vault: u64,
        reader: u128,
        since: u32,
        until: u32,
    ) -> Option<&mut Grant> {
        self.grants
            .iter_mut()
            .rev()
            .find(|g| g.vault == vault && g.grantee == reader && (since..=until).contains(&g.at))
    }
}

impl DetectorState for State {
    type Saved<'a> = &'a State;
    type Restored = State;
    // Vault configurations and principal summaries are shaped for JSON.
    const BINARY: bool = false;

    fn saved(&self) -> &State {
        self
    }

    fn restored(saved: State) -> State {
        saved
    }

    fn memory(&self) -> DetectorMemory {
        let vault_bytes: usize = self
            .vaults
            .values()
            .map(|v| std::mem::size_of::<(u64, VaultState)>() + v.name.len() + 128)
            .sum();
        DetectorMemory {
            learned_entries: self.vaults.len(),
            learned_bytes: vault_bytes,
            transient_entries: self.grants.len(),
            transient_bytes: self.grants.len() * (std::mem::size_of::<Grant>() + 256),
        }
    }
}
