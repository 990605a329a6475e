//! The `/metrics` endpoint (Prometheus text format, served by `metrics-exporter-prometheus` on
//! the `metrics_listen` address) and the gauges sampled from Raft and the ledger.
//!
//! Every metric stockd exports is named here, with its unit in the name as Prometheus
//! expects. Counters and histograms are recorded where the event happens (the RPC layer, the
//! proposer, the expire timer, storage); gauges are sampled by `leader_tasks::sample_metrics` every
//! [`crate::limits::METRICS_SAMPLE_INTERVAL`].

use crate::leadership::{Leadership, Role};
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};
use std::net::SocketAddr;
use std::path::Path;
use stockraft_storage::TypeConfig;

// gRPC server metrics under go-grpc-prometheus's names and labels (see telemetry/rpc.rs).
pub const GRPC_STARTED: &str = "grpc_server_started_total";
pub const GRPC_HANDLED: &str = "grpc_server_handled_total";
pub const GRPC_SECONDS: &str = "grpc_server_handling_seconds";
pub const REJECTIONS: &str = stockraft_api::REJECTIONS_METRIC;
pub const BATCH_REQUESTS: &str = "stockraft_batch_requests";
pub const HOLDS_EXPIRED: &str = "stockraft_holds_expired_total";
pub const HOLDS_OPEN: &str = "stockraft_holds_open";
pub const RAFT_TERM: &str = "stockraft_raft_term";
pub const RAFT_LEADER: &str = "stockraft_raft_leader_id";
pub const RAFT_IS_LEADER: &str = "stockraft_raft_is_leader";
pub const RAFT_HAS_LEADER: &str = "stockraft_raft_has_leader";
pub const RAFT_NO_QUORUM: &str = "stockraft_raft_leader_without_quorum";
pub const RAFT_QUORUM_ACK_AGE: &str = "stockraft_raft_quorum_ack_age_seconds";
pub const RAFT_LAST_LOG: &str = "stockraft_raft_last_log_index";
pub const RAFT_COMMITTED: &str = "stockraft_raft_committed_index";
pub const RAFT_APPLIED: &str = "stockraft_raft_applied_index";
pub const RAFT_SNAPSHOT: &str = "stockraft_raft_snapshot_index";
pub const REPLICATION_LAG: &str = "stockraft_raft_replication_lag_entries";
// Recorded by stockraft-storage (it names them itself; listed here so that one file has them all).
pub const SNAPSHOT_BYTES: &str = "stockraft_snapshot_bytes";
pub const SNAPSHOT_SECONDS: &str = "stockraft_snapshot_build_seconds";
pub const SNAPSHOTS: &str = "stockraft_snapshots_total";
pub const SNAPSHOT_FAILURES: &str = "stockraft_snapshot_failures_total";
pub const LOG_FSYNC_SECONDS: &str = "stockraft_log_fsync_seconds";
pub const BUILD_INFO: &str = "stockraft_build_info";
pub const DATA_DIR_BYTES: &str = "stockraft_data_dir_bytes";
pub const DISK_FREE_BYTES: &str = "stockraft_data_dir_free_bytes";
pub const DISK_CAPACITY_BYTES: &str = "stockraft_data_dir_capacity_bytes";

/// Latency buckets in seconds: a reserve takes milliseconds; an election or a slow fsync
/// pushes calls toward a second, and forwarded calls may wait a few.
const LATENCY_BUCKETS: [f64; 14] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0];
/// Requests per Raft entry: 1 with a lone caller, up to `batch_max` (1,024) under a sale.
const BATCH_BUCKETS: [f64; 11] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];
/// WAL fsyncs (one per group commit): tens of microseconds on NVMe, milliseconds on network or
/// spinning disks; past 100 ms writes stall and elections loom.
const FSYNC_BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];
/// Snapshot builds: milliseconds for a small catalog, seconds at a million holds.
const SNAPSHOT_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Starts serving `/metrics` on `listen` and installs the process-wide recorder. Must run inside
/// the tokio runtime; once per process.
pub fn install(listen: SocketAddr) -> Result<(), BuildError> {
    PrometheusBuilder::new()
        .with_http_listener(listen)
        .set_buckets_for_metric(Matcher::Full(GRPC_SECONDS.into()), &LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(BATCH_REQUESTS.into()), &BATCH_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(SNAPSHOT_SECONDS.into()), &SNAPSHOT_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(LOG_FSYNC_SECONDS.into()), &FSYNC_BUCKETS)?
        .install()?;
    describe();
    Ok(())
}

