//! How one event travels through the pipeline once decoded: filtered, checked for
//! duplicates, sent down the arrival lane and the ordered lane (see [`super::lanes`]),
//! released to the detectors, and its alerts handed to the sink with the observers
//! told at each step. Split from `mod.rs`, which holds the pipeline's public face
//! (ingest, watermark, checkpoints).

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use super::dedup::ContentHash;
use super::lanes::{ArrivalMode, Next};
use super::observe::{Happening, Origin};
use super::{Decoded, Pipeline, PipelineError};
use crate::alert::Alert;
use crate::decode::{LogCategory, Refusal};
use crate::event::AuditEvent;

impl Pipeline {
    /// Takes one decoded record whose input arrived at `received`: a refusal is
    /// reported (and stops a `--strict` run), an event goes through the filter and
    /// the duplicate check into the lanes.
    pub(super) fn accept(
        &mut self,
        origin: &Origin,
        record: Decoded,
        received: Instant,
    ) -> Result<(), PipelineError> {
        let (shape, hash, event) = match record {
            Decoded::Event { shape, hash, event } => (shape, hash, event),
            Decoded::Refused {
                shape,
                location,
                refusal,
                raw,
            } => {
                self.observers.report(&Happening::Refused {
                    refusal,
                    shape,
                    category: LogCategory::of_refusal(refusal),
                    origin,
                    location,
                    raw: &raw,
                });
                if self.settings.strict && matches!(refusal, Refusal::Rejected(_)) {
                    return Err(PipelineError::Strict {
                        origin: origin.to_string(),
                        location,
                        refusal,
                    });
                }
                return Ok(());
            }
        };
        self.observers.report(&Happening::Received {
            shape,
            category: LogCategory::of_event(&event),
        });
        if !self.settings.filter.keeps(&event) {
            self.observers.report(&Happening::Filtered);
            return Ok(());
        }
        if !self.dedup.first_sighting(hash, event.time) {
            self.observers.report(&Happening::Duplicate);
            return Ok(());
        }
        if self.newest.is_none_or(|n| event.time > n) {
            self.newest = Some(event.time);
        }
        self.admit(event, hash, received)?;
        while let Some(next) = self.lanes.overflow() {
            self.step(next)?;
        }
        Ok(())
    }

    /// Sends a new event down its lanes, as the arrival mode says.
    fn admit(
        &mut self,
        event: Box<AuditEvent<'static>>,
        hash: ContentHash,
        received: Instant,
    ) -> Result<(), PipelineError> {
        if self.dedup.arrived_before_restart(hash) {
            return self.order(event, hash, received, true);
        }
        let arrived = match self.settings.arrival {
            ArrivalMode::Paced if self.engine.reads_on_arrival(&event) => {
                match self.lanes.pace(event, hash, received) {
                    Ok(_) => return Ok(()),
                    Err(behind) => {
                        self.arrive(&behind, received)?;
                        return self.order(behind, hash, received, true);
                    }
                }
            }
            // No arrival rule reads it.
            ArrivalMode::Paced => true,
            ArrivalMode::WithRelease => false,
        };
        self.order(event, hash, received, arrived)
    }

    /// Buffers an event for the ordered lane; a late one is processed at once.
    fn order(
        &mut self,
        event: Box<AuditEvent<'static>>,
        hash: ContentHash,
        received: Instant,
        arrived: bool,
    ) -> Result<(), PipelineError> {
        if let Err(late) = self.lanes.order(event, hash, received, arrived) {
            let behind = self
                .lanes
                .released_up_to()
                .map_or(Duration::zero(), |r| r - late.time);
            self.observers.report(&Happening::Late { behind });
            self.process(&late, received, arrived)?;
        }
        Ok(())
    }

    /// Takes every step the lanes allow at `watermark` (`None`: all of them).
    pub(super) fn release(
        &mut self,
        watermark: Option<DateTime<Utc>>,
    ) -> Result<(), PipelineError> {
        while let Some(next) = self.lanes.next(watermark) {
            self.step(next)?;
        }
        Ok(())
    }

    fn step(&mut self, next: Next) -> Result<(), PipelineError> {
        match next {
            Next::Arrive(r) => {
                self.arrive(&r.event, r.received)?;
                // Paced one lateness ahead, it is not behind the ordered lane.
                self.order(r.event, r.hash, r.received, true)
            }
            Next::Release(r) => self.process(&r.event, r.received, r.arrived),
        }
    }

    /// Runs the arrival rules over an event whose input arrived at `received`.
    fn arrive(&mut self, event: &AuditEvent<'_>, received: Instant) -> Result<(), PipelineError> {
        let mut alerts = Vec::new();
        self.engine.arrive(event, &mut |a| alerts.push(a));
        self.deliver_all(alerts, Some(received))
    }

    /// Runs the ordered rules over one released event whose input arrived at
    /// `received` (and the arrival rules too, unless they read it on arrival).
    pub(super) fn process(
        &mut self,
        event: &AuditEvent<'_>,
        received: Instant,
        arrived: bool,
    ) -> Result<(), PipelineError> {
        self.observers.report(&Happening::Processed {
            event,
            waited: received.elapsed(),
        });
        let mut alerts = Vec::new();
        if arrived {
            self.engine.release(event, &mut |a| alerts.push(a));
        } else {
            self.engine.process(event, &mut |a| alerts.push(a));
        }
        self.deliver_all(alerts, Some(received))
    }

    /// Hands alerts to the sink; `received` is when the input of the event that raised
    /// them arrived (`None` for alerts raised by the watermark moving).
    pub(super) fn deliver_all(
        &mut self,
        alerts: Vec<Alert>,
        received: Option<Instant>,
    ) -> Result<(), PipelineError> {
        for alert in alerts {
            self.sink.deliver(&alert)?;
            self.observers.report(&Happening::Alerted {
                alert: &alert,
                latency: received.map(|r| r.elapsed()),
            });
        }
        Ok(())
    }
}
