//! The replay's reading and decoding stages: inputs streamed in chunks, decoded on
//! every core, handed over in input order.
//!
//! One reader thread walks the planned inputs (several hourly blobs ahead of the
//! detectors), opens each as a stream and cuts it into chunks of whole records
//! ([`Framer`]). Each chunk goes to a pool of decoding threads, and a receiver for
//! its result goes, in reading order, into a bounded queue that the caller's thread
//! drains ([`for_each_step`]). The caller therefore sees exactly the sequence a
//! single thread would produce, whatever the number of threads, while a count of
//! chunks in flight holds back the reader (back-pressure): at most [`ahead`] chunks
//! (about a megabyte each, and their decoded events) are read and not yet handed
//! on. The steps between chunks (an input starts or ends, an hour ends) do not
//! count: an hourly blob is often a single chunk framed by three of them, and
//! counting them kept the decoders short of work.
//!
//! With one thread nothing is spawned: the same steps are produced and decoded on
//! the caller's thread, in the same order.

use std::ops::ControlFlow;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::decode::framing::{Chunk, Framer};
use crate::decode::{Format, Limits};
use crate::pipeline::{decode_chunk, DecodedChunk, Origin};
use crate::source::files::{open_input, Group, Input, InputError};

/// What the reading stage hands on, in input order.
#[derive(Debug)]
pub enum Step {
    /// An input starts.
    Input(Origin),
    /// Records of the current input, decoded.
    Records(DecodedChunk),
    /// The current input ended: read to its end, or failed (what came before it was
    /// handed on).
    InputEnd(Result<(), InputError>),
    /// A group of inputs ended (the watermark may move).
    GroupEnd,
}

/// What the reader produces before decoding.
enum Raw {
    Input(Origin),
    Chunk(Chunk, Instant),
    InputEnd(Result<(), InputError>),
    GroupEnd,
}

/// How the inputs are read.
#[derive(Debug, Clone, Copy)]
pub struct ReadSettings {
    /// The input format (`Auto` detects per input).
    pub format: Format,
    /// Record and decompression limits.
    pub limits: Limits,
    /// Decoding threads (1: everything on the caller's thread).
    pub threads: usize,
}

/// Chunks in flight between the reader and the caller for `threads` decoders.
pub fn ahead(threads: usize) -> usize {
    2 * threads + 2
}

/// Steps of any kind queued for the caller: the chunks in flight and the small
/// steps between them.
fn queued(threads: usize) -> usize {
    8 * ahead(threads)
}

/// Reads every input of `groups`, handing each step to `step` in input order;
/// stops early when `step` says so.
pub fn for_each_step<E>(
    groups: &[Group],
    settings: ReadSettings,
    step: &mut dyn FnMut(Step) -> ControlFlow<E>,
) -> Result<(), E> {
    if settings.threads > 1 {
        if let Some(outcome) = parallel(groups, settings, step) {
            return outcome;
        }
    }
    let mut outcome = Ok(());
    read_inputs(groups, settings, &mut |raw| {
        let s = match raw {
            Raw::Input(o) => Step::Input(o),
            Raw::Chunk(chunk, at) => Step::Records(decode_chunk(&chunk, &settings.limits, at)),
            Raw::InputEnd(r) => Step::InputEnd(r),
            Raw::GroupEnd => Step::GroupEnd,
        };
        match step(s) {
            ControlFlow::Continue(()) => true,
            ControlFlow::Break(e) => {
                outcome = Err(e);
                false
            }
        }
    });
    outcome
}

/// A step whose records are still being decoded.
enum Pending {
    Step(Step),
    Records(Receiver<DecodedChunk>),
}

type Job = (Chunk, Instant, SyncSender<DecodedChunk>);

