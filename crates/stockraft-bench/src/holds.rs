//! `holds` (needs `--spawn-cluster`): what open holds cost. Sells `count` one-unit holds through
//! ReserveBatch (the default 20-minute TTL, so none expires during the run), then reports:
//! - the leader's resident memory growth per open hold (VmRSS from /proc before and after; it
//!   includes everything the node keeps for them: ledger tables, request-id table, Raft log
//!   cache, RocksDB memtables);
//! - how long the node that led, restarted from its data dir with all of them open, takes to
//!   serve again: from starting the process to answering a local read that shows the SKU sold
//!   out, at or past the log index it had applied before the restart.

use crate::sale::{self, Calls, Picker, Spec};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stockraft_client::{Client, Options, call, v1};
use stockraft_testkit::Cluster;
use tokio::sync::Mutex;

/// How long a restarted node may take before the run gives up on it.
const RESTART_WAIT: Duration = Duration::from_secs(120);

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub workload: &'static str,
    pub holds: u64,
    pub reserve_seconds: f64,
    pub leader: u64,
    pub leader_rss_before_mb: f64,
    pub leader_rss_after_mb: f64,
    pub bytes_per_hold: f64,
    /// From starting the process to serving the sold-out figure locally.
    pub restart_serving_seconds: f64,
    pub verdict: String,
}

fn rss_bytes(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("reading /proc/{pid}: {e}"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or("no VmRSS in /proc status")?;
    Ok(kb * 1024)
}

pub async fn run(
    client: Arc<Client>,
    cluster: Arc<Mutex<Cluster>>,
    count: u32,
    run_id: &str,
) -> Result<Report, String> {
    let (leader, pid) = {
        let cluster = cluster.lock().await;
        let leader = cluster.leader().await.ok_or("no leader")?;
        (leader, cluster.pid(leader).ok_or("the leader has no process")?)
    };
    let before = rss_bytes(pid)?;
    let spec = Spec {
        workload: "holds",
        skus: 1,
        units: count,
        buyers: 16,
        picker: Picker::Uniform,
        batch: 1_000,
        calls: Calls::Unary,
        seconds: None,
    };
    let sold = sale::run(client.clone(), &spec, run_id, None).await.map_err(|e| e.to_string())?;
    if sold.verdict != "EXACT" {
        return Err(format!("the sale of {count} holds was {}", sold.verdict));
    }
    let after = rss_bytes(pid)?;
    let sku = format!("bench-{run_id}-0");

    // Restart the node that led, with every hold open.
    let mut cluster = cluster.lock().await;
    let address = cluster.address(leader);
    let applied = cluster.status(leader).await.map_or(0, |s| s.applied_log_index);
    cluster.stop(leader);
    let started = Instant::now();
    cluster.spawn(leader);
    let mut options = Options::new([address.clone()]);
    options.deadline = Duration::from_millis(500);
    options.attempt_timeout = Duration::from_millis(500);
    let local = Client::new(options).map_err(|e| e.to_string())?;
    let serving = loop {
        if started.elapsed() > RESTART_WAIT {
            return Err(format!("node {leader} did not serve again within {RESTART_WAIT:?}"));
        }
        let caught_up = local.node_status(&address).await.is_ok_and(|s| s.applied_log_index >= applied);
        if caught_up {
            let request = v1::GetAvailabilityRequest { sku_id: sku.clone(), allow_stale: true };
            if call!(local, inventory, get_availability, request).is_ok_and(|a| a.sellable_units == 0) {
                break started.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    Ok(Report {
        workload: "holds",
        holds: u64::from(count),
        reserve_seconds: sold.seconds,
        leader,
        leader_rss_before_mb: mb(before),
        leader_rss_after_mb: mb(after),
        bytes_per_hold: after.saturating_sub(before) as f64 / f64::from(count),
        restart_serving_seconds: serving.as_secs_f64(),
        verdict: sold.verdict,
    })
}
