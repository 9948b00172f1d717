//! One partition reader: connect, attach, forward bodies, and start again after any
//! failure, from the last body forwarded.
//!
//! The SDK's traps shape this loop. A receiver attaches lazily (errors show on the
//! first poll), and its stream ends after its first error. When the SDK reconnects
//! by itself it re-attaches from the position the receiver was *opened* with, so the
//! stream delivers events again: the reader remembers the last sequence number it
//! forwarded and drops anything at or before it. A client caches one link per
//! partition, so every new attempt opens a new client, from the last sequence number
//! (exclusive). `ConsumerDisconnected` means another reader holds the partition with
//! a higher owner level: the reader reports the partition lost and ends. Every SDK
//! call is bounded by the connector's timeout (a lost disposition must not hang us).
//! Each attach checks for events the partition no longer has ([`super::gaps`]).

use std::sync::Arc;
use std::time::Duration;

use azure_messaging_eventhubs::error::ErrorKind;
use azure_messaging_eventhubs::{
    ConsumerClient, EventReceiver, OpenReceiverOptions, StartLocation, StartPosition,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::client::Connector;
use super::gaps::{Gap, GapCheck};
use super::{Activity, Body, SourceMsg};
use crate::clock::Clock;
use crate::config::eventhubs::StartConfig;
use crate::metrics::LiveMetrics;

/// How one partition is read.
#[derive(Clone)]
pub struct ReaderSettings {
    /// The partition's slot (see [`super::PartitionSlot`]).
    pub slot: usize,
    /// The partition id.
    pub partition: String,
    /// Opens clients on the partition's hub.
    pub connector: Connector,
    /// Where to start without a checkpoint.
    pub start: StartConfig,
    /// The checkpointed position: the first event read follows it.
    pub resume_after: Option<i64>,
    /// Events the service may send ahead.
    pub prefetch: u32,
    /// The owner level to claim the partition with.
    pub owner_level: Option<i64>,
    /// The first and the longest delay between attempts.
    pub backoff: (Duration, Duration),
    /// How often the partition's last enqueued sequence number is read (lag).
    pub lag_interval: Duration,
    /// Shared with the channel's consumer.
    pub activity: Arc<Activity>,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
    /// Lag and reconnect metrics.
    pub metrics: Option<LiveMetrics>,
}

/// How one attempt ended.
enum End {
    /// Shut down, or nobody takes bodies any more.
    Stop,
    /// Another reader holds the partition.
    Lost(String),
    /// Anything else: try again; `progressed` when a body was forwarded.
    Failed { error: String, progressed: bool },
}

/// Reads one partition into `tx` until `cancel` fires, the channel closes, or the
/// partition is taken by another reader.
pub async fn read_partition(
    settings: ReaderSettings,
    tx: mpsc::Sender<SourceMsg>,
    cancel: CancellationToken,
) {
    let mut last = settings.resume_after;
    let mut started = false;
    if let Some(m) = &settings.metrics {
        m.reading(&settings.connector.hub, &settings.partition);
    }
    let (initial, max) = settings.backoff;
    let mut delay = initial;
    loop {
        match attempt(&settings, &mut last, &mut started, &tx, &cancel).await {
            End::Stop => return,
            End::Lost(reason) => {
                tracing::warn!(
                    partition = %settings.partition, hub = %settings.connector.name(),
                    "partition taken by another reader (owner level): {reason}; this process stops reading it"
                );
                let _ = tx
                    .send(SourceMsg::Lost {
                        slot: settings.slot,
                        reason,
                    })
                    .await;
                return;
            }
            End::Failed { error, progressed } => {
                if progressed {
                    delay = initial;
                }
                settings.activity.disconnected(settings.clock.now());
                tracing::warn!(
                    partition = %settings.partition, hub = %settings.connector.name(),
                    "partition reader failed: {error}; reconnecting in {}", humantime::format_duration(delay)
                );
                if let Some(m) = &settings.metrics {
                    m.reconnected(&settings.connector.hub);
                }
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(max);
            }
        }
    }
}

async fn attempt(
    s: &ReaderSettings,
    last: &mut Option<i64>,
    started: &mut bool,
    tx: &mpsc::Sender<SourceMsg>,
    cancel: &CancellationToken,
) -> End {
    let client = tokio::select! {
        () = cancel.cancelled() => return End::Stop,
        client = s.connector.consumer() => match client {
            Ok(c) => c,
            Err(e) => return End::Failed { error: e.to_string(), progressed: false },
        },
    };
    let pin_latest = !*started && last.is_none() && s.start == StartConfig::Latest;
    let bounds = if pin_latest || last.is_some() {
        partition_bounds(s, &client).await
    } else {
        None
    };
    if pin_latest {
        // Pin "latest" to a sequence number, so a restart before the first body
        // resumes here instead of skipping what arrived meanwhile.
        *last = bounds.map(|(_, last_enqueued)| last_enqueued);
    }
    let mut gaps = GapCheck::default();
    if let Some(gap) = gaps.attach(*last, bounds.map(|(beginning, _)| beginning)) {
        report_gap(s, gap, tx).await;
    }
    if !*started {
        if tx
            .send(SourceMsg::Started {
                slot: s.slot,
                resume_after: *last,
            })
            .await
            .is_err()
        {
            close(s, client, None).await;
            return End::Stop;
        }
        *started = true;
    }
    let options = OpenReceiverOptions {
        owner_level: s.owner_level,
        prefetch: Some(s.prefetch),
        start_position: Some(start_position(*last, s.start)),
        receive_timeout: None,
    };
    let open = client.open_receiver_on_partition(s.partition.clone(), Some(options));
    let receiver = match s
        .connector
        .bounded(format!("opening partition {}", s.partition), open)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            close(s, client, None).await;
            return End::Failed {
                error: e.to_string(),
                progressed: false,
            };
        }
    };
    s.activity.connected();
    let end = forward(s, &client, &receiver, (last, &mut gaps), tx, cancel).await;
    close(s, client, Some(receiver)).await;
    end
}

