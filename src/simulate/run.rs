//! The generation loop: plan, then hour by hour generate, render, delay and write.
//!
//! Planned requests (scenarios, admin changes) and each day's generated traffic are
//! merged by event time; each hour's requests are rendered and given Azure's export
//! delay, and a record is written once its arrival hour is complete. Every record
//! generated later has a later event time, hence a later arrival, so blobs are
//! written once and memory holds only the records in flight.

use std::time::Instant;

use super::clock::{self, Tick, DAY, HOUR};
use super::{
    activity, admin, describe, ids, jobs, output, places, plan, platform, render, request, scale,
    scenarios, tenant, users, vaults,
};
use super::{OutputShape, ScenarioSet, SimulateError, SimulationReport, SimulationSpec};

/// Runs a simulation and writes it to `spec.out`.
pub fn simulate(spec: &SimulationSpec) -> Result<SimulationReport, SimulateError> {
    spec.check()?;
    let started = Instant::now();
    output::prepare(&spec.out, spec.overwrite)?;
    let tenant = tenant::Tenant::build(spec.seed, spec.start, spec.days, spec.managed_hsm);
    let start = clock::midnight(spec.start);
    let ctx = plan::Ctx {
        tenant: &tenant,
        seed: spec.seed,
        start_date: spec.start,
        start,
        days: spec.days,
    };
    let mut plan = plan::Plan::default();
    admin::admin_changes(&ctx, &mut plan);
    admin::iac_reapplies(&ctx, &mut plan);
    scenarios::split_tunnel_routine(&ctx, &mut plan);
    admin::business_trip(&ctx, &mut plan);
    platform::expiry_notifications(&ctx, &mut plan);
    if spec.scenarios == ScenarioSet::All {
        scenarios::plan_attacks(&ctx, &mut plan);
    }
    platform::follow_changes(&ctx, &mut plan);
    let activity_log = spec
        .activity_log
        .then(|| activity::plan(&ctx, &mut plan, spec.scenarios == ScenarioSet::All));
    plan.finish(&ctx);
    let history = vaults::ConfigHistory::build(&tenant.vaults, &plan.changes);
    let renderer = render::Renderer::new(&tenant.vaults, &history, &tenant.tenant_id);

    let hubs_dir = match spec.shape {
        OutputShape::Storage => None,
        OutputShape::EventHubs => Some("eventhubs"),
        OutputShape::Both => Some("_eventhubs"),
    };
    let resource_ids = (0..tenant.vaults.len())
        .map(|v| renderer.resource_id(v).to_owned())
        .collect();
    let mut writer = output::Writer::new(
        &spec.out,
        spec.shape != OutputShape::EventHubs,
        hubs_dir,
        resource_ids,
        spec.seed,
    );
    let mut scale = scale::Scale::new(spec.principals, spec.seed, start, spec.days);
    let planned_records = plan.requests.len() as u64;
    let scale_records = scale.len() as u64;
    let end = start + i64::from(spec.days) * DAY;
    let mut future: Vec<request::Request> = std::mem::take(&mut plan.requests);
    let mut delays = ids::stream(spec.seed, "export-delay", 0);
    let mut pending: Vec<output::Line> = Vec::new();
    let mut seq = 0u64;
    let mut batch = Vec::new();
    for day in 0..spec.days {
        let t0 = start + i64::from(day) * DAY;
        let mut generated = Vec::new();
        for (i, u) in tenant.users.iter().enumerate() {
            users::day(
                i,
                u,
                &tenant.vaults,
                spec.seed,
                spec.start,
                t0,
                &plan.trips,
                &mut generated,
            );
        }
        for w in &tenant.workloads {
            jobs::day(
                w,
                &tenant.vaults,
                spec.seed,
                u64::from(day),
                t0,
                spec.volume,
                &mut generated,
            );
        }
        platform::day(&tenant, spec.seed, u64::from(day), t0, &mut generated);
        generated.retain(|r| r.time >= t0 && r.time < end);
        future.extend(generated);
        future.sort_by_key(|r| r.time);
        for hour in 0..24 {
            let h0 = t0 + hour * HOUR;
            let h1 = h0 + HOUR;
            let ready = future.partition_point(|r| r.time < h1);
            batch.extend(future.drain(..ready));
            scale.until(h1, &tenant, &mut batch);
            for r in batch.drain(..) {
                let mut text = String::with_capacity(1400);
                renderer.render(&r, &mut text);
                pending.push(output::Line {
                    arrival: r.time + output::export_delay(&mut delays),
                    seq,
                    vault: r.vault,
                    text,
                });
                seq += 1;
            }
            flush(&mut writer, &mut pending, h0, h1)?;
        }
    }
    let mut h0 = end;
    while !pending.is_empty() {
        flush(&mut writer, &mut pending, h0, h0 + HOUR)?;
        h0 += HOUR;
    }
    writer.finish()?;
    let activity_records = match &activity_log {
        Some(log) => activity::write(&spec.out, &tenant, log, spec.seed)?,
        None => 0,
    };

    let labels: String = plan.labels.iter().map(|l| l.to_json() + "\n").collect();
    output::write_file(&spec.out.join("_labels.jsonl"), labels.as_bytes())?;
    output::write_file(
        &spec.out.join("_tenant.json"),
        &describe::tenant_json(spec, &tenant, &plan),
    )?;
    let epoch = u64::try_from(clock::epoch_seconds(start)).unwrap_or(0);
    output::write_file(
        &spec.out.join("_geoip.mmdb"),
        &places::geoip_database(epoch)?,
    )?;

    let declared =
        tenant.users.len() + tenant.workloads.len() + tenant.first_party.len() + plan.actors.len();
    let w = writer.written;
    Ok(SimulationReport {
        out: spec.out.clone(),
        start: clock::to_datetime(start),
        end: clock::to_datetime(end),
        records: w.records,
        scale_records,
        planned_records,
        labels: plan.labels.len(),
        attack_labels: plan.labels.iter().filter(|l| l.kind == "attack").count(),
        principals: declared as u64 + spec.principals,
        vaults: tenant.vaults.len(),
        blobs: w.blobs,
        event_hub_bodies: w.bodies,
        duplicate_bodies: w.duplicates,
        bytes: w.bytes,
        activity_records,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Writes the records that arrived before `h1` (their arrival hour is complete:
/// every record generated later has an event time, hence an arrival, after `h1`).
fn flush(
    writer: &mut output::Writer,
    pending: &mut Vec<output::Line>,
    h0: Tick,
    h1: Tick,
) -> Result<(), SimulateError> {
    pending.sort_by_key(|l| (l.arrival, l.seq));
    let ready = pending.partition_point(|l| l.arrival < h1);
    let lines: Vec<output::Line> = pending.drain(..ready).collect();
    writer.hour(h0, &lines)
}
