//! The pipeline replay and live share: decode → filter → dedup → reorder → detect →
//! alert, with observers watching every step.
//!
//! A source hands [`Pipeline::ingest`] a chunk of bytes (a file, an Event Hubs body)
//! and, when it knows how far its input has progressed, moves the watermark with
//! [`Pipeline::advance_to`]. Everything after decoding runs on event time, so feeding
//! the same records as files or as Event Hubs bodies gives the same alerts.

pub mod decoded;
pub mod dedup;
mod flow;
pub mod lanes;
pub mod observe;
pub mod reorder;

use std::collections::HashSet;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use crate::decode::{decode_buffer, Format, Limits, Location, Record, Refusal};

/// Events a single input may hold in the reorder buffer before the watermark moves
/// inside it (see [`Pipeline::advance_within_input`]).
pub const INPUT_REORDER_EVENTS: usize = 20_000;

/// How far behind the lateness margin the watermark trails inside one input: an
/// hour, so a Storage archive concatenated hour by hour (every vault's blob of an
/// hour, one after another) is ordered as its folder is.
pub const INPUT_REORDER_SLACK: Duration = Duration::hours(1);
/// The clock lives in the leaf module [`crate::clock`] (the sinks and metrics use it too,
/// and sit beside the pipeline, not above it); this path stays for callers that name it
/// through the pipeline.
pub use crate::clock;
use crate::detect::Engine;
use crate::event::AuditEvent;
use crate::sink::{AlertSink, SinkError};
pub use decoded::{decode_chunk, Decoded, DecodedChunk};
pub use dedup::{content_hash, ContentHash, Dedup};
pub use lanes::{ArrivalMode, Lanes, Next};
pub use observe::{Happening, Observer, Observers, Origin};
pub use reorder::ReorderBuffer;

/// Which events the pipeline keeps (`--since`, `--until`, `--vault`).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Keep events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Keep events before this time.
    pub until: Option<DateTime<Utc>>,
    /// Keep only these vaults (lower case); empty keeps all.
    pub vaults: HashSet<String>,
}

impl EventFilter {
    /// Whether the event passes.
    pub fn keeps(&self, e: &AuditEvent<'_>) -> bool {
        self.since.is_none_or(|s| e.time >= s)
            && self.until.is_none_or(|u| e.time < u)
            && (self.vaults.is_empty() || self.vaults.contains(e.vault.as_str()))
    }
}

/// How the pipeline orders and bounds its work.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// How late an event may be and still be processed in order.
    pub lateness: Duration,
    /// How long (event time) exact duplicates are remembered.
    pub dedup_window: std::time::Duration,
    /// The most events the reorder buffer holds.
    pub reorder_capacity: usize,
    /// Input size limits.
    pub limits: Limits,
    /// Stop at the first rejected record.
    pub strict: bool,
    /// Which events to keep.
    pub filter: EventFilter,
    /// When the rules that alert on arrival read the events they claim (see
    /// [`lanes`]): one lateness ahead of the watermark (live, and archives in arrival
    /// order), or with the ordered rules (inputs in no order).
    pub arrival: ArrivalMode,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            lateness: Duration::minutes(15),
            dedup_window: std::time::Duration::from_secs(3600),
            reorder_capacity: 1_000_000,
            limits: Limits::default(),
            strict: false,
            filter: EventFilter::default(),
            arrival: ArrivalMode::Paced,
        }
    }
}

/// Why the pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// `--strict` and a record was rejected.
    #[error("{origin}: {location}: record {refusal} (--strict stops at the first bad record)")]
    Strict {
        /// The input.
        origin: String,
        /// Where.
        location: Location,
        /// Why.
        refusal: Refusal,
    },
    /// An alert could not be written.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// What one chunk held, as [`Pipeline::ingest`] reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Records found (events and refused records).
    pub records: u64,
    /// Records refused (malformed, unknown shape, too large).
    pub refused: u64,
    /// Events skipped because a restored checkpoint had processed them already.
    pub skipped: u64,
    /// The newest event time in the chunk (every decoded event counts, whether it was
    /// kept, filtered, a duplicate or skipped).
    pub newest: Option<DateTime<Utc>>,
}

