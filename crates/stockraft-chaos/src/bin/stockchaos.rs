//! stockchaos: chaos runs against real stockd processes (`make chaos`).
//!
//! ```text
//! stockchaos --nodes 3,5 --seconds 180      # the long run: both cluster sizes
//! ```
//! Exits 1 when any checker fails; each run's history is in `<out>/n<nodes>/history.json`.

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;
use stockraft_chaos::{RunConfig, report, run};

#[derive(Debug, Parser)]
#[command(name = "stockchaos", about = "Flash sales against real stockd clusters under faults, judged by checkers.")]
struct Flags {
    /// Cluster sizes to run, one run each.
    #[arg(long, value_delimiter = ',', default_value = "3,5")]
    nodes: Vec<u64>,
    /// How long each sale (and its faults) lasts.
    #[arg(long, default_value_t = 180)]
    seconds: u64,
    /// Concurrent buyers.
    #[arg(long, default_value_t = 64)]
    buyers: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where clusters and histories are written.
    #[arg(long, default_value = "target/chaos")]
    out: PathBuf,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let flags = Flags::parse();
    let mut reports = Vec::new();
    for &nodes in &flags.nodes {
        if !(3..=9).contains(&nodes) {
            eprintln!("stockchaos: --nodes takes cluster sizes from 3 to 9, not {nodes}");
            std::process::exit(2);
        }
        let mut config = RunConfig::new(nodes, Duration::from_secs(flags.seconds), flags.out.clone());
        config.sale.buyers = flags.buyers;
        config.sale.seed = flags.seed;
        eprintln!("stockchaos: {nodes} nodes, {} s, {} buyers, seed {} ...", flags.seconds, flags.buyers, flags.seed);
        let result = run(&config).await;
        eprintln!(
            "stockchaos: {nodes} nodes: {}; history in {}",
            if result.passed() { "PASS" } else { "FAIL" },
            result.history_file.display()
        );
        if !result.passed() {
            eprintln!("{}", result.log_tails);
        }
        reports.push(result);
    }
    println!("{}", report::summary(&reports));
    println!("{}", report::faults(&reports));
    println!("{}", report::checks(&reports));
    if !reports.iter().all(|r| r.passed()) {
        std::process::exit(1);
    }
}
