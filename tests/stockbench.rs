//! stockbench against a real 3-node cluster: a small hot sale sells exactly its units, and
//! the JSON report says so.

use std::process::Command;
use std::time::Duration;
use stockraft_chaos::cluster::{Cluster, NodeSettings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_sale_sells_exactly_its_units() {
    let dir = tempfile_dir();
    let cluster = Cluster::start(3, &dir, &NodeSettings::default()).await.expect("a cluster");
    cluster.wait_for_leader(Duration::from_secs(30)).await.expect("a leader");
    let output = Command::new(env!("CARGO_BIN_EXE_stockbench"))
        .arg("--endpoints")
        .arg(cluster.endpoints().join(","))
        .arg("--json")
        .args(["hot", "--units", "300", "--buyers", "16"])
        .output()
        .expect("run stockbench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "stockbench failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON report");
    assert_eq!(report["verdict"], "EXACT", "{report}");
    assert_eq!(report["acknowledged"], 300, "{report}");
    assert_eq!(report["left_on_sale"], 0, "{report}");
    assert!(report["p99_ms"].as_f64().is_some_and(|p99| p99 > 0.0), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stockbench-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
