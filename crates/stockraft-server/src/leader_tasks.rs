//! Background work: the leader's `Expire` timer, the health status, the metrics sampler, and
//! the demo catalog.

use crate::demo;
use crate::limits::{DEMO_RETRY_PAUSE, DISK_SAMPLE_INTERVAL, LEADERSHIP_RECHECK_INTERVAL, METRICS_SAMPLE_INTERVAL};
use crate::node::Node;
use crate::proposer::{self, Alone};
use crate::telemetry::prometheus;
use openraft::async_runtime::WatchReceiver;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use stockraft_core::Applied;
use stockraft_proto::v1::catalog_server::CatalogServer;
use stockraft_proto::v1::cluster_server::ClusterServer;
use stockraft_proto::v1::inventory_server::InventoryServer;
use tonic_health::server::HealthReporter;

use crate::service::{catalog::CatalogService, cluster::ClusterService, inventory::InventoryService};

/// Holds expire only through replicated `Expire` commands, so every replica expires the same
/// holds at the same log position. Every `interval` the leader asks its ledger when the next
/// expiry, pruning or forgetting is due and proposes an `Expire` only once that time has come
/// (so an idle cluster appends nothing), then at once again while the ledger reports more work
/// due than one command may do.
pub async fn expire_timer(node: Arc<Node>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !node.is_leader() || !expire_due(&node) {
            continue;
        }
        while node.is_leader() {
            match node.propose_alone(Alone::Expire).await {
                Ok((log_index, Ok(Applied::Expired(report)))) => {
                    if report.holds_expired > 0 {
                        metrics::counter!(prometheus::HOLDS_EXPIRED).increment(report.holds_expired as u64);
                        tracing::info!(holds = report.holds_expired, log_index, "holds expired");
                    }
                    if !report.more_due {
                        break;
                    }
                }
                Ok((_, other)) => {
                    tracing::error!(?other, "unexpected answer to Expire");
                    break;
                }
                Err(status) => {
                    tracing::debug!(%status, "expire not proposed");
                    break;
                }
            }
        }
    }
}

/// Whether an `Expire` stamped now would find work: the time it would be applied at (the
/// leader's clock, which the ledger never lets go back) has reached the ledger's next due time.
/// A new leader's applied state may trail the log by the entries still being applied; what
/// they schedule is seen at the next tick.
fn expire_due(node: &Node) -> bool {
    let (clock, due) = node.read(|state| (state.clock_ms(), state.next_expire_due_ms()));
    due.is_some_and(|due| due <= proposer::now_ms().max(clock))
}

/// gRPC health: SERVING while this node knows a leader that holds its quorum (itself or the one
/// it follows: it can serve or forward every call); NOT_SERVING during elections and while cut
/// off from the cluster, including as a leader whose quorum lease lapsed (see
/// [`crate::leadership`]). Re-read on every change of Raft's view and every
/// [`LEADERSHIP_RECHECK_INTERVAL`], since a lapsing lease changes nothing in Raft's view.
pub async fn health(node: Arc<Node>, reporter: HealthReporter) {
    let mut metrics = node.watch_metrics();
    let mut recheck = tokio::time::interval(LEADERSHIP_RECHECK_INTERVAL);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut serving = None;
    loop {
        let leadership = node.leadership();
        let now = leadership.leader.is_some();
        if serving != Some(now) {
            if serving.is_some() {
                tracing::info!(serving = now, role = ?leadership.role, leader = leadership.leader, "health changed");
            }
            serving = Some(now);
            if now {
                reporter.set_serving::<InventoryServer<InventoryService>>().await;
                reporter.set_serving::<CatalogServer<CatalogService>>().await;
                reporter.set_serving::<ClusterServer<ClusterService>>().await;
                reporter.set_service_status("", tonic_health::ServingStatus::Serving).await;
            } else {
                reporter.set_not_serving::<InventoryServer<InventoryService>>().await;
                reporter.set_not_serving::<CatalogServer<CatalogService>>().await;
                // The Cluster service answers status even without a leader.
                reporter.set_service_status("", tonic_health::ServingStatus::NotServing).await;
            }
        }
        tokio::select! {
            changed = metrics.changed() => if changed.is_err() { return },
            _ = recheck.tick() => {}
        }
    }
}

/// Samples Raft's view, the ledger's open holds and the process into gauges, forever; the data
/// dir every [`DISK_SAMPLE_INTERVAL`].
pub async fn sample_metrics(node: Arc<Node>, data_dir: PathBuf) {
    let mut tick = tokio::time::interval(METRICS_SAMPLE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut disk_sampled: Option<std::time::Instant> = None;
    loop {
        tick.tick().await;
        prometheus::record_raft(&node.metrics(), &node.leadership(), node.id());
        prometheus::record_open_holds(node.read(|state| state.open_hold_count()));
        prometheus::record_process();
        if disk_sampled.is_none_or(|at| at.elapsed() >= DISK_SAMPLE_INTERVAL) {
            disk_sampled = Some(std::time::Instant::now());
            let dir = data_dir.clone();
            // A directory walk and a statvfs: file system calls, off the runtime's threads.
            let _ = tokio::task::spawn_blocking(move || prometheus::record_disk(&dir)).await;
        }
    }
}

/// Loads the demo catalog once this node leads and the ledger has no warehouses. The requests
/// carry fixed ids, so a second node or a restart cannot load it twice.
pub async fn demo_catalog(node: Arc<Node>) {
    let mut metrics = node.watch_metrics();
    loop {
        if node.is_leader() {
            if node.read(|state| !state.warehouses().is_empty()) {
                return;
            }
            match node.propose(demo::requests()).await {
                Ok((index, outcomes)) => {
                    let refused = outcomes.iter().filter(|o| o.is_err()).count();
                    tracing::info!(log_index = index, requests = outcomes.len(), refused, "demo catalog loaded");
                    return;
                }
                Err(status) => {
                    // Right after an election openraft may report leadership before it accepts
                    // writes, and metrics change many times a millisecond then: pause between
                    // attempts instead of spinning through them.
                    tracing::warn!(%status, "demo catalog not loaded yet");
                    tokio::time::sleep(DEMO_RETRY_PAUSE).await;
                }
            }
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
