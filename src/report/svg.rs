//! Inline SVG charts, hand-written: activity over time by operation class with
//! denials and alerts marked, and the incidents timeline.
//!
//! The report must work offline and when mailed, under a Content-Security-Policy
//! that forbids scripts and fetches, so charts are plain SVG inside the HTML. Colours
//! come from CSS classes (`k0`…`k7` per operation class, `sev-*` per severity) so the
//! page's light and dark themes and print styles apply. Every text from a record
//! (detector names, identities in tooltips) passes through [`super::html::esc`].

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};

use super::html::{anchor, esc};
use super::model::{Chart, IncidentView, Period};
use crate::event::OperationClass;

const LEFT: f64 = 46.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 8.0;
const AXIS: f64 = 18.0;
const DENIED_STRIP: f64 = 10.0;

fn x_of(t: DateTime<Utc>, start: DateTime<Utc>, span: f64, plot_w: f64) -> f64 {
    let offset = (t - start).num_seconds() as f64;
    LEFT + (offset / span.max(1.0)).clamp(0.0, 1.0) * plot_w
}

/// A rounded-up axis maximum (1, 2, 5 × 10^n).
fn nice(max: u32) -> u32 {
    let max = max.max(1);
    let mut step = 1u32;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= max {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// Day (or multi-day) ticks between `start` and `end`: at most about eight.
fn day_ticks(start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let days = (end - start).num_days().max(1);
    let step = (days / 8 + 1).max(1);
    let mut t = start
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(start);
    if t < start {
        t += Duration::days(1);
    }
    let mut out = Vec::new();
    while t <= end && out.len() < 40 {
        out.push(t);
        t += Duration::days(step);
    }
    out
}

/// The x-axis labels and grid lines.
fn time_axis(
    out: &mut String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    plot_w: f64,
    y_axis: f64,
    top: f64,
) {
    let span = (end - start).num_seconds() as f64;
    let ticks = day_ticks(start, end);
    let format = if (end - start).num_days() < 1 {
        "%H:%M"
    } else {
        "%b %d"
    };
    let ticks = if ticks.is_empty() { vec![start] } else { ticks };
    for t in ticks {
        let x = x_of(t, start, span, plot_w);
        // Keep the first and last labels inside the chart.
        let anchor = if x > LEFT + plot_w - 24.0 {
            "end"
        } else if x < LEFT + 24.0 {
            "start"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{y_axis:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            y_axis + 13.0,
            t.format(format)
        );
    }
}

/// An activity chart: stacked bars by operation class, a strip of denials under the
/// axis, and a marker per alert linking to its incident.
pub fn activity(chart: &Chart, width: u32, height: u32, label: &str) -> String {
    let (Some(start), false) = (chart.start, chart.buckets.is_empty()) else {
        return String::from(r#"<p class="empty">No activity.</p>"#);
    };
    let n = chart.buckets.len();
    let end = start + Duration::seconds(chart.bucket_seconds * n as i64);
    let (w, h) = (f64::from(width), f64::from(height));
    let plot_w = w - LEFT - RIGHT;
    let plot_h = h - TOP - AXIS - DENIED_STRIP - 4.0;
    let y_axis = TOP + plot_h;
    let max = nice(
        chart
            .buckets
            .iter()
            .map(super::series::Bucket::total)
            .max()
            .unwrap_or(0),
    );
    let max_denied = chart.buckets.iter().map(|b| b.denied).max().unwrap_or(0);
    let bar_w = plot_w / n as f64;
    let mut out = String::with_capacity(8192);
    let _ = write!(
        out,
        r#"<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet"><title>{}</title>"#,
        esc(label)
    );
    for frac in [0.0, 0.5, 1.0] {
        let y = y_axis - frac * plot_h;
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            w - RIGHT,
            LEFT - 4.0,
            y + 3.5,
            (f64::from(max) * frac).round()
        );
    }
    time_axis(
        &mut out,
        start,
        end,
        plot_w,
        y_axis + DENIED_STRIP + 2.0,
        TOP,
    );
    for (i, b) in chart.buckets.iter().enumerate() {
        let total = b.total();
        if total == 0 {
            continue;
        }
        let x = LEFT + i as f64 * bar_w;
        let mut y = y_axis;
        let t = start + Duration::seconds(chart.bucket_seconds * i as i64);
        let mut tip = format!("{} · {} requests", t.format("%Y-%m-%d %H:%M"), total);
        for class in OperationClass::ALL {
            let count = b.by_class[class.index()];
            if count == 0 {
                continue;
            }
            let bh = f64::from(count) / f64::from(max) * plot_h;
            y -= bh;
            let _ = write!(
                out,
                r#"<rect class="k{}" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{bh:.1}"/>"#,
                class.index(),
                (bar_w - 0.6).max(0.6)
            );
            let _ = write!(tip, ", {} {}", class.as_str(), count);
        }
        if b.denied > 0 {
            let opacity = 0.35 + 0.65 * f64::from(b.denied) / f64::from(max_denied.max(1));
            let _ = write!(
                out,
                r#"<rect class="denied" x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill-opacity="{opacity:.2}"/>"#,
                y_axis + 2.0,
                bar_w.max(1.0),
                DENIED_STRIP - 2.0
            );
            let _ = write!(tip, "; {} denied", b.denied);
        }
        if b.failed > 0 {
            let _ = write!(tip, "; {} failed", b.failed);
        }
        let _ = write!(
            out,
            r#"<rect class="hit" x="{x:.1}" y="{TOP}" width="{bar_w:.1}" height="{:.1}"><title>{}</title></rect>"#,
            plot_h + DENIED_STRIP,
            esc(&tip)
        );
    }
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" y1="{y_axis:.1}" x2="{:.1}" y2="{y_axis:.1}"/>"#,
        w - RIGHT
    );
    let span = (end - start).num_seconds() as f64;
    for m in &chart.marks {
        let x = x_of(m.time, start, span, plot_w);
        let tip = format!(
            "alert: {} ({}) at {}",
            m.label,
            m.severity,
            m.time.format("%Y-%m-%d %H:%M:%S")
        );
        let _ = write!(
            out,
            r##"<a href="#{}"><g class="mark sev-{}"><line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{y_axis:.1}"/><path d="M{:.1} 1 h8 l-4 7 z"/><title>{}</title></g></a>"##,
            anchor("inc", &m.incident_id),
            m.severity,
            x - 4.0,
            esc(&tip)
        );
    }
    out.push_str("</svg>");
    out
}

/// The incidents timeline: one row per incident (first to last event), a tick per
/// alert revision, coloured by severity, each row linking to the incident.
pub fn timeline(
    period: &Period,
    incidents: &[IncidentView],
    width: u32,
    max_rows: usize,
) -> String {
    const LABEL: f64 = 250.0;
    const ROW: f64 = 15.0;
    let rows = incidents.len().min(max_rows);
    let w = f64::from(width);
    let plot_w = w - LABEL - RIGHT;
    let h = TOP + rows as f64 * ROW + AXIS + 6.0;
    let (start, end) = (
        period.start,
        period.end.max(period.start + Duration::minutes(1)),
    );
    let span = (end - start).num_seconds() as f64;
    let x = |t: DateTime<Utc>| {
        LABEL + ((t - start).num_seconds() as f64 / span).clamp(0.0, 1.0) * plot_w
    };
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        r#"<svg class="chart timeline" role="img" viewBox="0 0 {width} {h:.0}" width="100%" preserveAspectRatio="xMinYMin meet"><title>Incidents over the period</title>"#
    );
    let y_axis = TOP + rows as f64 * ROW;
    let shift = LABEL - LEFT;
    let mut axis = String::new();
    time_axis(&mut axis, start, end, plot_w, y_axis, TOP);
    let _ = write!(out, r#"<g transform="translate({shift:.1} 0)">{axis}</g>"#);
    for (i, inc) in incidents.iter().take(rows).enumerate() {
        let y = TOP + i as f64 * ROW;
        let (x0, x1) = (x(inc.first_seen), x(inc.last_seen));
        let label = format!("{} · {}", inc.detector, inc.principal_name);
        let short: String = label.chars().take(38).collect();
        let tip = format!(
            "{} ({}) {} on {}: {} to {}, {} alert(s)",
            inc.detector,
            inc.severity,
            inc.principal_name,
            inc.vault,
            inc.first_seen.format("%Y-%m-%d %H:%M"),
            inc.last_seen.format("%Y-%m-%d %H:%M"),
            inc.alerts.len()
        );
        let _ = write!(
            out,
            r##"<a href="#{}"><g class="row sev-{}"><title>{}</title><text class="rowlabel" x="{:.1}" y="{:.1}" text-anchor="end">{}{}</text><rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="9" rx="2"/>"##,
            anchor("inc", &inc.incident_id),
            inc.severity,
            esc(&tip),
            LABEL - 6.0,
            y + 10.0,
            esc(&short),
            if short.len() < label.len() { "…" } else { "" },
            y + 2.0,
            (x1 - x0).max(4.0),
        );
        for a in &inc.alerts {
            let xa = x(a.last_seen);
            let _ = write!(
                out,
                r#"<line class="rev" x1="{xa:.1}" y1="{:.1}" x2="{xa:.1}" y2="{:.1}"/>"#,
                y,
                y + 13.0
            );
        }
        out.push_str("</g></a>");
    }
    out.push_str("</svg>");
    if incidents.len() > rows {
        let _ = write!(
            out,
            r#"<p class="more">{} more incidents are listed below, not drawn.</p>"#,
            incidents.len() - rows
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::series::Bucket;

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(
            [nice(0), nice(1), nice(3), nice(7), nice(11), nice(180)],
            [1, 1, 5, 10, 20, 200]
        );
    }

    #[test]
    fn charts_draw_bars_denials_and_escaped_marks() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut b = Bucket::default();
        b.by_class[0] = 3;
        b.denied = 1;
        let chart = Chart {
            start: Some(start),
            bucket_seconds: 3600,
            buckets: vec![b, Bucket::default(), b],
            marks: vec![crate::report::model::ChartMark {
                time: start + Duration::minutes(90),
                severity: crate::alert::Severity::High,
                label: "<b>det</b>".into(),
                incident_id: "kvw-1".into(),
            }],
        };
        let svg = activity(&chart, 600, 140, "x");
        assert_eq!(svg.matches(r#"class="k0""#).count(), 2);
        assert_eq!(svg.matches(r#"class="denied""#).count(), 2);
        assert!(
            svg.contains("sev-high")
                && svg.contains("&lt;b&gt;det&lt;/b&gt;")
                && !svg.contains("<b>")
        );
    }
}
