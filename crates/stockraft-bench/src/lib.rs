//! # stockraft-bench: what a flash sale costs end to end
//!
//! `stockbench` drives a cluster through the client crate, as an order platform would: each
//! buyer is a task with its own buyer id and one call outstanding at a time. Every workload
//! checks its own result against linearizable reads, so a fast run that oversold is reported
//! as OVERSOLD, never as a figure.
//!
//! - [`sale`]: `hot` (one SKU), `spread` (uniform over many SKUs), `zipf` (popularity-skewed),
//!   `batch` (the hot sale through ReserveBatch), one unit per reserve;
//! - [`lifecycle`]: reserve then confirm, release or let expire, under per-buyer caps;
//! - [`holds`]: memory per open hold on the leader, and restart time with a million open;
//! - [`peers`]: the hot sale against etcd and Redis (`make bench-peers`);
//! - [`recorder`]: latencies and the time series behind `--plot` ([`plot`]) and the stall a
//!   `--kill-leader-at` fault causes;
//! - [`catalog`]: the SKUs and stock a run sells, named by run so runs can share a cluster.

pub mod catalog;
pub mod holds;
pub mod latency;
pub mod lifecycle;
pub mod peers;
pub mod plot;
pub mod recorder;
pub mod sale;
