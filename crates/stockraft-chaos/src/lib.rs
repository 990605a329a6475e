//! # stockraft-chaos: prove no oversell and no lost acknowledgement while leaders die mid-sale
//!
//! A run starts a cluster of real `stockd` processes behind a fault-injecting proxy
//! (`stockraft-testkit`'s [`Cluster`], proxied), sets up a flash sale and lets many buyers loose on it
//! ([`workload`]) while the [`nemesis`] kills, pauses, partitions and restarts nodes. Every call
//! is recorded ([`history`]). When the time is up, every fault is healed, the cluster's final
//! state is read (a linearizable read per SKU, every replica's own state, every hold, the
//! audit ledger), and the [`checkers`] judge the history:
//!
//! - replicas identical: every node at the same log index has the same state digest and
//!   passes its own invariant check;
//! - no oversell: on every node, held + committed + safety stock <= on hand, everywhere;
//! - no lost acknowledgement: every acknowledged hold and confirm is in the final state;
//! - no duplicates: no hold reserved at two log positions, no buyer over a cap;
//! - linearizable: each SKU's history against the sequential [`model`], with
//!   `stockraft-check`'s search;
//! - the fair sale beside it ([`fair`]): a waitlist served in order, a raffle drawn by its
//!   committed seed.
//!
//! `stockchaos` (the binary, `make chaos`) runs long versions; `tests/chaos.rs` a short one.

pub mod checkers;
pub mod fair;
pub mod history;
pub mod model;
pub mod nemesis;
pub mod report;
pub mod workload;

use checkers::{CheckResult, FinalState, SkuVerdict};
use futures_util::StreamExt;
use history::{Call, History, Outcome};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use stockraft_client::{Client, Options, call, v1};
use stockraft_testkit::{Cluster, Settings};
use workload::Sale;

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub nodes: u64,
    /// How long the sale (and the faults) go on.
    pub duration: Duration,
    pub sale: Sale,
    /// Quiet time between faults, for the cluster to recover and the sale to go on.
    pub quiet: Duration,
    pub kinds: Vec<nemesis::Kind>,
    /// Where the cluster's files and the history go (`<out>/n<nodes>/`).
    pub out: PathBuf,
    /// The linearizability search's step budget per SKU.
    pub max_steps: u64,
    /// The sale goes on past `duration` until at least this many faults were injected (so a
    /// slow machine still sees every kind).
    pub min_faults: usize,
}

