//! Writing records the way Azure delivers them.
//!
//! Storage: one append blob per vault and *arrival* hour,
//! `resourceId=/SUBSCRIPTIONS/…/VAULTS/<NAME>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`,
//! JSON Lines in arrival order. Arrival is the event time plus Azure's export delay
//! (one to ten minutes), so a blob holds records from the previous hour and is not
//! sorted by `time`. Event Hubs: bodies `{"records":[…]}`, one per line, batching
//! records of every vault in arrival order, with the occasional exact duplicate
//! body that at-least-once delivery produces. Files are written hour by hour, so
//! memory holds only the records still in flight.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::RngExt;

use super::clock::{self, Tick, SECOND};
use super::ids::{self, SimRng};
use super::SimulateError;

/// One rendered record waiting for its arrival.
#[derive(Debug)]
pub(crate) struct Line {
    /// When Azure delivers it.
    pub arrival: Tick,
    /// Generation order (ties).
    pub seq: u64,
    /// The vault index.
    pub vault: usize,
    /// The record's JSON.
    pub text: String,
}

/// Azure's export delay: one to ten minutes, mostly two to five.
pub(crate) fn export_delay(rng: &mut SimRng) -> Tick {
    let seconds = (60.0 + ids::exponential(rng, 150.0)).min(599.0);
    (seconds * SECOND as f64) as Tick + rng.random_range(0..SECOND)
}

/// Counters of what was written.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Written {
    /// Records (each counted once, duplicates aside).
    pub records: u64,
    /// Storage blobs.
    pub blobs: u64,
    /// Event Hubs bodies, duplicates included.
    pub bodies: u64,
    /// Exact duplicate bodies.
    pub duplicates: u64,
    /// Bytes of record files.
    pub bytes: u64,
}

/// Where records go.
pub(crate) struct Writer {
    root: PathBuf,
    storage: bool,
    hubs: Option<Hubs>,
    resource_ids: Vec<String>,
    /// What has been written.
    pub written: Written,
}

