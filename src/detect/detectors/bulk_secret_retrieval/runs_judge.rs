//! Whether a window above a workload's largest is its usual runs back to back: the
//! pipeline that ran two or three release definitions one after the other reads
//! more than its previous maximum, but every object it reads is one its earlier
//! runs read, and each kind of run is about its usual size. A window made of many
//! objects no run ever read, or larger than the runs it holds allow, is not
//! explained and is judged as before; its evidence says what the runs were.

use serde_json::{json, Value};

use super::runs::{RunSettings, Runs, MAX_KINDS};
use crate::detect::windows::DistinctWindow;

/// What the principal's earlier runs say about one window.
#[derive(Debug, Clone, PartialEq)]
pub struct RunsView {
    /// Runs learned.
    pub runs: u32,
    /// Distinct objects in the window.
    pub n: u32,
    /// Of them, objects some earlier run read.
    pub known: u32,
    /// Per kind with enough runs: (runs, mean size, spread, usual upper size,
    /// window objects its runs read).
    pub kinds: [(u32, f64, f64, f64, u32); MAX_KINDS],
    /// How many of `kinds` are filled.
    pub len: usize,
    /// Kinds present in the window (their share of their usual size was read).
    pub present: u32,
    /// The largest window the kinds allow back to back: the usual size of each kind
    /// present, and what the others (a run under way) read of their sets.
    pub allowed: f64,
}

/// The view of a window through the principal's runs, when `[runs]` is set and the
/// principal has learned a run (service principals and managed identities only).
pub fn view(
    rs: Option<&RunSettings>,
    runs: Option<&Runs>,
    objects: &DistinctWindow,
    since: u32,
    n: u32,
) -> Option<RunsView> {
    let (rs, runs) = (rs?, runs?);
    (runs.learned > 0).then(|| RunsView::of(rs, runs, objects, since, n))
}

impl RunsView {
    /// Looks at the window's objects (seen at or after `since`) through the kinds of
    /// run that have at least `min_runs_per_kind` runs. No allocation.
    pub fn of(
        rs: &RunSettings,
        runs: &Runs,
        objects: &DistinctWindow,
        since: u32,
        n: u32,
    ) -> RunsView {
        let mut v = RunsView {
            runs: runs.learned,
            n,
            known: 0,
            kinds: [(0, 0.0, 0.0, 0.0, 0); MAX_KINDS],
            len: 0,
            present: 0,
            allowed: 0.0,
        };
        let mut index = [0usize; MAX_KINDS];
        for (i, k) in runs.kinds.iter().enumerate().take(MAX_KINDS) {
            if k.runs >= rs.min_runs_per_kind {
                index[v.len] = i;
                v.kinds[v.len] = (k.runs, k.mean(), k.spread(), k.upper(rs.size_quantile), 0);
                v.len += 1;
            }
        }
        if v.len == 0 {
            return v;
        }
        for h in objects.items_since(since) {
            let mut read = false;
            for (slot, &i) in index.iter().enumerate().take(v.len) {
                if runs.kinds[i].reads(h) {
                    v.kinds[slot].4 += 1;
                    read = true;
                }
            }
            v.known += u32::from(read);
        }
        for k in &v.kinds[..v.len] {
            if f64::from(k.4) >= rs.presence_share * k.1 {
                v.present += 1;
                v.allowed += k.3;
            } else {
                // A run under way (or sliding out of the window): what it read so far.
                v.allowed += f64::from(k.4);
            }
        }
        v
    }

    /// Whether the window is the principal's usual runs back to back: at most
    /// `max_back_to_back` kinds present, no larger than they allow, nearly every
    /// object read by an earlier run, and fewer unread ones than could alert alone.
    pub fn explains(&self, rs: &RunSettings, min_distinct: u32) -> bool {
        self.present >= 1
            && self.present <= rs.max_back_to_back
            && f64::from(self.n) <= self.allowed * rs.size_slack
            && f64::from(self.known) >= rs.min_known_share * f64::from(self.n)
            && self.n.saturating_sub(self.known) < min_distinct
    }

