//! stockbench: flash-sale load against a running stockraft cluster.
//!
//! ```text
//! stockbench --endpoints 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 hot --units 10000 --buyers 16,64,256
//! ```

use clap::{Parser, Subcommand};
use std::sync::Arc;
use stockraft_bench::hot::{self, Hot};
use stockraft_client::{Client, Options};

#[derive(Debug, Parser)]
#[command(name = "stockbench", about = "Flash-sale load against a stockraft cluster.")]
struct Flags {
    /// host:port of the nodes.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003")]
    endpoints: Vec<String>,
    /// One JSON object per result line instead of a table.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Debug, Subcommand)]
enum Workload {
    /// One SKU, N units, C buyers reserving one unit each until it is sold out.
    Hot {
        #[arg(long, default_value_t = 10_000)]
        units: u32,
        /// Concurrent buyers; several values run one sale each.
        #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
        buyers: Vec<usize>,
    },
}

#[tokio::main]
async fn main() {
    let flags = Flags::parse();
    let client = match Client::new(Options::new(flags.endpoints.clone())) {
        Ok(client) => Arc::new(client),
        Err(e) => {
            eprintln!("stockbench: {e}");
            std::process::exit(2);
        }
    };
    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis()
    );
    let Workload::Hot { units, buyers } = flags.workload;
    if units == 0 || buyers.contains(&0) {
        eprintln!("stockbench: --units and --buyers must be 1 or more");
        std::process::exit(2);
    }
    let mut table = comfy_table::Table::new();
    table.set_header([
        "workload",
        "units",
        "buyers",
        "sell-out",
        "reserves/s",
        "p50",
        "p99",
        "max",
        "unknown",
        "verdict",
    ]);
    let mut failed = false;
    for (i, &buyers) in buyers.iter().enumerate() {
        let report = match hot::run(client.clone(), &Hot { units, buyers }, &format!("{run_id}-{i}")).await {
            Ok(report) => report,
            Err(e) => {
                eprintln!("stockbench: {e}");
                std::process::exit(4);
            }
        };
        failed |= report.verdict != "EXACT";
        if flags.json {
            println!("{}", serde_json::to_string(&report).expect("a report serializes"));
        } else {
            table.add_row([
                "hot".to_string(),
                report.units.to_string(),
                report.buyers.to_string(),
                format!("{:.2} s", report.sell_out_seconds),
                format!("{:.0}", report.reserves_per_second),
                format!("{:.2} ms", report.p50_ms),
                format!("{:.2} ms", report.p99_ms),
                format!("{:.2} ms", report.max_ms),
                report.unknown.to_string(),
                report.verdict.clone(),
            ]);
        }
    }
    if !flags.json {
        println!("{table}");
    }
    if failed {
        std::process::exit(1);
    }
}
