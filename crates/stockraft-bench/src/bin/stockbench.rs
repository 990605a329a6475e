//! stockbench: flash-sale load against a stockraft cluster.
//!
//! ```text
//! stockbench hot --units 10000 --buyers 16,64,256           # against make cluster
//! stockbench --spawn-cluster 3 --kill-leader-at 2 --plot sale.png hot --buyers 256
//! stockbench --spawn-cluster 3 standard                     # what make bench runs
//! ```

use clap::{Parser, Subcommand};
use comfy_table::Table;
use futures_util::FutureExt;
use std::path::PathBuf;
use std::process::exit;
use std::sync::Arc;
use std::time::Duration;
use stockraft_bench::lifecycle;
use stockraft_bench::plot::{self, Line};
use stockraft_bench::sale::{self, Calls, Fault, Picker, Spec, When};
use stockraft_client::{Client, Options};
use stockraft_testkit::{Cluster, Settings};
use tokio::sync::Mutex;

#[derive(Debug, Parser)]
#[command(
    name = "stockbench",
    about = "Flash-sale load against a stockraft cluster; every sale is checked for oversell."
)]
struct Flags {
    /// host:port of the nodes of a running cluster.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003")]
    endpoints: Vec<String>,
    /// Start a fresh cluster of this many nodes (the stockd next to stockbench, fsync on, in a
    /// temporary directory) instead of using --endpoints; it is stopped at the end.
    #[arg(long)]
    spawn_cluster: Option<u64>,
    /// SIGKILL the leader mid-sale (needs --spawn-cluster): seconds into each sale (`2`, `0.5s`)
    /// or once a share of the stock is acknowledged (`30%`, the same moment on any machine). The
    /// killed node is restarted after the sale; a sale that ends first says the kill was not made.
    #[arg(long, value_parser = When::parse)]
    kill_leader_at: Option<When>,
    /// Draw throughput and p99 over time of every sale to this PNG file.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// One JSON object per result line instead of tables.
    #[arg(long)]
    json: bool,
    /// Send every reserve as its own unary gRPC call (what a plain Java or Python client does)
    /// instead of through the Rust client's coalescing `reserve`.
    #[arg(long)]
    unary: bool,
    /// The client's window: ReserveBatch calls in flight at once behind `Client::reserve`.
    #[arg(long, default_value_t = Options::new([""]).reserve_batches_in_flight)]
    batches_in_flight: usize,
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Clone, Debug, Subcommand)]
enum Workload {
    /// One SKU, N units, C buyers reserving one unit each until it is sold out.
    Hot {
        #[arg(long, default_value_t = 10_000)]
        units: u32,
        /// Concurrent buyers; several values run one sale each.
        #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
        buyers: Vec<usize>,
    },
    /// Many SKUs, buyers picking uniformly, until all are sold out.
    Spread {
        #[arg(long, default_value_t = 1_000)]
        skus: usize,
        #[arg(long, default_value_t = 100)]
        units: u32,
        #[arg(long, value_delimiter = ',', default_value = "256")]
        buyers: Vec<usize>,
    },
    /// Very many SKUs with Zipf popularity, for a fixed time.
    Zipf {
        #[arg(long, default_value_t = 100_000)]
        skus: usize,
        #[arg(long, default_value_t = 10)]
        units: u32,
        #[arg(long, default_value_t = 1.1)]
        exponent: f64,
        #[arg(long, value_delimiter = ',', default_value = "256")]
        buyers: Vec<usize>,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// The hot sale through ReserveBatch: each call carries --batch reserves.
    Batch {
        #[arg(long, default_value_t = 1_000_000)]
        units: u32,
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
        #[arg(long, value_delimiter = ',', default_value = "16")]
        buyers: Vec<usize>,
    },
    /// Reserve, then confirm (70%), release (20%) or let expire (10%), under per-buyer caps.
    Lifecycle {
        #[arg(long, default_value_t = 100)]
        skus: usize,
        #[arg(long, default_value_t = 1_000_000)]
        units: u32,
        #[arg(long, value_delimiter = ',', default_value = "256")]
        buyers: Vec<usize>,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// Memory per open hold on the leader, and how fast the leader, restarted with all of them
    /// open, serves again (needs --spawn-cluster).
    Holds {
        #[arg(long, default_value_t = 1_000_000)]
        count: u32,
    },
    /// The standard set (make bench): hot at 16, 64 and 256 buyers, spread, zipf, batch,
    /// lifecycle and holds, with their defaults.
    Standard,
    /// The hot sale against etcd (compare-and-swap transactions) and Redis (a Lua script, AOF
    /// fsync always), then against stockraft, with the ratios (make bench-peers).
    Peers {
        /// host:port of the etcd members' client URLs (none: etcd is skipped; at 256 buyers it
        /// takes minutes to sell 10,000 units).
        #[arg(long, value_delimiter = ',')]
        etcd: Vec<String>,
        /// host:port of the Redis server. It is emptied (FLUSHALL) before every run: give
        /// stockbench a Redis of its own.
        #[arg(long, required = true)]
        redis: String,
        #[arg(long, default_value_t = 10_000)]
        units: u32,
        #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
        buyers: Vec<usize>,
        /// Runs of each system at each buyer count, alternated; the table gives each figure's
        /// median and the ratio of the median rates.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=99))]
        repeat: u32,
    },
}

/// Exit codes: 1 a sale was not EXACT, 2 bad usage, 4 the cluster failed the run.
fn fail(code: i32, message: impl std::fmt::Display) -> ! {
    eprintln!("stockbench: {message}");
    exit(code)
}

/// One sale or lifecycle run to do.
enum Job {
    Sale(Spec),
    Lifecycle(lifecycle::Spec),
    Holds(u32),
}

fn jobs(workload: &Workload, calls: Calls) -> Vec<Job> {
    let sale = |workload, skus, units, buyers, picker, batch, seconds| {
        Job::Sale(Spec { workload, skus, units, buyers, picker, batch, calls, seconds })
    };
    match workload.clone() {
        Workload::Hot { units, buyers } => {
            buyers.into_iter().map(|b| sale("hot", 1, units, b, Picker::Uniform, 1, None)).collect()
        }
        Workload::Spread { skus, units, buyers } => {
            buyers.into_iter().map(|b| sale("spread", skus, units, b, Picker::Uniform, 1, None)).collect()
        }
        Workload::Zipf { skus, units, exponent, buyers, seconds } => {
            buyers.into_iter().map(|b| sale("zipf", skus, units, b, Picker::Zipf(exponent), 1, Some(seconds))).collect()
        }
        Workload::Batch { units, batch, buyers } => {
            buyers.into_iter().map(|b| sale("batch", 1, units, b, Picker::Uniform, batch, None)).collect()
        }
        Workload::Lifecycle { skus, units, buyers, seconds } => {
            buyers.into_iter().map(|buyers| Job::Lifecycle(lifecycle::Spec { skus, units, buyers, seconds })).collect()
        }
        Workload::Standard => [
            Workload::Hot { units: 10_000, buyers: vec![16, 64, 256] },
            Workload::Spread { skus: 1_000, units: 100, buyers: vec![256] },
            Workload::Zipf { skus: 100_000, units: 10, exponent: 1.1, buyers: vec![256], seconds: 10.0 },
            Workload::Batch { units: 1_000_000, batch: 1_000, buyers: vec![16] },
            Workload::Lifecycle { skus: 100, units: 1_000_000, buyers: vec![256], seconds: 10.0 },
            Workload::Holds { count: 1_000_000 },
        ]
        .iter()
        .flat_map(|w| jobs(w, calls))
        .collect(),
        Workload::Holds { count } => vec![Job::Holds(count)],
        Workload::Peers { units, buyers, .. } => {
            buyers.into_iter().map(|b| sale("hot", 1, units, b, Picker::Uniform, 1, None)).collect()
        }
    }
}

fn check_usage(flags: &Flags, jobs: &[Job]) -> Result<(), String> {
    for job in jobs {
        match job {
            Job::Sale(spec) => {
                if spec.skus == 0 || spec.units == 0 || spec.buyers == 0 {
                    return Err("--skus, --units and --buyers must be 1 or more".into());
                }
                if spec.batch == 0 || spec.batch > 1_024 {
                    return Err("--batch must be 1 to 1024 (the server's ReserveBatch limit)".into());
                }
                if let Picker::Zipf(s) = spec.picker
                    && !(s > 0.0 && s.is_finite())
                {
                    return Err("--exponent must be a positive number".into());
                }
                if spec.seconds.is_some_and(|s| !(s > 0.0 && s.is_finite())) {
                    return Err("--seconds must be a positive number".into());
                }
            }
            Job::Holds(count) => {
                if *count == 0 {
                    return Err("--count must be 1 or more".into());
                }
                if flags.spawn_cluster.is_none() {
                    return Err("holds needs --spawn-cluster (it restarts a node and reads its memory)".into());
                }
            }
            Job::Lifecycle(spec) => {
                if spec.skus == 0 || spec.units == 0 || spec.buyers == 0 || spec.seconds.is_nan() || spec.seconds <= 0.0
                {
                    return Err("--skus, --units, --buyers and --seconds must be positive".into());
                }
            }
        }
    }
    match (flags.kill_leader_at, flags.spawn_cluster) {
        (Some(_), None) => {
            Err("--kill-leader-at needs --spawn-cluster (stockbench kills only nodes it started)".into())
        }
        (_, Some(0)) => Err("--spawn-cluster must be 1 or more".into()),
        _ => Ok(()),
    }
}

#[tokio::main]
async fn main() {
    let flags = Flags::parse();
    let calls = if flags.unary { Calls::Unary } else { Calls::Coalesced };
    let jobs = jobs(&flags.workload, calls);
    if let Err(e) = check_usage(&flags, &jobs) {
        fail(2, e);
    }
    let dir = tempfile::Builder::new().prefix("stockbench-").tempdir().unwrap_or_else(|e| fail(4, e));
    // `peers` starts a fresh cluster for every run itself; one idle beside them would be noise.
    let peers_only = matches!(flags.workload, Workload::Peers { .. });
    let cluster = match flags.spawn_cluster {
        Some(size) if !peers_only => Some(spawn_cluster(size, dir.path()).await),
        _ => None,
    };
    let endpoints = match &cluster {
        Some(cluster) => cluster.lock().await.endpoints(),
        None => flags.endpoints.clone(),
    };
    let options = |endpoints| Options { reserve_batches_in_flight: flags.batches_in_flight, ..Options::new(endpoints) };
    let client = Arc::new(Client::new(options(endpoints)).unwrap_or_else(|e| fail(2, e)));
    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis()
    );

    if let Workload::Peers { etcd, redis, units, buyers, repeat } = &flags.workload {
        let sale = PeerSale { units: *units, repeat: *repeat, unary: flags.unary, json: flags.json };
        // A cluster stockbench starts is started afresh for every stockraft run (and removed
        // after it); a given cluster (--endpoints) is shared by the runs.
        let stockraft = match flags.spawn_cluster {
            Some(size) => {
                Stockraft::Fresh { size, dir: dir.path().join("peers"), batches_in_flight: flags.batches_in_flight }
            }
            None => Stockraft::Shared(client),
        };
        let failed = peers(&stockraft, etcd, redis, &sale, buyers, &run_id).await;
        stop(cluster).await;
        exit(i32::from(failed));
    }
    let mut sales = Vec::new();
    let mut lifecycles = Vec::new();
    let mut holds = Vec::new();
    let mut failed = false;
    for (i, job) in jobs.iter().enumerate() {
        let run = format!("{run_id}-{i}");
        match job {
            Job::Sale(spec) => {
                let killed = Arc::new(std::sync::Mutex::new(None));
                let fault = match (flags.kill_leader_at, &cluster) {
                    (Some(at), Some(cluster)) => Some(kill_leader(at, cluster.clone(), killed.clone())),
                    _ => None,
                };
                let report = sale::run(client.clone(), spec, &run, fault).await.unwrap_or_else(|e| fail(4, e));
                let killed = killed.lock().expect("killed").take();
                if let (Some(id), Some(cluster)) = (killed, &cluster) {
                    cluster.lock().await.spawn(id);
                }
                failed |= report.verdict != "EXACT";
                if flags.json {
                    println!("{}", serde_json::to_string(&report).expect("a report serializes"));
                }
                sales.push(report);
            }
            Job::Holds(count) => {
                // On a fresh cluster of its own: the leader's memory growth and restart time are
                // then those of these holds alone, not of the sales run before them.
                let size = flags.spawn_cluster.expect("checked: holds needs --spawn-cluster");
                let fresh = spawn_cluster(size, &dir.path().join(format!("holds-{i}"))).await;
                let endpoints = fresh.lock().await.endpoints();
                let client = Arc::new(Client::new(options(endpoints)).unwrap_or_else(|e| fail(2, e)));
                let report = stockraft_bench::holds::run(client, fresh.clone(), *count, &run)
                    .await
                    .unwrap_or_else(|e| fail(4, e));
                stop(Some(fresh)).await;
                if flags.json {
                    println!("{}", serde_json::to_string(&report).expect("a report serializes"));
                }
                holds.push(report);
            }
            Job::Lifecycle(spec) => {
                let report = lifecycle::run(client.clone(), spec, &run).await.unwrap_or_else(|e| fail(4, e));
                failed |= report.verdict != "EXACT";
                if flags.json {
                    println!("{}", serde_json::to_string(&report).expect("a report serializes"));
                }
                lifecycles.push(report);
            }
        }
    }
    if !flags.json {
        print_tables(&sales, &lifecycles);
        for h in &holds {
            println!(
                "holds: {} open holds reserved in {:.2} s ({}); leader node {} RSS {:.0} MB -> {:.0} MB: {:.0} bytes per open hold; restarted with them, serving again after {:.2} s",
                h.holds,
                h.reserve_seconds,
                h.verdict,
                h.leader,
                h.leader_rss_before_mb,
                h.leader_rss_after_mb,
                h.bytes_per_hold,
                h.restart_serving_seconds
            );
        }
    }
    if let Some(file) = &flags.plot {
        let lines: Vec<Line> = sales
            .iter()
            .map(|r| Line {
                label: format!("{} {} buyers", r.workload, r.buyers),
                series: &r.series,
                fault_at: r.fault.as_ref().and_then(|f| f.at_seconds),
            })
            .collect();
        let title = format!("stockbench: {} sale(s), acknowledged reserves", lines.len());
        if let Err(e) = plot::draw(file, &title, &lines) {
            fail(4, e);
        }
        if !flags.json {
            println!("plot: {}", file.display());
        }
    }
    stop(cluster).await;
    if failed {
        exit(1);
    }
}

/// Starts a fresh cluster of `size` stockd processes under `dir` and waits for a leader.
async fn spawn_cluster(size: u64, dir: &std::path::Path) -> Arc<Mutex<Cluster>> {
    let cluster = Cluster::start_in(dir, size, &Settings::default()).unwrap_or_else(|e| fail(4, e));
    if cluster.wait_for_leader_within(Duration::from_secs(30)).await.is_none() {
        fail(4, format!("the cluster elected no leader in 30 s; logs:\n{}", cluster.log_tails(20)));
    }
    Arc::new(Mutex::new(cluster))
}

async fn stop(cluster: Option<Arc<Mutex<Cluster>>>) {
    if let Some(cluster) = cluster {
        let mut cluster = cluster.lock().await;
        for id in cluster.ids() {
            cluster.stop(id);
        }
    }
}

/// Where `peers` sells through stockraft.
enum Stockraft {
    /// A fresh cluster of `size` nodes for every run (as Redis gets an emptied server).
    Fresh { size: u64, dir: std::path::PathBuf, batches_in_flight: usize },
    /// The cluster given with --endpoints, for every run.
    Shared(Arc<Client>),
}

impl Stockraft {
    /// A client for the next run, and the cluster started for it (to stop after the run).
    async fn for_run(&self, run: &str) -> (Arc<Client>, Option<Arc<Mutex<Cluster>>>) {
        match self {
            Stockraft::Shared(client) => (client.clone(), None),
            Stockraft::Fresh { size, dir, batches_in_flight } => {
                let cluster = spawn_cluster(*size, &dir.join(run)).await;
                let endpoints = cluster.lock().await.endpoints();
                let options = Options { reserve_batches_in_flight: *batches_in_flight, ..Options::new(endpoints) };
                (Arc::new(Client::new(options).unwrap_or_else(|e| fail(2, e))), Some(cluster))
            }
        }
    }
}

impl Stockraft {
    /// Stops the cluster a run had and removes its data (a million-unit run leaves gigabytes).
    async fn done(&self, run: &str, cluster: Option<Arc<Mutex<Cluster>>>) {
        stop(cluster).await;
        if let Stockraft::Fresh { dir, .. } = self {
            let _ = std::fs::remove_dir_all(dir.join(run));
        }
    }
}

/// How `peers` runs each sale.
struct PeerSale {
    units: u32,
    repeat: u32,
    unary: bool,
    json: bool,
}

/// One system's runs at one buyer count: each figure's median over the runs.
struct Medians {
    system: String,
    rates: Vec<f64>,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// "EXACT" when every run was; else the first run's verdict that was not.
    verdict: String,
}

impl Medians {
    fn of(system: String, runs: &[(f64, f64, f64, f64, String)]) -> Medians {
        let median = |figure: fn(&(f64, f64, f64, f64, String)) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(figure).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        Medians {
            system,
            rates: runs.iter().map(|r| r.0).collect(),
            p50_ms: median(|r| r.1),
            p99_ms: median(|r| r.2),
            max_ms: median(|r| r.3),
            verdict: runs.iter().map(|r| r.4.clone()).find(|v| v != "EXACT").unwrap_or_else(|| "EXACT".into()),
        }
    }

