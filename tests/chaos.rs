//! The short chaos run of `make test` (the long one is `make chaos`): a flash sale of 64
//! buyers on 3 hot SKUs against a 3-node and then a 5-node cluster of real stockd processes,
//! while leaders are killed (once and in a row), paused, isolated, split off with a minority,
//! followers killed, nodes restarted and leadership transferred. Afterwards every checker must
//! pass: replicas identical, no oversell on any node, no lost acknowledgement, no duplicates or
//! caps exceeded, and every SKU's history linearizable.
//!
//! Each run leaves its history in target/chaos-test/n<nodes>/history.json.

use std::path::PathBuf;
use std::time::Duration;
use stockraft_chaos::{RunConfig, report, run};

/// Long enough for every fault kind once (8 faults of ~2 s, 1.5 s apart).
const SALE: Duration = Duration::from_secs(32);

fn out_dir() -> PathBuf {
    let mut dir = std::env::current_exe().expect("the test's path");
    dir.pop(); // deps/
    dir.pop(); // <profile>/
    dir.pop(); // target/
    dir.join("chaos-test")
}

async fn sale_survives_faults(nodes: u64) {
    let config = RunConfig::new(nodes, SALE, out_dir());
    let result = run(&config).await;
    println!("{}", report::summary(std::slice::from_ref(&result)));
    println!("{}", report::faults(std::slice::from_ref(&result)));
    println!("{}", report::checks(std::slice::from_ref(&result)));
    if !result.passed() {
        println!("{}", result.log_tails);
    }
    assert!(result.passed(), "a checker failed on the {nodes}-node run; history: {}", result.history_file.display());
    assert!(result.faults.len() >= 8, "every kind of fault was injected: {:?}", result.faults);
}

/// One test, so the two clusters run one after the other (two at once would share 2 cores).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_survives_every_fault_on_three_and_five_nodes() {
    sale_survives_faults(3).await;
    sale_survives_faults(5).await;
}