/// A pipeline's checkpointed state (see [`Pipeline::save_state`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedState {
    /// The detectors' state ([`Engine::save`]).
    pub detectors: Vec<u8>,
    /// The deduplication hashes ([`Dedup::save`]).
    pub dedup: Vec<u8>,
}

/// The shared pipeline.
pub struct Pipeline {
    settings: PipelineSettings,
    dedup: Dedup,
    lanes: Lanes,
    engine: Engine,
    observers: Observers,
    sink: Box<dyn AlertSink>,
    newest: Option<DateTime<Utc>>,
}

impl Pipeline {
    /// A pipeline feeding `engine`, delivering to `sink`, watched by `observers`.
    pub fn new(
        settings: PipelineSettings,
        engine: Engine,
        sink: Box<dyn AlertSink>,
        observers: Observers,
    ) -> Self {
        Pipeline {
            dedup: Dedup::new(settings.dedup_window),
            lanes: Lanes::new(settings.reorder_capacity, settings.lateness),
            settings,
            engine,
            observers,
            sink,
            newest: None,
        }
    }

    /// The newest event time seen so far.
    pub fn newest_event_time(&self) -> Option<DateTime<Utc>> {
        self.newest
    }

    /// When the arrival rules read the events that follow (see [`ArrivalMode`]).
    /// An input in no order (a Log Analytics export, newest first; standard input) is
    /// read whole before the watermark moves, so on arrival its records would meet
    /// baselines that learned none of it: replay reads such inputs with
    /// [`ArrivalMode::WithRelease`], and Storage hours with [`ArrivalMode::Paced`].
    pub fn set_arrival(&mut self, mode: ArrivalMode) {
        self.settings.arrival = mode;
    }

    /// The allowed lateness.
    pub fn lateness(&self) -> Duration {
        self.settings.lateness
    }

    /// Events waiting in the reorder buffers.
    pub fn buffered(&self) -> usize {
        self.lanes.len()
    }

    /// Decodes one chunk and buffers its events; says what the chunk held, so a live
    /// source can follow each partition's progress in event time.
    pub fn ingest(
        &mut self,
        origin: &Origin,
        bytes: &[u8],
        format: Format,
    ) -> Result<Ingested, PipelineError> {
        self.ingest_resumed(origin, bytes, format, None)
    }