/// Forwards the receiver's events until something ends the attempt.
async fn forward(
    s: &ReaderSettings,
    client: &ConsumerClient,
    receiver: &EventReceiver,
    (last, gaps): (&mut Option<i64>, &mut GapCheck),
    tx: &mpsc::Sender<SourceMsg>,
    cancel: &CancellationToken,
) -> End {
    let mut progressed = false;
    let mut events = std::pin::pin!(receiver.stream_events());
    let mut lag =
        tokio::time::interval_at(tokio::time::Instant::now() + s.lag_interval, s.lag_interval);
    lag.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let item = tokio::select! {
            biased;
            () = cancel.cancelled() => return End::Stop,
            _ = lag.tick() => {
                report_lag(s, client, *last).await;
                continue;
            }
            item = events.next() => item,
        };
        let event = match item {
            None => {
                return End::Failed {
                    error: "the event stream ended".to_owned(),
                    progressed,
                }
            }
            Some(Err(e)) if matches!(e.kind, ErrorKind::ConsumerDisconnected(_)) => {
                return End::Lost(e.to_string())
            }
            Some(Err(e)) => {
                return End::Failed {
                    error: e.to_string(),
                    progressed,
                }
            }
            Some(Ok(event)) => event,
        };
        s.activity.touch(s.clock.now());
        let Some(sequence) = event.sequence_number() else {
            tracing::warn!(partition = %s.partition, "an event without a sequence number; skipped");
            continue;
        };
        if last.is_some_and(|l| sequence <= l) {
            continue; // delivered again after the SDK reconnected on its own
        }
        if let Some(gap) = gaps.event(sequence) {
            report_gap(s, gap, tx).await;
        }
        let body = Body {
            slot: s.slot,
            sequence,
            offset: event.offset().clone(),
            enqueued: event.enqueued_time().map(DateTime::<Utc>::from),
            bytes: event
                .event_data()
                .body()
                .map(<[u8]>::to_vec)
                .unwrap_or_default(),
        };
        s.activity.set_waiting(true);
        let sent = tokio::select! {
            () = cancel.cancelled() => None,
            sent = tx.send(SourceMsg::Body(body)) => Some(sent.is_ok()),
        };
        s.activity.set_waiting(false);
        s.activity.touch(s.clock.now());
        match sent {
            Some(true) => {
                *last = Some(sequence);
                progressed = true;
            }
            _ => return End::Stop,
        }
    }
}

fn start_position(last: Option<i64>, start: StartConfig) -> StartPosition {
    let (location, inclusive) = match (last, start) {
        (Some(seq), _) => (StartLocation::SequenceNumber(seq), false),
        (None, StartConfig::Latest) => (StartLocation::Latest, false),
        (None, StartConfig::Earliest) => (StartLocation::Earliest, false),
        (None, StartConfig::EnqueuedAt(t)) => (StartLocation::EnqueuedTime(t.into()), true),
    };
    StartPosition {
        location,
        inclusive,
    }
}

/// The partition's first and last sequence numbers, when its properties can be read.
async fn partition_bounds(s: &ReaderSettings, client: &ConsumerClient) -> Option<(i64, i64)> {
    let what = format!("reading partition {} properties", s.partition);
    match s
        .connector
        .bounded(what, client.get_partition_properties(&s.partition))
        .await
    {
        Ok(p) => Some((p.beginning_sequence_number, p.last_enqueued_sequence_number)),
        Err(e) => {
            tracing::warn!(
                "{e}; the gap check waits for the first event (and \"latest\" is the service's)"
            );
            None
        }
    }
}

/// Logs and counts a gap, and tells the channel's consumer.
async fn report_gap(s: &ReaderSettings, gap: Gap, tx: &mpsc::Sender<SourceMsg>) {
    tracing::error!(
        partition = %s.partition, hub = %s.connector.name(),
        "events lost before kvwatch read them: sequence numbers {} to {} ({} events) are no longer in the partition (retention expired while kvwatch was behind or stopped); detection was blind to them",
        gap.after + 1, gap.next - 1, gap.events()
    );
    if let Some(m) = &s.metrics {
        m.gap(&s.connector.hub, &s.partition, gap.events());
    }
    let _ = tx.send(SourceMsg::Gap { slot: s.slot, gap }).await;
}

async fn report_lag(s: &ReaderSettings, client: &ConsumerClient, last: Option<i64>) {
    let Some(metrics) = &s.metrics else { return };
    let what = format!("reading partition {} properties", s.partition);
    match s
        .connector
        .bounded(what, client.get_partition_properties(&s.partition))
        .await
    {
        Ok(p) => {
            let behind =
                p.last_enqueued_sequence_number - last.unwrap_or(p.beginning_sequence_number - 1);
            metrics.partition_lag(
                &s.connector.hub,
                &s.partition,
                u64::try_from(behind).unwrap_or(0),
            );
        }
        Err(e) => tracing::debug!("lag not updated: {e}"),
    }
}

/// Closes the receiver (its stream already dropped) and the client, each bounded.
async fn close(s: &ReaderSettings, client: ConsumerClient, receiver: Option<EventReceiver>) {
    if let Some(r) = receiver {
        if let Err(e) = s
            .connector
            .bounded("closing a receiver".to_owned(), r.close())
            .await
        {
            tracing::debug!("{e}");
        }
    }
    if let Err(e) = s
        .connector
        .bounded("closing a client".to_owned(), client.close())
        .await
    {
        tracing::debug!("{e}");
    }
}