struct Hubs {
    dir: PathBuf,
    day: Option<(i32, u32, u32)>,
    file: Option<BufWriter<File>>,
    rng: SimRng,
    redeliver: Option<(String, u32)>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SimulateError + '_ {
    move |source| SimulateError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Writer {
    /// A writer under `root`; Event Hubs files go to `hubs_dir` when given.
    pub(crate) fn new(
        root: &Path,
        storage: bool,
        hubs_dir: Option<&str>,
        resource_ids: Vec<String>,
        seed: u64,
    ) -> Self {
        let hubs = hubs_dir.map(|d| Hubs {
            dir: root.join(d),
            day: None,
            file: None,
            rng: ids::stream(seed, "event-hubs", 0),
            redeliver: None,
        });
        Writer {
            root: root.to_owned(),
            storage,
            hubs,
            resource_ids,
            written: Written::default(),
        }
    }

    /// Writes the records that arrived in the hour starting at `hour` (arrival order).
    pub(crate) fn hour(&mut self, hour: Tick, lines: &[Line]) -> Result<(), SimulateError> {
        if lines.is_empty() {
            return Ok(());
        }
        self.written.records += lines.len() as u64;
        if self.storage {
            self.storage_hour(hour, lines)?;
        }
        if let Some(hubs) = &mut self.hubs {
            let bytes = hubs.hour(hour, lines)?;
            self.written.bodies += bytes.0;
            self.written.duplicates += bytes.1;
            self.written.bytes += bytes.2;
        }
        Ok(())
    }

    fn storage_hour(&mut self, hour: Tick, lines: &[Line]) -> Result<(), SimulateError> {
        let (y, m, d, h) = clock::ymdh(hour);
        let mut vaults: Vec<usize> = lines.iter().map(|l| l.vault).collect();
        vaults.sort_unstable();
        vaults.dedup();
        for v in vaults {
            let rid = self
                .resource_ids
                .get(v)
                .map_or("", String::as_str)
                .trim_start_matches('/');
            let dir = self
                .root
                .join("resourceId=")
                .join(rid)
                .join(format!("y={y:04}/m={m:02}/d={d:02}/h={h:02}/m=00"));
            fs::create_dir_all(&dir).map_err(io(&dir))?;
            let path = dir.join("PT1H.json");
            let file = File::create(&path).map_err(io(&path))?;
            let mut out = BufWriter::with_capacity(1 << 16, file);
            for l in lines.iter().filter(|l| l.vault == v) {
                out.write_all(l.text.as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(io(&path))?;
                self.written.bytes += l.text.len() as u64 + 1;
            }
            out.flush().map_err(io(&path))?;
            self.written.blobs += 1;
        }
        Ok(())
    }

    /// Flushes the Event Hubs file.
    pub(crate) fn finish(&mut self) -> Result<(), SimulateError> {
        if let Some(h) = &mut self.hubs {
            h.close()?;
        }
        Ok(())
    }
}

impl Hubs {
    /// Writes bodies; returns (bodies, duplicates, bytes).
    fn hour(&mut self, hour: Tick, lines: &[Line]) -> Result<(u64, u64, u64), SimulateError> {
        let (y, m, d, _) = clock::ymdh(hour);
        if self.day != Some((y, m, d)) {
            self.close()?;
            fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
            let path = self.dir.join(format!(
                "insights-logs-auditevent-{y:04}-{m:02}-{d:02}.jsonl"
            ));
            self.file = Some(BufWriter::with_capacity(
                1 << 16,
                File::create(&path).map_err(io(&path))?,
            ));
            self.day = Some((y, m, d));
        }
        let (mut bodies, mut duplicates, mut bytes) = (0, 0, 0);
        let mut i = 0;
        while i < lines.len() {
            let size = if self.rng.random_bool(0.3) {
                self.rng.random_range(1..6)
            } else {
                self.rng.random_range(5..40)
            };
            let mut end = i + 1;
            while end < lines.len()
                && end - i < size
                && lines[end].arrival - lines[end - 1].arrival < 20 * SECOND
            {
                end += 1;
            }
            let mut body = String::with_capacity(
                lines[i..end]
                    .iter()
                    .map(|l| l.text.len() + 1)
                    .sum::<usize>()
                    + 16,
            );
            body.push_str("{\"records\":[");
            for (k, l) in lines[i..end].iter().enumerate() {
                if k > 0 {
                    body.push(',');
                }
                body.push_str(&l.text);
            }
            body.push_str("]}");
            bytes += self.emit(&body)?;
            bodies += 1;
            if let Some((dup, left)) = self.redeliver.take() {
                if left == 0 {
                    bytes += self.emit(&dup)?;
                    bodies += 1;
                    duplicates += 1;
                } else {
                    self.redeliver = Some((dup, left - 1));
                }
            } else if self.rng.random_bool(0.01) {
                self.redeliver = Some((body, self.rng.random_range(0..3)));
            }
            i = end;
        }
        Ok((bodies, duplicates, bytes))
    }

    fn emit(&mut self, body: &str) -> Result<u64, SimulateError> {
        let path = self.dir.clone();
        if let Some(f) = &mut self.file {
            f.write_all(body.as_bytes())
                .and_then(|()| f.write_all(b"\n"))
                .map_err(io(&path))?;
        }
        Ok(body.len() as u64 + 1)
    }

    fn close(&mut self) -> Result<(), SimulateError> {
        if let Some(mut f) = self.file.take() {
            f.flush().map_err(io(&self.dir))?;
        }
        Ok(())
    }
}

/// Names the simulator writes at the top of its output folder.
pub(crate) const OUTPUTS: &[&str] = &[
    "resourceId=",
    "eventhubs",
    "_eventhubs",
    "_labels.jsonl",
    "_tenant.json",
    "_geoip.mmdb",
    "insights-activity-logs",
];

/// Makes `root` ready: refuses (or, with `overwrite`, removes) a previous
/// simulation's output; other files (a README) are left alone.
pub(crate) fn prepare(root: &Path, overwrite: bool) -> Result<(), SimulateError> {
    if root.exists() {
        let previous: Vec<PathBuf> = OUTPUTS
            .iter()
            .map(|n| root.join(n))
            .filter(|p| p.exists())
            .collect();
        if !previous.is_empty() && !overwrite {
            return Err(SimulateError::NotEmpty {
                path: root.to_owned(),
            });
        }
        for p in previous {
            let removed = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            removed.map_err(io(&p))?;
        }
    }
    fs::create_dir_all(root).map_err(io(root))
}

/// Writes a small file whole.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SimulateError> {
    fs::write(path, bytes).map_err(io(path))
}