    /// Whether the window goes beyond its runs: it holds one of them, is larger than
    /// any one allows, and at least `min_unread` of its objects no run read (a
    /// run's set and then other secrets of the vault).
    pub fn beyond(&self, rs: &RunSettings) -> bool {
        let largest = self.kinds[..self.len]
            .iter()
            .map(|k| k.3)
            .fold(0.0, f64::max);
        self.present >= 1
            && f64::from(self.n) > largest * rs.size_slack
            && self.n.saturating_sub(self.known) >= rs.min_unread
    }

    /// The share of the window's objects earlier runs read.
    pub fn known_share(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            f64::from(self.known) / f64::from(self.n)
        }
    }

    /// The reason in words, for a window it does not explain.
    pub fn why(&self) -> String {
        let sizes: Vec<String> = self.kinds[..self.len]
            .iter()
            .map(|k| format!("{:.0} ± {:.0}", k.1, k.2))
            .collect();
        format!(
            "its {} earlier runs (kinds of {} objects) read {} of these {} ({:.0}%)",
            self.runs,
            sizes.join(", "),
            self.known,
            self.n,
            self.known_share() * 100.0
        )
    }

    /// The evidence: runs seen, each kind's usual size and spread, and how much of
    /// this window's read set earlier runs read.
    pub fn evidence(&self, rs: &RunSettings) -> Value {
        let round = |x: f64| (x * 10.0).round() / 10.0;
        let kinds: Vec<Value> = self.kinds[..self.len]
            .iter()
            .map(|k| {
                json!({ "runs": k.0, "usual_size": round(k.1), "spread": round(k.2),
                    "usual_upper": round(k.3), "objects_in_window": k.4 })
            })
            .collect();
        json!({ "runs_seen": self.runs, "kinds": kinds, "kinds_in_window": self.present,
            "back_to_back_allowed": round(self.allowed * rs.size_slack), "previously_read_by_runs": self.known,
            "previously_read_share": (self.known_share() * 1000.0).round() / 1000.0,
            "min_known_share": rs.min_known_share, "max_back_to_back": rs.max_back_to_back })
    }
}

#[cfg(test)]
mod tests {
    use super::super::runs::{RunSettings, Runs};
    use super::*;
    use crate::config::ConfigDuration;

    fn settings() -> RunSettings {
        RunSettings {
            gap: "5m".parse::<ConfigDuration>().unwrap(),
            min_objects: 3,
            similarity: 0.7,
            max_kinds: 4,
            min_runs_per_kind: 2,
            presence_share: 0.5,
            max_back_to_back: 3,
            min_known_share: 0.9,
            min_unread: 5,
            size_quantile: 0.999,
            size_slack: 1.1,
        }
    }

