//! What one buyer saw: for every acknowledged operation, when it completed (since the sale
//! began) and how long it took. Merged across buyers, it gives the latency percentiles, the
//! throughput and p99 over time (the plot), and how long writes stalled around a fault.
//!
//! A sold-out answer is an answer too: its latency counts in the percentiles (a buyer waited
//! for it just the same), but not in the throughput, which counts what was sold.

use crate::latency::Latencies;
use serde::Serialize;
use std::time::Duration;

/// Width of one point of the time series.
pub const BUCKET: Duration = Duration::from_millis(250);

#[derive(Clone, Debug, Default)]
pub struct Recorder {
    latencies: Latencies,
    /// Completion times in microseconds since the sale began, in the order recorded.
    completed_us: Vec<u64>,
    /// Latency of each completion, same order as `completed_us`.
    latency_us: Vec<u32>,
    /// Sold-out answers: in `latencies`, not in the completions.
    refused: usize,
}

/// One point of the time series: the acknowledged operations per second and their p99 during
/// the bucket that starts at `t_seconds`.
#[derive(Clone, Debug, Serialize)]
pub struct Point {
    pub t_seconds: f64,
    pub per_second: f64,
    pub p99_ms: f64,
}

impl Recorder {
    pub fn record(&mut self, completed: Duration, latency: Duration) {
        self.latencies.record(latency);
        self.completed_us.push(completed.as_micros() as u64);
        self.latency_us.push(latency.as_micros().min(u128::from(u32::MAX)) as u32);
    }

    /// A sold-out answer: its latency counts in the percentiles, not in the throughput.
    pub fn record_refused(&mut self, latency: Duration) {
        self.latencies.record(latency);
        self.refused += 1;
    }

    /// Sold-out answers recorded.
    pub fn refused(&self) -> usize {
        self.refused
    }

    /// Records `count` operations answered by one call (a batch).
    pub fn record_many(&mut self, count: usize, completed: Duration, latency: Duration) {
        for _ in 0..count {
            self.record(completed, latency);
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.latencies.merge(other.latencies);
        self.completed_us.extend(other.completed_us);
        self.latency_us.extend(other.latency_us);
        self.refused += other.refused;
    }

    pub fn len(&self) -> usize {
        self.completed_us.len()
    }

    pub fn is_empty(&self) -> bool {
        self.completed_us.is_empty()
    }

    pub fn quantile(&mut self, q: f64) -> Duration {
        self.latencies.quantile(q)
    }

    /// Throughput and p99 per [`BUCKET`], from the sale's start to its last completion.
    pub fn series(&self) -> Vec<Point> {
        let bucket_us = BUCKET.as_micros() as u64;
        let Some(&last) = self.completed_us.iter().max() else { return Vec::new() };
        let mut buckets = vec![Latencies::default(); (last / bucket_us + 1) as usize];
        for (&at, &latency) in self.completed_us.iter().zip(&self.latency_us) {
            buckets[(at / bucket_us) as usize].record(Duration::from_micros(u64::from(latency)));
        }
        buckets
            .into_iter()
            .enumerate()
            .map(|(i, mut b)| Point {
                t_seconds: (i as u64 * bucket_us) as f64 / 1e6,
                per_second: b.len() as f64 / BUCKET.as_secs_f64(),
                p99_ms: b.quantile(0.99).as_secs_f64() * 1e3,
            })
            .collect()
    }

    /// How long writes stalled after a fault at `at`: the longest time, from `at` on, without an
    /// acknowledgement (answers in flight when the leader died can still arrive just after the
    /// fault, so the first acknowledgement after it says little). `None` if none came after.
    pub fn stall_after(&self, at: Duration) -> Option<Duration> {
        let at = at.as_micros() as u64;
        let mut after: Vec<u64> = self.completed_us.iter().copied().filter(|&t| t > at).collect();
        if after.is_empty() {
            return None;
        }
        after.sort_unstable();
        let first = after[0] - at;
        let gap = after.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        Some(Duration::from_micros(first.max(gap)))
    }

    /// The longest time between two consecutive acknowledgements.
    pub fn longest_gap(&self) -> Duration {
        let mut times = self.completed_us.clone();
        times.sort_unstable();
        let gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        Duration::from_micros(gap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn a_sold_out_answer_counts_in_the_latency_not_in_the_throughput() {
        let mut buyer = Recorder::default();
        buyer.record(ms(10), ms(2));
        buyer.record(ms(20), ms(2));
        buyer.record_refused(ms(40));
        let mut all = Recorder::default();
        all.merge(buyer);
        assert_eq!((all.len(), all.refused()), (2, 1));
        assert_eq!(all.quantile(1.0), ms(40), "the slowest answer was the sold-out one");
        assert_eq!(all.series()[0].per_second, 8.0, "two sold in the first 250 ms");
    }

    #[test]
    fn a_stall_shows_as_the_gap_after_the_fault() {
        let mut r = Recorder::default();
        for t in [10, 20, 30, 1_230, 1_240] {
            r.record(ms(t), ms(2));
        }
        assert_eq!(r.stall_after(ms(35)), Some(ms(1_195)));
        assert_eq!(r.stall_after(ms(5)), Some(ms(1_200)), "answers in flight at the fault do not end the stall");
        assert_eq!(r.longest_gap(), ms(1_200));
        assert_eq!(r.stall_after(ms(2_000)), None);
    }

    #[test]
    fn the_series_counts_each_bucket_per_second() {
        let mut r = Recorder::default();
        for t in 0..100 {
            r.record(ms(t), ms(1 + t % 10));
        }
        r.record(ms(600), ms(50));
        let series = r.series();
        assert_eq!(series.len(), 3);
        assert_eq!(series[0].per_second, 400.0);
        assert_eq!(series[0].p99_ms, 10.0);
        assert_eq!(series[1].per_second, 0.0);
        assert_eq!(series[2].p99_ms, 50.0);
    }
}
