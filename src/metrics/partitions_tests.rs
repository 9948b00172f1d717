//! Balanced mode's partition views of one registry: each partition keeps its own
//! watermark, reorder buffer and state gauges, and the instance's are summed up
//! from the partitions it holds.

use std::sync::Arc;

use super::Metrics;
use crate::config::MetricsConfig;
use crate::pipeline::clock::SystemClock;

fn line(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn the_instance_shows_the_furthest_behind_watermark_and_summed_state_of_what_it_holds() {
    let shared = Metrics::new(&MetricsConfig::default(), Arc::new(SystemClock)).unwrap();
    let parts: Vec<Arc<Metrics>> = (0..3).map(|_| shared.for_partition().unwrap()).collect();
    // (watermark, buffered, baselines principals, bytes) per partition.
    let table = [
        (2_000.0, 3, 10, 1_000),
        (1_000.0, 4, 20, 2_000),
        (3_000.0, 5, 40, 4_000),
    ];
    for (part, (watermark, buffered, principals, bytes)) in parts.iter().zip(table) {
        part.pipeline().watermark.set(watermark);
        part.pipeline().buffered.set(buffered);
        part.state().set("baselines", principals, bytes);
    }
    let text = shared.render().unwrap();
    assert_eq!(
        line(&text, "kvwatch_watermark_timestamp_seconds"),
        Some(0.0),
        "a partition's own gauges stay its own"
    );

    shared.sum_up(&[&parts[0], &parts[2]]);
    let text = shared.render().unwrap();
    let got = (
        line(&text, "kvwatch_watermark_timestamp_seconds"),
        line(&text, "kvwatch_reorder_buffer_events"),
        line(&text, "kvwatch_principals_tracked{detector=\"baselines\"}"),
        line(&text, "kvwatch_state_bytes{detector=\"baselines\"}"),
    );
    assert_eq!(got, (Some(2_000.0), Some(8.0), Some(50.0), Some(5_000.0)));

    // Partition 0 is given up: only partition 2 counts now.
    shared.sum_up(&[&parts[2]]);
    let text = shared.render().unwrap();
    assert_eq!(
        line(&text, "kvwatch_watermark_timestamp_seconds"),
        Some(3_000.0)
    );
    assert_eq!(
        line(&text, "kvwatch_state_bytes{detector=\"baselines\"}"),
        Some(4_000.0)
    );
    // Holding nothing: no state, the last watermark kept.
    shared.sum_up(&[]);
    let text = shared.render().unwrap();
    assert_eq!(
        line(&text, "kvwatch_state_bytes{detector=\"baselines\"}"),
        Some(0.0)
    );
    assert_eq!(
        line(&text, "kvwatch_watermark_timestamp_seconds"),
        Some(3_000.0)
    );
}
