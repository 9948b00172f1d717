//! Looking into the outbox and acting on it from outside the delivery loop: listings,
//! `retry` and `drop` over a selection (`kvwatch outbox`), and the count a drain waits on.

use chrono::{DateTime, Utc};
use redb::{Durability, ReadableTable};

use super::{release, DeliveryState, Outbox, OutboxError, Pending, ALERTS, DELIVERIES, IDS};

/// Which deliveries `retry` and `drop` touch.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only this sink.
    pub sink: Option<String>,
    /// Only this alert id.
    pub alert_id: Option<String>,
    /// Only dead-lettered deliveries.
    pub dead_only: bool,
}

impl Selection {
    fn matches(&self, sink: &str, state: &DeliveryState) -> bool {
        self.sink.as_deref().is_none_or(|s| s == sink)
            && self
                .alert_id
                .as_deref()
                .is_none_or(|id| id == state.alert_id)
            && (!self.dead_only || state.dead)
    }
}

impl Outbox {
    /// Every delivery, by sink then sequence (`kvwatch outbox list`).
    pub fn list(&self) -> Result<Vec<Pending>, OutboxError> {
        self.reading(|| self.list_unguarded())
    }

    fn list_unguarded(&self) -> Result<Vec<Pending>, OutboxError> {
        let tx = self.db.begin_read()?;
        let deliveries = tx.open_table(DELIVERIES)?;
        let alerts = tx.open_table(ALERTS)?;
        let mut out = Vec::new();
        for entry in deliveries.iter()? {
            let (key, value) = entry?;
            let (sink, seq) = key.value();
            let state: DeliveryState = serde_json::from_slice(value.value())?;
            out.push(self.load(&alerts, sink, (seq, state))?);
        }
        Ok(out)
    }

    /// Makes the selected deliveries due now with a fresh count of tries.
    pub fn retry(&self, selection: &Selection, now: DateTime<Utc>) -> Result<u64, OutboxError> {
        self.rewrite(selection, |state| {
            state.dead = false;
            state.tries = 0;
            state.next_at = now.timestamp_micros();
            state.enqueued_at = now.timestamp_micros();
            true
        })
    }

    /// Removes the selected deliveries.
    pub fn drop_selected(&self, selection: &Selection) -> Result<u64, OutboxError> {
        self.rewrite(selection, |_| false)
    }

    /// Applies `f` to each selected delivery: `true` keeps it (changed), `false` removes it.
    fn rewrite(
        &self,
        selection: &Selection,
        mut f: impl FnMut(&mut DeliveryState) -> bool,
    ) -> Result<u64, OutboxError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate);
        let mut touched = 0;
        {
            let mut deliveries = tx.open_table(DELIVERIES)?;
            let mut alerts = tx.open_table(ALERTS)?;
            let mut ids = tx.open_table(IDS)?;
            let mut selected = Vec::new();
            for entry in deliveries.iter()? {
                let (key, value) = entry?;
                let (sink, seq) = key.value();
                let state: DeliveryState = serde_json::from_slice(value.value())?;
                if selection.matches(sink, &state) {
                    selected.push((sink.to_owned(), seq, state));
                }
            }
            for (sink, seq, mut state) in selected {
                touched += 1;
                if f(&mut state) {
                    deliveries
                        .insert((sink.as_str(), seq), serde_json::to_vec(&state)?.as_slice())?;
                } else if deliveries.remove((sink.as_str(), seq))?.is_some() {
                    release(&mut alerts, &mut ids, seq)?;
                }
            }
        }
        tx.commit()?;
        Ok(touched)
    }

    /// Deliveries still waiting (not dead) for any of `sinks`.
    pub fn waiting(&self, sinks: &[String]) -> Result<u64, OutboxError> {
        let tx = self.db.begin_read()?;
        let deliveries = tx.open_table(DELIVERIES)?;
        let mut n = 0;
        for sink in sinks {
            for entry in deliveries.range((sink.as_str(), 0u64)..=(sink.as_str(), u64::MAX))? {
                let (_, value) = entry?;
                let state: DeliveryState = serde_json::from_slice(value.value())?;
                n += u64::from(!state.dead);
            }
        }
        Ok(n)
    }
}