impl RunConfig {
    pub fn new(nodes: u64, duration: Duration, out: PathBuf) -> RunConfig {
        RunConfig {
            nodes,
            duration,
            sale: Sale::default(),
            quiet: Duration::from_millis(1_500),
            kinds: nemesis::ALL.to_vec(),
            out,
            max_steps: 20_000_000,
            min_faults: nemesis::ALL.len(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct RunReport {
    pub nodes: u64,
    pub seconds: f64,
    pub operations: usize,
    pub by_call: HashMap<&'static str, usize>,
    pub faults: Vec<history::Fault>,
    pub acknowledged: usize,
    pub rejected: usize,
    pub unknown: usize,
    /// The longest time between two acknowledged writes during the sale.
    pub longest_write_gap: Duration,
    pub checks: Vec<CheckResult>,
    pub skus: Vec<SkuVerdict>,
    pub history_file: PathBuf,
    pub log_tails: String,
}

impl RunReport {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }
}

/// How the nodes are tuned for a chaos run (production defaults otherwise): behind the
/// partitioning proxy, and expiring every 250 ms instead of every second, so that expiry races
/// with the faults.
fn node_settings() -> Settings {
    Settings { extra: "expire_interval_ms = 250\n".into(), proxied: true, ..Settings::default() }
}

/// Where a run with `nodes` nodes keeps its files.
pub fn run_dir(out: &std::path::Path, nodes: u64) -> PathBuf {
    out.join(format!("n{nodes}"))
}

/// Runs one chaos run end to end and judges it.
pub async fn run(config: &RunConfig) -> RunReport {
    let dir = run_dir(&config.out, config.nodes);
    let _ = std::fs::remove_dir_all(&dir);
    let mut report = RunReport { nodes: config.nodes, history_file: dir.join("history.json"), ..RunReport::default() };
    let started = Instant::now();
    let mut cluster = match Cluster::start_in(&dir.join("cluster"), config.nodes, &node_settings()) {
        Ok(cluster) => cluster,
        Err(e) => return failed(report, "cluster started", format!("{e}")),
    };
    if cluster.wait_for_leader_within(Duration::from_secs(30)).await.is_none() {
        report.log_tails = cluster.log_tails(30);
        return failed(report, "cluster started", "no leader within 30 s".into());
    }
    let setup = Client::new(Options::new(cluster.endpoints())).expect("endpoints");
    if let Err(e) = workload::set_up_shop(&setup, &config.sale).await {
        report.log_tails = cluster.log_tails(30);
        return failed(report, "shop set up", e.to_string());
    }
    let raffle_closes_at_ms = match fair::set_up(&setup, config.sale.hold_ttl_ms, config.sale.seed).await {
        Ok(closes) => closes,
        Err(e) => {
            report.log_tails = cluster.log_tails(30);
            return failed(report, "fair sale set up", e.to_string());
        }
    };
    // The buyers' client gives up on a call after 4 s: long enough to ride out an election,
    // short enough that partitions and pauses leave calls with unknown outcomes to check.
    let mut options = Options::new(cluster.endpoints());
    options.attempt_timeout = Duration::from_secs(1);
    options.deadline = Duration::from_secs(4);
    let client = Arc::new(Client::new(options).expect("endpoints"));
    let history = History::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for process in 0..config.sale.buyers {
        let (client, history, sale, stop) = (client.clone(), history.clone(), config.sale.clone(), stop.clone());
        workers.push(tokio::spawn(workload::buyer(process, client, history, sale, stop)));
    }
    let (c, h, s, st) = (client.clone(), history.clone(), config.sale.clone(), stop.clone());
    workers.push(tokio::spawn(workload::restocker(config.sale.buyers, c, h, s, st)));
    // The fair sale's processes, numbered after the final reader's.
    let fair_process = config.sale.buyers + 2;
    for n in 0..fair::WAITERS {
        let (c, h, st) = (client.clone(), history.clone(), stop.clone());
        workers.push(tokio::spawn(fair::waiter(fair_process + n, c, h, config.sale.seed, st)));
    }
    let (c, h, st) = (client.clone(), history.clone(), stop.clone());
    workers.push(tokio::spawn(fair::restocker(fair_process + fair::WAITERS, c, h, st)));
    let (c, h, st) = (client.clone(), history.clone(), stop.clone());
    let raffle = (config.sale.seed, raffle_closes_at_ms);
    workers.push(tokio::spawn(fair::raffler(fair_process + fair::WAITERS + 1, c, h, raffle, st)));

    // The faults, one after another, until the time is up.
    let mut rng = StdRng::seed_from_u64(config.sale.seed);
    let sale_ends = Instant::now() + config.duration;
    tokio::time::sleep(config.quiet).await;
    let mut round = 0;
    while !config.kinds.is_empty() && (Instant::now() + Duration::from_secs(4) < sale_ends || round < config.min_faults)
    {
        nemesis::inject(config.kinds[round % config.kinds.len()], &mut cluster, &history, &mut rng).await;
        round += 1;
        tokio::time::sleep(config.quiet).await;
    }
    tokio::time::sleep(sale_ends.saturating_duration_since(Instant::now())).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }

    // Heal everything, then read the final state.
    nemesis::heal_all(&mut cluster);
    if cluster.wait_for_leader_within(Duration::from_secs(60)).await.is_none() {
        report.log_tails = cluster.log_tails(40);
        return failed(report, "cluster recovered", "no leader 60 s after healing every fault".into());
    }
    let final_reader = config.sale.buyers + 1;
    for sku in 0..config.sale.skus {
        workload::perform(&client, &history, final_reader, Call::Read { sku }).await;
    }
    let final_state = match read_final_state(&cluster, &history).await {
        Ok(state) => state,
        Err(e) => {
            report.log_tails = cluster.log_tails(40);
            return failed(report, "final state read", e);
        }
    };
    let records = history.operations();
    let faults = history.faults();
    write_history(&report.history_file, config, &records, &faults, &final_state);

    report.operations = records.len();
    for record in &records {
        *report.by_call.entry(record.call.name()).or_default() += 1;
        match &record.outcome {
            Outcome::Unknown { .. } => report.unknown += 1,
            Outcome::Rejected { .. } => report.rejected += 1,
            _ => report.acknowledged += 1,
        }
    }
    report.longest_write_gap = longest_write_gap(&records);
    report.faults = faults;
    report.checks.push(checkers::replicas_identical(&final_state, config.nodes as usize));
    report.checks.push(checkers::no_oversell(&final_state));
    report.checks.push(checkers::no_lost_acknowledgement(&records, &final_state));
    report.checks.push(checkers::no_duplicates(&records, &final_state, &config.sale));
    report.checks.push(checkers::connections_kept(&cluster));
    report.checks.push(fair::waitlist_served_in_order(&records, &final_state));
    report.checks.push(fair::raffle_drawn_fairly(&records, &final_state, config.sale.seed));
    let histories = checkers::sku_histories(&records, &final_state, config.sale.skus);
    report.skus =
        checkers::linearizable(&histories, &config.sale, workload::initial_units(&config.sale), config.max_steps);
    let failing: Vec<String> = report
        .skus
        .iter()
        .filter(|s| !s.verdict.is_linearizable())
        .map(|s| format!("sku {}: {}", s.sku, s.detail))
        .collect();
    let ops: usize = report.skus.iter().map(|s| s.operations).sum();
    let searched: f64 = report.skus.iter().map(|s| s.seconds).sum();
    report.checks.push(CheckResult {
        name: "linearizable",
        passed: failing.is_empty(),
        detail: if failing.is_empty() {
            format!("{} SKUs, {ops} operations, searched in {searched:.2} s", report.skus.len())
        } else {
            failing.join("; ")
        },
    });
    if !report.passed() {
        report.log_tails = cluster.log_tails(40);
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}

fn failed(mut report: RunReport, name: &'static str, detail: String) -> RunReport {
    report.checks.push(CheckResult { name, passed: false, detail });
    report
}

/// The longest time between two acknowledged writes (by completion time).
fn longest_write_gap(records: &[history::Record]) -> Duration {
    let mut done: Vec<u64> = records
        .iter()
        .filter(|r| r.call.is_write() && !r.outcome.is_unknown() && !matches!(r.outcome, Outcome::Rejected { .. }))
        .map(|r| r.completed_ns)
        .collect();
    done.sort_unstable();
    let gap = done.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    Duration::from_nanos(gap)
}

/// Every node's own state at one log index, every hold the workload named, the ledger.
async fn read_final_state(cluster: &Cluster, history: &History) -> Result<FinalState, String> {
    let mut state = FinalState::default();
    // Replicas: ask each node until all report the same applied index (the leader keeps
    // proposing Expire, so a read can straddle one).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut nodes = Vec::new();
        for id in cluster.ids() {
            let client = Client::new(Options::new([cluster.address(id)])).map_err(|e| e.to_string())?;
            let channel = client.channel_to(&cluster.address(id)).map_err(|e| e.to_string())?;
            let mut raw = v1::cluster_client::ClusterClient::new(channel);
            if let Ok(reply) = raw.check_state(v1::CheckStateRequest {}).await {
                nodes.push(reply.into_inner());
            }
        }
        let same = nodes.len() == cluster.nodes.len()
            && nodes.windows(2).all(|w| w[0].applied_log_index == w[1].applied_log_index);
        if same || Instant::now() > deadline {
            state.nodes = nodes;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Holds and ledger from the leader (it served the final linearizable reads; what it has
    // applied includes everything acknowledged).
    let leader = cluster.leader().await.ok_or("no leader for the final reads")?;
    let leader_client = Client::new(Options::new([cluster.address(leader)])).map_err(|e| e.to_string())?;
    let holds: Vec<String> = history
        .operations()
        .iter()
        .filter_map(|r| match &r.call {
            Call::Reserve { hold, .. } | Call::Wait { hold, .. } | Call::Enter { hold, .. } => Some(hold.clone()),
            _ => None,
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let client = &leader_client;
    let found: Vec<Result<(String, Option<v1::Hold>), String>> = futures_util::stream::iter(holds)
        .map(|hold| async move {
            let request = v1::GetHoldRequest { hold_id: hold.clone(), allow_stale: true };
            match call!(client, inventory, get_hold, request) {
                Ok(found) => Ok((hold, Some(found))),
                Err(e) if e.reason() == v1::Reason::NotFound => Ok((hold, None)),
                Err(e) => Err(format!("reading hold {hold}: {e}")),
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    for entry in found {
        let (hold, found) = entry?;
        state.holds.insert(hold, found);
    }
    let mut from_seq = 0;
    loop {
        let query = v1::QueryLedgerRequest {
            op: v1::LedgerOp::Reserve as i32,
            allow_stale: true,
            limit: 10_000,
            from_seq,
            ..v1::QueryLedgerRequest::default()
        };
        let page =
            call!(leader_client, catalog, query_ledger, query).map_err(|e| format!("reading the ledger: {e}"))?;
        if page.entries.is_empty() {
            break;
        }
        state.reserve_entries.extend(page.entries.into_iter().map(|e| (e.hold_id, e.log_index)));
        from_seq = page.next_seq;
    }
    let request = v1::GetRaffleRequest { sku_id: fair::sku_name(fair::RAFFLE_SKU).into() };
    state.raffle = call!(leader_client, catalog, get_raffle, request).ok();
    state.end_ns = history.now_ns();
    state.end_wall_ms = history::wall_ms();
    Ok(state)
}

fn write_history(
    path: &std::path::Path,
    config: &RunConfig,
    records: &[history::Record],
    faults: &[history::Fault],
    final_state: &FinalState,
) {
    // The final state the checkers resolved unknown outcomes with: each hold's state and expiry
    // (null: the cluster has no such hold), and each node's digest.
    let holds: std::collections::BTreeMap<&str, serde_json::Value> = final_state
        .holds
        .iter()
        .map(|(id, hold)| {
            let value = hold.as_ref().map_or(serde_json::Value::Null, |h| {
                let state = v1::HoldState::try_from(h.state).map_or("?", |s| s.as_str_name());
                serde_json::json!({ "state": state, "expires_at_ms": h.expires_at_ms })
            });
            (id.as_str(), value)
        })
        .collect();
    let nodes: Vec<serde_json::Value> = final_state
        .nodes
        .iter()
        .map(|n| serde_json::json!({ "node": n.node_id, "applied": n.applied_log_index, "digest": format!("{:016x}", n.digest) }))
        .collect();
    let document = serde_json::json!({
        "nodes": config.nodes,
        "seed": config.sale.seed,
        "buyers": config.sale.buyers,
        "skus": config.sale.skus,
        "operations": records,
        "faults": faults,
        "final": { "end_ns": final_state.end_ns, "end_wall_ms": final_state.end_wall_ms, "holds": holds, "nodes": nodes },
    });
    if let Ok(file) = std::fs::File::create(path) {
        let _ = serde_json::to_writer(std::io::BufWriter::new(file), &document);
    }
}
