//! Records decoded away from the pipeline's thread: owned, boxed and hashed.
//!
//! Decoding is stateless, so a replay decodes chunks of its inputs on every core
//! ([`decode_chunk`]) and hands the results, in input order, to the one thread that
//! runs the stateful stages (dedup, reorder, detect). Each event is detached from its
//! chunk and boxed there, with its content hash, so the pipeline's thread only moves
//! pointers; a refused record keeps its text for the rejection log.

use std::time::Instant;

use super::dedup::{content_hash, ContentHash};
use crate::decode::framing::{self, Chunk};
use crate::decode::{Limits, Location, Record, Refusal, Shape};
use crate::event::AuditEvent;

/// One record, decoded.
#[derive(Debug)]
pub enum Decoded {
    /// An event.
    Event {
        /// The shape it arrived in.
        shape: Shape,
        /// Its content hash (deduplication and reorder tie-break).
        hash: ContentHash,
        /// The event, detached from its input.
        event: Box<AuditEvent<'static>>,
    },
    /// A record that gave no event.
    Refused {
        /// The shape it arrived in.
        shape: Shape,
        /// Where it was in its input.
        location: Location,
        /// Why.
        refusal: Refusal,
        /// Its text, when the decoder knew it.
        raw: Box<[u8]>,
    },
}

impl Decoded {
    /// Detaches a decoder's record from its input buffer.
    pub fn from_record(record: Record<'_>) -> Decoded {
        match record.result {
            Ok(event) => Decoded::Event {
                shape: record.shape,
                hash: content_hash(&event),
                event: Box::new(event.into_owned()),
            },
            Err(refusal) => Decoded::Refused {
                shape: record.shape,
                location: record.location,
                refusal,
                raw: record.raw.into(),
            },
        }
    }
}

/// The records of one chunk, in input order.
#[derive(Debug)]
pub struct DecodedChunk {
    /// The records.
    pub records: Vec<Decoded>,
    /// When the chunk's bytes were read (processing latency starts there).
    pub received: Instant,
}

/// Decodes one chunk read at `received`.
pub fn decode_chunk(chunk: &Chunk, limits: &Limits, received: Instant) -> DecodedChunk {
    let mut records = Vec::new();
    framing::decode_chunk(chunk, limits, &mut |r| {
        records.push(Decoded::from_record(r));
    });
    DecodedChunk { records, received }
}