/// The threaded stages; `None` when no thread could be started (then nothing was
/// read, and the caller reads on its own thread).
fn parallel<E>(
    groups: &[Group],
    settings: ReadSettings,
    step: &mut dyn FnMut(Step) -> ControlFlow<E>,
) -> Option<Result<(), E>> {
    let ahead = ahead(settings.threads);
    std::thread::scope(|scope| {
        let (order_tx, order_rx) = sync_channel::<Pending>(queued(settings.threads));
        let (job_tx, job_rx) = sync_channel::<Job>(ahead);
        // One token per chunk read and not yet handed on: the reader waits for a
        // free one before reading on.
        let (token_tx, token_rx) = sync_channel::<()>(ahead);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let mut decoders = 0;
        for _ in 0..settings.threads {
            let jobs = job_rx.clone();
            let limits = settings.limits;
            let decoder = move || loop {
                let job = match jobs.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((chunk, at, done)) = job else { return };
                // The caller may have stopped: a result nobody waits for is dropped.
                let _ = done.send(decode_chunk(&chunk, &limits, at));
            };
            decoders += usize::from(spawn(scope, "kvwatch-decode", decoder));
        }
        drop(job_rx);
        if decoders == 0 {
            return None;
        }
        let reader = move || {
            read_inputs(groups, settings, &mut |raw| {
                let pending = match raw {
                    Raw::Input(o) => Pending::Step(Step::Input(o)),
                    Raw::Chunk(chunk, at) => {
                        let (done, result) = sync_channel(1);
                        if token_tx.send(()).is_err() || job_tx.send((chunk, at, done)).is_err() {
                            return false;
                        }
                        Pending::Records(result)
                    }
                    Raw::InputEnd(r) => Pending::Step(Step::InputEnd(r)),
                    Raw::GroupEnd => Pending::Step(Step::GroupEnd),
                };
                order_tx.send(pending).is_ok()
            });
        };
        if !spawn(scope, "kvwatch-read", reader) {
            return None;
        }
        Some(drain(order_rx, token_rx, step))
    })
}

/// Starts a named thread in `scope` (the name shows in profiles and `top -H`);
/// says whether it started.
fn spawn<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    name: &str,
    f: impl FnOnce() + Send + 'scope,
) -> bool {
    let builder = std::thread::Builder::new().name(name.to_owned());
    match builder.spawn_scoped(scope, f) {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!("cannot start a {name} thread ({e}); reading with fewer threads");
            false
        }
    }
}

/// Hands the steps on in order; returning drops the queue and the tokens, which
/// stops the reader.
fn drain<E>(
    order: Receiver<Pending>,
    tokens: Receiver<()>,
    step: &mut dyn FnMut(Step) -> ControlFlow<E>,
) -> Result<(), E> {
    for pending in order {
        let s = match pending {
            Pending::Step(s) => s,
            Pending::Records(result) => match result.recv() {
                Ok(decoded) => {
                    // Its token frees a place for the reader (it took one first).
                    let _ = tokens.try_recv();
                    Step::Records(decoded)
                }
                // A decoding thread died (it cannot on any input): stop reading.
                Err(_) => break,
            },
        };
        if let ControlFlow::Break(e) = step(s) {
            return Err(e);
        }
    }
    Ok(())
}

/// The reader: every input of every group, cut into chunks; `emit` says whether to
/// go on.
fn read_inputs(groups: &[Group], settings: ReadSettings, emit: &mut dyn FnMut(Raw) -> bool) {
    for group in groups {
        for input in &group.inputs {
            let origin = match input {
                Input::File(p) => Origin::File(p.clone()),
                Input::Stdin => Origin::Stdin,
            };
            if !emit(Raw::Input(origin)) {
                return;
            }
            let end = match open_input(input, settings.limits.max_expansion_ratio) {
                Ok(open) => {
                    let name = open.name;
                    let mut framer = Framer::new(open.reader, settings.format, settings.limits);
                    loop {
                        match framer.next_chunk() {
                            Ok(Some(chunk)) => {
                                if !emit(Raw::Chunk(chunk, Instant::now())) {
                                    return;
                                }
                            }
                            Ok(None) => break Ok(()),
                            Err(source) => break Err(InputError::Read { path: name, source }),
                        }
                    }
                }
                Err(e) => Err(e),
            };
            if !emit(Raw::InputEnd(end)) {
                return;
            }
        }
        if !emit(Raw::GroupEnd) {
            return;
        }
    }
}