/// The `# HELP` line of every metric.
fn describe() {
    describe_counter!(GRPC_STARTED, "gRPC calls started on the server");
    describe_counter!(GRPC_HANDLED, "gRPC calls completed on the server, by status code name");
    describe_histogram!(
        GRPC_SECONDS,
        Unit::Seconds,
        "gRPC call duration on the server, arrival to final status (streams: their whole life)"
    );
    describe_counter!(REJECTIONS, "Calls the ledger refused, by reason (OUT_OF_STOCK, LIMIT_EXCEEDED, ...)");
    describe_histogram!(BATCH_REQUESTS, "Client requests packed into one Raft entry (leader only)");
    describe_counter!(HOLDS_EXPIRED, "Holds expired by the leader's Expire commands");
    describe_gauge!(HOLDS_OPEN, "Holds currently HELD in this node's applied ledger");
    describe_gauge!(RAFT_TERM, "This node's current Raft term");
    describe_gauge!(RAFT_LEADER, "The leader this node knows (0: none)");
    describe_gauge!(
        RAFT_IS_LEADER,
        "1 on a leader a quorum acknowledged within the lease (election_timeout_max), 0 elsewhere"
    );
    describe_gauge!(
        RAFT_HAS_LEADER,
        "1 while this node knows a leader holding its quorum (itself or the one it follows), 0 otherwise"
    );
    describe_gauge!(RAFT_NO_QUORUM, "1 on a node that leads by term but no quorum acknowledged within the lease");
    describe_gauge!(
        RAFT_QUORUM_ACK_AGE,
        Unit::Seconds,
        "On the leader: age of the newest heartbeat or append a quorum acknowledged (0 elsewhere)"
    );
    describe_gauge!(RAFT_LAST_LOG, "Index of the last log entry on this node");
    describe_gauge!(RAFT_COMMITTED, "Highest log index this node knows to be committed");
    describe_gauge!(RAFT_APPLIED, "Highest log index applied to this node's ledger");
    describe_gauge!(RAFT_SNAPSHOT, "Log index of this node's last snapshot");
    describe_gauge!(REPLICATION_LAG, "Entries a follower is behind the leader's log (leader only)");
    describe_gauge!(SNAPSHOT_BYTES, Unit::Bytes, "Size of the last snapshot built or installed");
    describe_histogram!(SNAPSHOT_SECONDS, Unit::Seconds, "Time to build and save a snapshot");
    describe_counter!(SNAPSHOTS, "Snapshots built here or installed from the leader");
    describe_counter!(SNAPSHOT_FAILURES, "Snapshots that could not be built and saved, or installed (by how)");
    describe_histogram!(LOG_FSYNC_SECONDS, Unit::Seconds, "Raft log WAL fsyncs (one per group commit of appends)");
    describe_gauge!(BUILD_INFO, "Always 1; the labels say which stockd build runs");
    describe_gauge!(DATA_DIR_BYTES, Unit::Bytes, "Bytes in this node's data dir (log, state, snapshots)");
    describe_gauge!(DISK_FREE_BYTES, Unit::Bytes, "Bytes free to unprivileged users on the data dir's file system");
    describe_gauge!(DISK_CAPACITY_BYTES, Unit::Bytes, "Size of the data dir's file system");
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "profile" => PROFILE).set(1.0);
    process().describe();
}

/// The build profile, for `stockraft_build_info`.
const PROFILE: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

/// The process metrics collector (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_open_fds`, ...: the names every Prometheus client library exports).
fn process() -> &'static metrics_process::Collector {
    static COLLECTOR: std::sync::OnceLock<metrics_process::Collector> = std::sync::OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// Samples the process metrics.
pub fn record_process() {
    process().collect();
}

/// Samples the data dir's size and its file system's free space (for the disk-filling alert).
pub fn record_disk(data_dir: &Path) {
    gauge!(DATA_DIR_BYTES).set(dir_bytes(data_dir) as f64);
    match rustix::fs::statvfs(data_dir) {
        Ok(fs) => {
            gauge!(DISK_FREE_BYTES).set((fs.f_bavail * fs.f_frsize) as f64);
            gauge!(DISK_CAPACITY_BYTES).set((fs.f_blocks * fs.f_frsize) as f64);
        }
        Err(e) => tracing::warn!(error = %e, dir = %data_dir.display(), "cannot read the data dir's file system"),
    }
}

/// The bytes of the regular files under `dir` (unreadable entries count as nothing).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_bytes(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Sets the Raft gauges from one sample of this node's (`id`) Raft view and the leadership
/// read from it: a leader without its quorum counts as none.
pub fn record_raft(metrics: &openraft::RaftMetrics<TypeConfig>, leadership: &Leadership, id: u64) {
    let last_log = metrics.last_log_index.unwrap_or_default();
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    gauge!(RAFT_TERM).set(metrics.current_term as f64);
    gauge!(RAFT_LEADER).set(leadership.leader.unwrap_or_default() as f64);
    gauge!(RAFT_IS_LEADER).set(flag(leadership.leader == Some(id)));
    gauge!(RAFT_HAS_LEADER).set(flag(leadership.leader.is_some()));
    gauge!(RAFT_NO_QUORUM).set(flag(leadership.role == Role::LeaderWithoutQuorum));
    gauge!(RAFT_QUORUM_ACK_AGE).set(leadership.quorum_ack_age.map_or(0.0, |age| age.as_secs_f64()));
    gauge!(RAFT_LAST_LOG).set(last_log as f64);
    gauge!(RAFT_COMMITTED).set(metrics.local_committed.as_ref().map_or(0, |l| l.index) as f64);
    gauge!(RAFT_APPLIED).set(metrics.last_applied.as_ref().map_or(0, |l| l.index) as f64);
    gauge!(RAFT_SNAPSHOT).set(metrics.snapshot.as_ref().map_or(0, |l| l.index) as f64);
    // Only the leader tracks its followers; elsewhere the series keep their last value, and
    // RAFT_IS_LEADER says which node's figures are current.
    for (follower, matched) in metrics.replication.iter().flatten() {
        if *follower != id {
            let lag = last_log.saturating_sub(matched.as_ref().map_or(0, |l| l.index));
            gauge!(REPLICATION_LAG, "follower" => follower.to_string()).set(lag as f64);
        }
    }
}

/// Sets the open-holds gauge.
pub fn record_open_holds(holds: usize) {
    gauge!(HOLDS_OPEN).set(holds as f64);
}

/// Records how many client requests one Raft entry carried.
pub fn batch(requests: usize) {
    histogram!(BATCH_REQUESTS).record(requests as f64);
}
