//! stockbench against real clusters: every workload sells what it should and says so in its
//! JSON report; a leader killed mid-sale still sells exactly the stock, and the report says
//! when writes resumed; the plot is written; bad usage changes nothing and exits 2.

use serde_json::Value;
use std::process::{Command, Output};
use stockraft_testkit::{Cluster, binary};

fn stockbench(args: &[&str]) -> Output {
    Command::new(binary("stockbench")).args(args).output().expect("run stockbench")
}

/// The JSON reports of a successful run, one per line.
fn reports(output: &Output) -> Vec<Value> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "stockbench failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout.lines().map(|line| serde_json::from_str(line).expect("a JSON report")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_sells_exactly_what_it_should() {
    let cluster = Cluster::start(3);
    cluster.wait_for_leader(&[1, 2, 3]).await;
    let endpoints = cluster.endpoints().join(",");
    let run = |args: &[&str]| reports(&stockbench(&[&["--endpoints", &endpoints, "--json"], args].concat()));

    let hot = &run(&["hot", "--units", "300", "--buyers", "16"])[0];
    assert_eq!(hot["verdict"], "EXACT", "{hot}");
    assert_eq!(hot["acknowledged"], 300, "{hot}");
    assert_eq!(hot["left_on_sale"], 0, "{hot}");
    assert!(hot["p99_ms"].as_f64().is_some_and(|p99| p99 > 0.0), "{hot}");

    let spread = &run(&["spread", "--skus", "20", "--units", "10", "--buyers", "16"])[0];
    assert_eq!(spread["verdict"], "EXACT", "{spread}");
    assert_eq!(spread["acknowledged"], 200, "{spread}");
    assert_eq!(spread["skus_checked"], 20, "{spread}");

    let zipf = &run(&["zipf", "--skus", "500", "--units", "3", "--buyers", "16", "--seconds", "1"])[0];
    assert_eq!(zipf["verdict"], "EXACT", "{zipf}");
    assert!(zipf["acknowledged"].as_u64().is_some_and(|n| n > 0 && n <= 1_500), "{zipf}");

    let batch = &run(&["batch", "--units", "2000", "--batch", "50", "--buyers", "4"])[0];
    assert_eq!(batch["verdict"], "EXACT", "{batch}");
    assert_eq!(batch["acknowledged"], 2000, "{batch}");

    let lifecycle = &run(&["lifecycle", "--skus", "5", "--units", "1000", "--buyers", "16", "--seconds", "2"])[0];
    assert_eq!(lifecycle["verdict"], "EXACT", "{lifecycle}");
    let count = |op: usize| lifecycle["operations"][op]["count"].as_u64().unwrap_or(0);
    assert!(count(0) > 0 && count(1) > 0 && count(2) > 0, "reserves, confirms and releases all happened: {lifecycle}");
    assert!(lifecycle["refused_by_caps"].as_u64().is_some_and(|n| n > 0), "the caps refused some: {lifecycle}");
}

#[test]
fn a_leader_killed_mid_sale_still_sells_exactly_the_stock() {
    let dir = scratch_dir("kill");
    let plot = dir.join("sale.png");
    std::fs::create_dir_all(&dir).expect("a scratch dir");
    let output = stockbench(&[
        "--spawn-cluster",
        "3",
        "--kill-leader-at",
        "30%",
        "--plot",
        plot.to_str().expect("a UTF-8 path"),
        "--json",
        "hot",
        "--units",
        "3000",
        "--buyers",
        "32",
    ]);
    let report = &reports(&output)[0];
    assert_eq!(report["verdict"], "EXACT", "{report}");
    let fault = &report["fault"];
    assert!(fault["what"].as_str().is_some_and(|w| w.starts_with("SIGKILL of leader node")), "{report}");
    assert!(fault["writes_stalled_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{report}");
    assert!(
        fault["at_seconds"].as_f64().is_some_and(|s| s > 0.0 && s < report["seconds"].as_f64().unwrap_or(0.0)),
        "struck mid-sale: {report}"
    );
    let png = std::fs::read(&plot).expect("the plot was written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn open_holds_are_weighed_and_survive_a_restart_of_the_leader() {
    let report = &reports(&stockbench(&["--spawn-cluster", "3", "--json", "holds", "--count", "3000"]))[0];
    assert_eq!(report["verdict"], "EXACT", "{report}");
    assert_eq!(report["holds"], 3000, "{report}");
    assert!(report["leader_rss_after_mb"].as_f64() > report["leader_rss_before_mb"].as_f64(), "{report}");
    assert!(report["restart_serving_seconds"].as_f64().is_some_and(|s| s > 0.0), "{report}");
}

#[test]
fn bad_usage_is_refused_before_anything_runs() {
    let no_cluster = stockbench(&["--kill-leader-at", "1", "hot"]);
    assert_eq!(no_cluster.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_cluster.stderr).contains("--kill-leader-at needs --spawn-cluster"));
    let big_batch = stockbench(&["batch", "--batch", "5000"]);
    assert_eq!(big_batch.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&big_batch.stderr).contains("--batch must be 1 to 1024"));
    let holds = stockbench(&["holds", "--count", "10"]);
    assert_eq!(holds.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&holds.stderr).contains("holds needs --spawn-cluster"));
    let share = stockbench(&["--spawn-cluster", "3", "--kill-leader-at", "120%", "hot"]);
    assert_eq!(share.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&share.stderr).contains("above 0% and below 100%"));
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stockbench-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