    /// [`Pipeline::ingest`] for a chunk read again after a restart: events at or
    /// before `processed_through` were already processed before the checkpoint the
    /// pipeline was restored from, so they are skipped (counted in
    /// [`Ingested::skipped`], reported to no observer); the others go on as usual.
    pub fn ingest_resumed(
        &mut self,
        origin: &Origin,
        bytes: &[u8],
        format: Format,
        processed_through: Option<DateTime<Utc>>,
    ) -> Result<Ingested, PipelineError> {
        let mut failure: Option<PipelineError> = None;
        let mut seen = Ingested::default();
        let limits = self.settings.limits;
        let received = Instant::now();
        decode_buffer(bytes, format, &limits, &mut |record: Record<'_>| {
            seen.records += 1;
            match &record.result {
                Ok(event) => {
                    if seen.newest.is_none_or(|n| event.time > n) {
                        seen.newest = Some(event.time);
                    }
                    if processed_through.is_some_and(|cut| event.time <= cut) {
                        seen.skipped += 1;
                        return;
                    }
                }
                Err(_) => seen.refused += 1,
            }
            if failure.is_none() {
                if let Err(e) = self.accept(origin, Decoded::from_record(record), received) {
                    failure = Some(e);
                }
            }
        });
        failure.map_or(Ok(seen), Err)
    }

    /// Takes the records of a chunk decoded elsewhere ([`decode_chunk`]), in order.
    pub fn ingest_decoded(
        &mut self,
        origin: &Origin,
        chunk: DecodedChunk,
    ) -> Result<(), PipelineError> {
        for record in chunk.records {
            self.accept(origin, record, chunk.received)?;
        }
        Ok(())
    }

    /// Inside one long input (a big file, standard input), moves the watermark once
    /// the reorder buffer holds more than [`INPUT_REORDER_EVENTS`]: to the newest
    /// event time less the lateness and [`INPUT_REORDER_SLACK`]. Memory stays bounded
    /// however long the input is, and a smaller input is ordered whole, as before.
    pub fn advance_within_input(&mut self) -> Result<(), PipelineError> {
        match self.newest {
            Some(newest) if self.lanes.len() > INPUT_REORDER_EVENTS => {
                self.advance_to(newest - self.settings.lateness - INPUT_REORDER_SLACK)
            }
            _ => Ok(()),
        }
    }

    /// Moves the watermark: releases buffered events at or before `watermark`.
    pub fn advance_to(&mut self, watermark: DateTime<Utc>) -> Result<(), PipelineError> {
        self.release(Some(watermark))?;
        self.dedup.advance(watermark);
        let mut alerts = Vec::new();
        self.engine.advance(watermark, &mut |a| alerts.push(a));
        self.deliver_all(alerts, None)?;
        self.observers.report(&Happening::Watermark {
            at: watermark,
            buffered: self.lanes.len(),
        });
        Ok(())
    }

    /// Moves the watermark to the newest event time minus the allowed lateness.
    pub fn advance_by_lateness(&mut self) -> Result<(), PipelineError> {
        match self.newest {
            Some(newest) => self.advance_to(newest - self.settings.lateness),
            None => Ok(()),
        }
    }

    /// End of input: releases everything and flushes the sink.
    pub fn finish(&mut self) -> Result<(), PipelineError> {
        self.release(None)?;
        if let Some(newest) = self.newest {
            let mut alerts = Vec::new();
            self.engine.advance(newest, &mut |a| alerts.push(a));
            self.deliver_all(alerts, None)?;
        }
        self.sink.flush()?;
        Ok(())
    }

    /// Makes the alerts delivered so far durable (the sink's flush) without ending
    /// the run: a live source calls it before it commits a checkpoint.
    pub fn flush(&mut self) -> Result<(), PipelineError> {
        self.sink.flush()?;
        Ok(())
    }

    /// Memory the detectors and baselines hold (for the state metrics).
    pub fn memory(&self) -> crate::detect::engine::EngineMemory {
        self.engine.memory()
    }

    /// The time of the newest event released to the detectors (events older than it
    /// that arrive now are late).
    pub fn released_up_to(&self) -> Option<DateTime<Utc>> {
        self.lanes.released_up_to()
    }

    /// The state a checkpoint keeps: the detectors' ([`Engine::save`]) and the
    /// deduplication hashes of every event already handled, leaving out the events
    /// still waiting in the reorder buffer (a restart reads those again), and noting
    /// which of those the arrival rules have read (they are not read twice).
    pub fn save_state(&self) -> SavedState {
        let waiting: HashSet<ContentHash> = self.lanes.hashes().collect();
        let arrived: Vec<ContentHash> = self
            .lanes
            .arrived()
            .filter(|(e, _)| self.engine.reads_on_arrival(e))
            .map(|(_, h)| h)
            .collect();
        SavedState {
            detectors: self.engine.save(),
            dedup: self.dedup.save(&waiting, &arrived),
        }
    }

    /// Restores a [`Pipeline::save_state`] snapshot taken when the newest released
    /// event was `released_up_to`, so events older than it count as late again.
    /// Consumes the snapshot, whose memory is given back while the detector state
    /// is rebuilt.
    pub fn restore_state(
        &mut self,
        state: SavedState,
        released_up_to: Option<DateTime<Utc>>,
    ) -> Result<(), crate::detect::DetectorError> {
        self.engine.restore_owned(state.detectors)?;
        self.dedup.restore(&state.dedup).map_err(|message| {
            crate::detect::DetectorError::Restore {
                detector: "dedup".to_owned(),
                message,
            }
        })?;
        if let Some(t) = released_up_to {
            self.lanes.resume_after(t);
            self.dedup.advance(t);
        }
        Ok(())
    }
}