    fn rate(&self) -> f64 {
        let mut rates = self.rates.clone();
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    }
}

/// The hot sale on etcd, Redis and stockraft for each buyer count, `repeat` times each, runs
/// alternated so that a slow minute of the VM hits every system; true if any was not EXACT.
/// Redis is emptied and its append-only file rewritten before every run, and stockraft (when
/// stockbench starts it) is a fresh cluster every run, so no run pays for the ones before it;
/// etcd's three members serve every run (its keys are per run).
async fn peers(
    stockraft: &Stockraft,
    etcd: &[String],
    redis: &str,
    sale: &PeerSale,
    buyers: &[usize],
    run_id: &str,
) -> bool {
    let units = sale.units;
    let mut table = Table::new();
    table.set_header(["buyers", "system", "reserves/s", "runs", "p50", "p99", "max", "verdict", "stockraft is"]);
    let mut failed = false;
    let figures = |rate: f64, p50: f64, p99: f64, max: f64, verdict: &str| (rate, p50, p99, max, verdict.to_string());
    for (i, &buyers) in buyers.iter().enumerate() {
        let (mut etcd_runs, mut redis_runs, mut our_runs) = (Vec::new(), Vec::new(), Vec::new());
        let mut redis_connections = Vec::new();
        for repetition in 0..sale.repeat {
            let run = format!("{run_id}-{i}-{repetition}");
            if !etcd.is_empty() {
                let e = stockraft_bench::peers::etcd_hot(etcd, units, buyers, &run)
                    .await
                    .unwrap_or_else(|e| fail(4, format!("etcd: {e}")));
                failed |= e.verdict != "EXACT";
                if sale.json {
                    println!("{}", serde_json::to_string(&e).expect("a report serializes"));
                }
                etcd_runs.push(figures(e.reserves_per_second, e.p50_ms, e.p99_ms, e.max_ms, &e.verdict));
            }
            // Redis gets its best of one shared connection and one per buyer (each a fresh key).
            let mut best: Option<stockraft_bench::peers::PeerReport> = None;
            for (n, connections) in [1, buyers].into_iter().enumerate() {
                let key = format!("{run}-{n}");
                stockraft_bench::peers::redis_reset(redis).await.unwrap_or_else(|e| fail(4, format!("redis: {e}")));
                let report = stockraft_bench::peers::redis_hot(redis, units, buyers, connections, &key)
                    .await
                    .unwrap_or_else(|e| fail(4, format!("redis: {e}")));
                failed |= report.verdict != "EXACT";
                if sale.json {
                    println!("{}", serde_json::to_string(&report).expect("a report serializes"));
                }
                if best.as_ref().is_none_or(|b| report.reserves_per_second > b.reserves_per_second) {
                    best = Some(report);
                }
            }
            let r = best.expect("two runs");
            redis_connections.push(r.connections);
            redis_runs.push(figures(r.reserves_per_second, r.p50_ms, r.p99_ms, r.max_ms, &r.verdict));
            let spec = Spec {
                workload: "hot",
                skus: 1,
                units,
                buyers,
                picker: Picker::Uniform,
                batch: 1,
                calls: if sale.unary { Calls::Unary } else { Calls::Coalesced },
                seconds: None,
            };
            let (client, fresh) = stockraft.for_run(&run).await;
            let o = sale::run(client, &spec, &run, None).await.unwrap_or_else(|e| fail(4, e));
            stockraft.done(&run, fresh).await;
            failed |= o.verdict != "EXACT";
            if sale.json {
                println!("{}", serde_json::to_string(&o).expect("a report serializes"));
            }
            our_runs.push(figures(o.reserves_per_second, o.p50_ms, o.p99_ms, o.max_ms, &o.verdict));
        }
        if sale.json {
            continue;
        }
        let connections = redis_connections.iter().map(|c| c.to_string()).collect::<Vec<_>>().join("/");
        let mut rows = Vec::new();
        if !etcd_runs.is_empty() {
            rows.push(Medians::of("etcd (3 members, CAS txn)".into(), &etcd_runs));
        }
        rows.push(Medians::of(format!("redis (1 node, Lua, fsync always, {connections} conn)"), &redis_runs));
        let ours = if sale.unary { "stockraft (3 nodes, unary calls)" } else { "stockraft (3 nodes, Rust client)" };
        rows.push(Medians::of(ours.into(), &our_runs));
        let our_rate = rows.last().expect("stockraft's row").rate();
        for row in &rows {
            table.add_row([
                buyers.to_string(),
                row.system.clone(),
                format!("{:.0}", row.rate()),
                row.rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(" "),
                format!("{:.2} ms", row.p50_ms),
                format!("{:.2} ms", row.p99_ms),
                format!("{:.2} ms", row.max_ms),
                row.verdict.clone(),
                format!("{:.2}x", our_rate / row.rate()),
            ]);
        }
    }
    if !sale.json {
        println!("{table}");
    }
    failed
}

/// SIGKILLs whoever leads `at` seconds into the sale and notes its id for the restart.
fn kill_leader(at: When, cluster: Arc<Mutex<Cluster>>, killed: Arc<std::sync::Mutex<Option<u64>>>) -> Fault {
    let action = async move {
        let mut cluster = cluster.lock().await;
        match cluster.leader().await {
            Some(id) => {
                cluster.kill(id);
                *killed.lock().expect("killed") = Some(id);
                format!("SIGKILL of leader node {id}")
            }
            None => "no leader to kill".to_string(),
        }
    };
    Fault { at, action: action.boxed() }
}

fn print_tables(sales: &[sale::Report], lifecycles: &[lifecycle::Report]) {
    if !sales.is_empty() {
        let mut table = Table::new();
        table.set_header([
            "workload",
            "SKUs x units",
            "buyers",
            "calls",
            "time",
            "reserves/s",
            "p50",
            "p99",
            "max",
            "unknown",
            "verdict",
        ]);
        for r in sales {
            table.add_row([
                r.workload.to_string(),
                format!("{} x {}", r.skus, r.units_per_sku),
                r.buyers.to_string(),
                if r.batch == 1 { r.calls.name().to_string() } else { format!("batches of {}", r.batch) },
                format!("{:.2} s", r.seconds),
                format!("{:.0}", r.reserves_per_second),
                format!("{:.2} ms", r.p50_ms),
                format!("{:.2} ms", r.p99_ms),
                format!("{:.2} ms", r.max_ms),
                r.unknown.to_string(),
                r.verdict.clone(),
            ]);
        }
        println!("{table}");
        for r in sales {
            match r.fault.as_ref().map(|f| (f, f.at_seconds)) {
                Some((f, Some(at))) => {
                    let stall = f
                        .writes_stalled_ms
                        .map_or("writes never resumed".to_string(), |ms| format!("writes stalled {ms:.0} ms"));
                    println!("{} {} buyers: {} at {at:.1} s; {stall}", r.workload, r.buyers, f.what);
                }
                Some((f, None)) => println!("{} {} buyers: {}", r.workload, r.buyers, f.what),
                None => {}
            }
            for problem in &r.problems {
                println!("{} {} buyers: {problem}", r.workload, r.buyers);
            }
        }
    }
    for r in lifecycles {
        let mut table = Table::new();
        table.set_header(["lifecycle operation", "count", "per second", "p50", "p99", "max"]);
        for op in &r.operations {
            table.add_row([
                op.operation.to_string(),
                op.count.to_string(),
                format!("{:.0}", op.per_second),
                format!("{:.2} ms", op.p50_ms),
                format!("{:.2} ms", op.p99_ms),
                format!("{:.2} ms", op.max_ms),
            ]);
        }
        println!("{table}");
        println!(
            "lifecycle {} buyers, {} SKUs x {} units, {:.1} s: refused by caps {}, out of stock {}, left to expire {}, confirms too late {}, unknown {}: {}",
            r.buyers,
            r.skus,
            r.units_per_sku,
            r.seconds,
            r.refused_by_caps,
            r.refused_out_of_stock,
            r.left_to_expire,
            r.confirms_too_late,
            r.unknown,
            r.verdict
        );
        for problem in &r.problems {
            println!("lifecycle: {problem}");
        }
    }
}