    /// Object hashes spread over all 64 bits, as `hash64` gives.
    fn obj(i: u64) -> u64 {
        i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i << 29)
    }

    /// A pipeline with three release definitions (objects 0-13, 100-111, 200-209,
    /// each sharing 0-2), each run three times, an hour apart.
    fn pipeline(rs: &RunSettings) -> Runs {
        let defs: [Vec<u64>; 3] = [
            (0..14).collect(),
            (0..3).chain(100..109).collect(),
            (0..3).chain(200..207).collect(),
        ];
        let mut r = Runs::default();
        let mut t = 1_000;
        for _ in 0..3 {
            for d in &defs {
                for &o in d {
                    r.read(rs, obj(o), t);
                    t += 2;
                }
                t += 3600;
            }
        }
        r.close_idle(rs, t + 3600);
        r
    }

    fn window(objects: impl Iterator<Item = u64>) -> (DistinctWindow, u32) {
        let mut w = DistinctWindow::default();
        for o in objects {
            w.touch(obj(o), 10, false, 2048);
        }
        let n = w.len() as u32;
        (w, n)
    }

    #[test]
    fn runs_are_sorted_into_kinds_with_their_sizes() {
        let rs = settings();
        let r = pipeline(&rs);
        assert_eq!(r.learned, 9);
        let mut sizes: Vec<(u32, u32)> = r.kinds.iter().map(|k| (k.runs, k.max)).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![(3, 10), (3, 12), (3, 14)]);
        assert!(r.current().is_none());
    }

    #[test]
    fn usual_runs_back_to_back_are_explained_and_a_dump_is_not() {
        let rs = settings();
        let r = pipeline(&rs);
        let cases: [(&str, Vec<u64>, bool); 6] = [
            ("two definitions", (0..14).chain(100..109).collect(), true),
            (
                "three definitions",
                (0..14).chain(100..109).chain(200..207).collect(),
                true,
            ),
            (
                "the usual set and every other secret",
                (0..14)
                    .chain(100..109)
                    .chain(200..207)
                    .chain(500..520)
                    .collect(),
                false,
            ),
            (
                "a run twice the size, never read",
                (600..628).collect(),
                false,
            ),
            (
                "two definitions and the start of the third",
                (0..14).chain(100..109).chain(200..203).collect(),
                true,
            ),
            (
                "two definitions and a few strays",
                (0..14).chain(100..109).chain(700..702).collect(),
                true,
            ),
        ];
        for (name, objects, explained) in cases {
            let (w, n) = window(objects.into_iter());
            let v = RunsView::of(&rs, &r, &w, 0, n);
            assert_eq!(v.explains(&rs, 15), explained, "{name}: {v:?}");
        }
    }

    #[test]
    fn one_run_and_objects_no_run_read_go_beyond_the_runs() {
        let rs = settings();
        let r = pipeline(&rs);
        let cases: [(&str, Vec<u64>, bool); 4] = [
            (
                "one definition and six strays",
                (0..14).chain(700..706).collect(),
                true,
            ),
            (
                "one definition and four strays",
                (0..14).chain(700..704).collect(),
                false,
            ),
            ("two definitions", (0..14).chain(100..109).collect(), false),
            ("strays alone", (700..720).collect(), false),
        ];
        for (name, objects, beyond) in cases {
            let (w, n) = window(objects.into_iter());
            let v = RunsView::of(&rs, &r, &w, 0, n);
            assert_eq!(v.beyond(&rs), beyond, "{name}: {v:?}");
            assert!(!(beyond && v.explains(&rs, 15)), "{name}");
        }
    }

    #[test]
    fn more_kinds_back_to_back_than_allowed_are_not_explained() {
        let mut rs = settings();
        rs.max_back_to_back = 2;
        let r = pipeline(&rs);
        let (w, n) = window((0..14).chain(100..109).chain(200..207));
        let v = RunsView::of(&rs, &r, &w, 0, n);
        assert_eq!(v.present, 3);
        assert!(!v.explains(&rs, 15));
        assert!(v.why().contains("9 earlier runs"), "{}", v.why());
        assert_eq!(v.evidence(&rs)["kinds_in_window"], 3);
    }

    #[test]
    fn runs_back_to_back_are_counted_but_never_a_kind() {
        let rs = settings();
        let mut r = pipeline(&rs);
        let before = r.kinds.clone();
        for (t, o) in (0..14).chain(100..109).enumerate() {
            r.read(&rs, obj(o), 90_000 + t as u32);
        }
        r.close_idle(&rs, 100_000);
        assert_eq!(r.learned, 10);
        assert_eq!(r.kinds, before);
    }

    #[test]
    fn a_principal_without_enough_runs_explains_nothing() {
        let rs = settings();
        let mut r = Runs::default();
        for o in 0..14 {
            r.read(&rs, obj(o), 100 + o as u32);
        }
        r.close_idle(&rs, 10_000);
        let (w, n) = window(0..14);
        assert!(!RunsView::of(&rs, &r, &w, 0, n).explains(&rs, 15));
    }
}
