//! Activity over time in bounded memory: counts per time bucket, with the bucket
//! width growing with the period.
//!
//! The report cannot know the period before it has read the logs, and a year of
//! hourly buckets per principal would not fit a tenant with many principals. So all
//! series share one [`Grid`]: it starts with one-hour buckets at the first event and
//! doubles the width whenever the period would need more than [`MAX_BUCKETS`] of
//! them. Each [`Series`] stores only the buckets that saw activity and re-buckets
//! itself lazily, the next time it is touched or read, so a width change costs
//! nothing for quiet principals.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::{OperationClass, Outcome};

/// The most buckets a chart ever has.
pub const MAX_BUCKETS: i64 = 96;

/// Counts in one time bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// Requests per operation class, in [`OperationClass::ALL`] order.
    pub by_class: [u32; 8],
    /// Authentication failures and authorisation denials.
    pub denied: u32,
    /// Other failures (not found, throttled, other errors).
    pub failed: u32,
}

impl Bucket {
    /// All requests in the bucket.
    pub fn total(&self) -> u32 {
        self.by_class.iter().sum()
    }

    fn add(&mut self, class: OperationClass, outcome: Outcome) {
        self.by_class[class.index()] = self.by_class[class.index()].saturating_add(1);
        if outcome.is_denial() {
            self.denied = self.denied.saturating_add(1);
        } else if !matches!(outcome, Outcome::Ok | Outcome::Challenge) {
            self.failed = self.failed.saturating_add(1);
        }
    }

    fn merge(&mut self, other: &Bucket) {
        for (a, b) in self.by_class.iter_mut().zip(other.by_class) {
            *a = a.saturating_add(b);
        }
        self.denied = self.denied.saturating_add(other.denied);
        self.failed = self.failed.saturating_add(other.failed);
    }
}

/// The time grid every series of a report shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    origin: i64,
    width: i64,
}

impl Grid {
    /// A grid whose first bucket starts at the hour of `first`.
    pub fn starting_at(first: DateTime<Utc>) -> Grid {
        let t = first.timestamp();
        Grid {
            origin: t - t.rem_euclid(3600),
            width: 3600,
        }
    }

    /// The bucket of `t`, widening the grid when `t` lies past its last bucket.
    /// Times before the origin (late events) fall in the first bucket.
    pub fn place(&mut self, t: DateTime<Utc>) -> u32 {
        let offset = (t.timestamp() - self.origin).max(0);
        while offset / self.width >= MAX_BUCKETS {
            self.width *= 2;
        }
        (offset / self.width) as u32
    }

    /// The start of the first bucket.
    pub fn origin(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.origin, 0).unwrap_or_default()
    }

    /// The bucket width in seconds.
    pub fn width(&self) -> i64 {
        self.width
    }

    /// The number of buckets needed to reach `last`.
    pub fn buckets_to(&self, last: DateTime<Utc>) -> usize {
        ((last.timestamp() - self.origin).max(0) / self.width + 1) as usize
    }
}

/// One principal's or vault's activity: the non-empty buckets, sorted by index.
#[derive(Debug, Clone, Default)]
pub struct Series {
    width: i64,
    cells: Vec<(u32, Bucket)>,
}

impl Series {
    /// Counts one request at bucket `index` of `grid`.
    pub fn add(&mut self, grid: &Grid, index: u32, class: OperationClass, outcome: Outcome) {
        self.rescale(grid.width);
        match self.cells.last_mut() {
            Some((last, bucket)) if *last == index => bucket.add(class, outcome),
            Some((last, _)) if *last > index => {
                let at = self.cells.partition_point(|(i, _)| *i < index);
                match self.cells.get_mut(at) {
                    Some((i, bucket)) if *i == index => bucket.add(class, outcome),
                    _ => {
                        let mut bucket = Bucket::default();
                        bucket.add(class, outcome);
                        self.cells.insert(at, (index, bucket));
                    }
                }
            }
            _ => {
                let mut bucket = Bucket::default();
                bucket.add(class, outcome);
                self.cells.push((index, bucket));
            }
        }
    }

    /// Merges cells into the grid's (wider) buckets.
    fn rescale(&mut self, width: i64) {
        if self.width == width {
            return;
        }
        if self.width == 0 || self.cells.is_empty() {
            self.width = width;
            return;
        }
        let factor = (width / self.width).max(1) as u32;
        let mut merged: Vec<(u32, Bucket)> = Vec::with_capacity(self.cells.len());
        for (index, bucket) in self.cells.drain(..) {
            let index = index / factor;
            match merged.last_mut() {
                Some((last, b)) if *last == index => b.merge(&bucket),
                _ => merged.push((index, bucket)),
            }
        }
        self.cells = merged;
        self.width = width;
    }

    /// The dense buckets from the grid's origin, `len` of them.
    pub fn dense(&mut self, grid: &Grid, len: usize) -> Vec<Bucket> {
        self.rescale(grid.width);
        let mut out = vec![Bucket::default(); len];
        for (index, bucket) in &self.cells {
            if let Some(slot) = out.get_mut(*index as usize) {
                slot.merge(bucket);
            } else if let Some(slot) = out.last_mut() {
                slot.merge(bucket);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn the_grid_widens_and_series_follow() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut grid = Grid::starting_at(t0);
        let mut s = Series::default();
        for h in 0..(4 * MAX_BUCKETS) {
            let t = t0 + Duration::hours(h);
            let i = grid.place(t);
            s.add(&grid, i, OperationClass::ReadValue, Outcome::Ok);
        }
        assert_eq!(grid.width(), 4 * 3600);
        let len = grid.buckets_to(t0 + Duration::hours(4 * MAX_BUCKETS - 1));
        assert!(len as i64 <= MAX_BUCKETS + 1);
        let dense = s.dense(&grid, len);
        let total: u32 = dense.iter().map(Bucket::total).sum();
        assert_eq!(total as i64, 4 * MAX_BUCKETS);
    }

    #[test]
    fn out_of_order_events_land_in_their_bucket() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut grid = Grid::starting_at(t0);
        let mut s = Series::default();
        for h in [5, 1, 3, 1] {
            let i = grid.place(t0 + Duration::hours(h));
            s.add(&grid, i, OperationClass::Enumerate, Outcome::DeniedRbac);
        }
        let dense = s.dense(&grid, 6);
        assert_eq!(
            dense.iter().map(|b| b.denied).collect::<Vec<_>>(),
            vec![0, 2, 0, 1, 0, 1]
        );
    }
}
