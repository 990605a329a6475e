//! A harness for tests against real `stockd` processes: a cluster of nodes on loopback ports
//! ([`ports`]), each with its own data dir and log in a temporary directory; kill, stop and
//! restart; and waiting for conditions (never fixed sleeps).
//!
//! When a test panics, the harness prints the tail of every node's log.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stockraft_client::{Client, Error, Options, Tls, call, new_request_id, v1};
use tempfile::TempDir;

/// Elections take well under a second; a loaded 2-core CI machine gets thirty.
pub const CONDITION_TIMEOUT: Duration = Duration::from_secs(30);

/// The stockd binary next to the test's own build output (`target/<profile>/stockd`).
pub fn stockd_binary() -> PathBuf {
    if let Ok(path) = std::env::var("STOCKD") {
        return PathBuf::from(path);
    }
    let mut dir = std::env::current_exe().expect("the test's path");
    dir.pop(); // deps/
    dir.pop(); // <profile>/
    let path = dir.join("stockd");
    assert!(path.exists(), "{} is missing: build it first (cargo build --bin stockd)", path.display());
    path
}

// One allocator for every harness: see its module doc for why not port 0.
#[path = "../../crates/stockraft-chaos/src/ports.rs"]
mod ports;
pub use ports::loopback_port;

pub struct Node {
    pub id: u64,
    pub address: String,
    /// Where the node serves /metrics (when its settings ask for `{metrics}`).
    pub metrics: String,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// Whether the process the harness started has exited without being killed or stopped (the
    /// harness lets go of the ones it ends). An exited child stays a zombie until it is waited
    /// for, so `/proc` still shows it, in state `Z`.
    fn exited_on_its_own(&self) -> bool {
        let Some(child) = &self.child else { return false };
        std::fs::read_to_string(format!("/proc/{}/stat", child.id()))
            .ok()
            .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
            .unwrap_or(false)
    }
}

pub struct Cluster {
    dir: TempDir,
    pub nodes: BTreeMap<u64, Node>,
    stockd: PathBuf,
    /// The token and TLS settings the harness's own clients use.
    pub access: Access,
}

/// What a client needs to reach a cluster with `[auth]` or `[tls]` on.
#[derive(Clone, Default)]
pub struct Access {
    pub token: Option<String>,
    pub tls: Option<Tls>,
}

/// Extra settings for every node's config file (TOML lines). In each, `{id}` becomes the node's
/// id, `{dir}` the cluster's temporary directory, and `{metrics}` a free loopback address.
#[derive(Default)]
pub struct Settings {
    pub extra: String,
    pub raft: String,
    /// Tables after `[raft]` (`[tls]`, `[auth]`, `[limits]`).
    pub tables: String,
}

impl Cluster {
    /// Starts nodes 1..=voters; node 1 bootstraps them as the voters.
    pub fn start(voters: u64) -> Cluster {
        Cluster::start_with(voters, Settings::default())
    }

    pub fn start_with(voters: u64, settings: Settings) -> Cluster {
        let mut cluster = Cluster::prepare(voters, &settings);
        for id in 1..=voters {
            cluster.spawn(id);
        }
        cluster
    }

    /// An empty temporary directory for a cluster, to prepare files (certificates) in.
    pub fn directory() -> TempDir {
        tempfile::Builder::new().prefix("stockraft-cluster-").tempdir().expect("a temp dir")
    }

    /// Writes the configs of nodes 1..=voters (node 1 bootstraps them) without starting them.
    pub fn prepare(voters: u64, settings: &Settings) -> Cluster {
        Cluster::prepare_in(Cluster::directory(), voters, settings)
    }

    pub fn prepare_in(dir: TempDir, voters: u64, settings: &Settings) -> Cluster {
        let mut cluster = Cluster { dir, nodes: BTreeMap::new(), stockd: stockd_binary(), access: Access::default() };
        let addresses: Vec<(u64, String)> =
            (1..=voters).map(|id| (id, format!("127.0.0.1:{}", loopback_port()))).collect();
        let members: String =
            addresses.iter().map(|(id, a)| format!("  {{ id = {id}, address = \"{a}\" }},\n")).collect();
        for (id, address) in &addresses {
            let bootstrap = if *id == 1 { "bootstrap = true\n" } else { "" };
            cluster.write_node(*id, address, &format!("{bootstrap}members = [\n{members}]\n"), settings);
        }
        cluster
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn write_node(&mut self, id: u64, address: &str, membership: &str, settings: &Settings) {
        let data = self.dir.path().join(format!("node{id}"));
        let config = self.dir.path().join(format!("node{id}.toml"));
        let metrics = format!("127.0.0.1:{}", loopback_port());
        let fill = |text: &str| {
            text.replace("{id}", &id.to_string())
                .replace("{dir}", &self.dir.path().display().to_string())
                .replace("{metrics}", &metrics)
        };
        let text = format!(
            "node_id = {id}\nlisten = \"{address}\"\ndata_dir = {data:?}\nlog = \"info,openraft=warn\"\n{membership}{}\n[raft]\n{}\n{}\n",
            fill(&settings.extra),
            settings.raft,
            fill(&settings.tables)
        );
        std::fs::write(&config, text).expect("write a node config");
        let log = self.dir.path().join(format!("node{id}.log"));
        let node = Node { id, address: address.to_string(), metrics, config, log, child: None };
        self.nodes.insert(id, node);
    }

    /// Prepares (does not start) a node outside the membership, to be added as a learner.
    pub fn add_spare(&mut self, id: u64, settings: &Settings) -> String {
        let address = format!("127.0.0.1:{}", loopback_port());
        self.write_node(id, &address, "", settings);
        address
    }

    /// Starts (or restarts) a node's process on its data dir.
    pub fn spawn(&mut self, id: u64) {
        self.spawn_with(id, &[]);
    }

    /// Starts a node with extra flags (`--restore FILE`).
    pub fn spawn_with(&mut self, id: u64, flags: &[&str]) {
        let node = self.nodes.get_mut(&id).expect("a known node");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&node.log).expect("open the node log");
        let child = Command::new(&self.stockd)
            .arg("--config")
            .arg(&node.config)
            .args(flags)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start stockd");
        node.child = Some(child);
    }

    /// SIGKILL: the process dies at once, mid-write if it was writing.
    pub fn kill(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("a known node");
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait: a clean shutdown.
    pub fn stop(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("a known node");
        if let Some(mut child) = node.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn address(&self, id: u64) -> String {
        self.nodes[&id].address.clone()
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.nodes.values().map(|n| n.address.clone()).collect()
    }

    /// A client that may use every node.
    pub fn client(&self) -> Client {
        self.client_with(self.endpoints(), &self.access)
    }

    /// A client that talks to one node only (which forwards to the leader if it must).
    pub fn client_of(&self, id: u64) -> Client {
        self.client_with(vec![self.address(id)], &self.access)
    }

    /// A client of these nodes with this token and TLS.
    pub fn client_with(&self, endpoints: Vec<String>, access: &Access) -> Client {
        let mut options = Options::new(endpoints);
        options.token = access.token.clone();
        options.tls = access.tls.clone();
        Client::new(options).expect("a client")
    }

    pub fn data_dir(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node{id}"))
    }

    pub fn log_path(&self, id: u64) -> &Path {
        &self.nodes[&id].log
    }

    /// The status as node `id` sees it, if it answers. A node that the harness started and
    /// that exited on its own (a refused config, a crash) fails the test at once, rather than
    /// after [`CONDITION_TIMEOUT`] of waiting for it to answer.
    pub async fn status(&self, id: u64) -> Option<v1::ClusterStatus> {
        let node = &self.nodes[&id];
        assert!(!node.exited_on_its_own(), "node {id} exited on its own (its log is below)");
        self.client_of(id).node_status(&self.address(id)).await.ok()
    }

    /// Waits until every running node among `ids` names the same leader, and returns it.
    pub async fn wait_for_leader(&self, ids: &[u64]) -> u64 {
        wait_for(&format!("nodes {ids:?} to agree on a leader"), || async {
            let mut leaders = Vec::new();
            for id in ids {
                leaders.push(self.status(*id).await?.leader_id);
            }
            let first = leaders[0];
            (first != 0 && leaders.iter().all(|l| *l == first)).then_some(first)
        })
        .await
    }

    /// Waits until every running node among `ids` names the same leader other than `old`.
    pub async fn wait_for_new_leader(&self, ids: &[u64], old: u64) -> u64 {
        wait_for(&format!("nodes {ids:?} to agree on a leader other than {old}"), || async {
            let mut leaders = Vec::new();
            for id in ids {
                leaders.push(self.status(*id).await?.leader_id);
            }
            let first = leaders[0];
            (first != 0 && first != old && leaders.iter().all(|l| *l == first)).then_some(first)
        })
        .await
    }

    /// Waits until node `id` has applied at least `index`.
    pub async fn wait_for_applied(&self, id: u64, index: u64) {
        wait_for(&format!("node {id} to apply log index {index}"), || async {
            (self.status(id).await?.applied_log_index >= index).then_some(())
        })
        .await
    }

    /// The leader's committed index, once a leader is known among `ids`.
    pub async fn committed(&self, ids: &[u64]) -> u64 {
        let leader = self.wait_for_leader(ids).await;
        self.status(leader).await.map_or(0, |s| s.committed_log_index)
    }

    fn dump_logs(&self) {
        for node in self.nodes.values() {
            let Ok(file) = std::fs::File::open(&node.log) else { continue };
            let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
            eprintln!("----- node {} log (last 40 of {} lines) -----", node.id, lines.len());
            for line in lines.iter().skip(lines.len().saturating_sub(40)) {
                eprintln!("{line}");
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        for node in self.nodes.values_mut() {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Polls `check` until it returns `Some`, or panics naming `what` after [`CONDITION_TIMEOUT`].
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + CONDITION_TIMEOUT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {CONDITION_TIMEOUT:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The shop the tests sell from.

pub const WAREHOUSE: &str = "sh-01";
pub const ITEM: &str = "moutai-500ml";
pub const SKU: &str = "moutai-flash";

/// A warehouse, an item with `units` on hand, and a PRE_DEDUCT SKU of it with `ttl_ms` holds
/// and at most `per_buyer` units per buyer.
pub async fn set_up_shop(client: &Client, units: i64, ttl_ms: u64, per_buyer: Option<u32>) {
    let warehouse = v1::Warehouse {
        id: WAREHOUSE.into(),
        name: "Shanghai".into(),
        region: "east".into(),
        priority: 1,
        active: true,
    };
    call!(
        client,
        catalog,
        upsert_warehouse,
        v1::UpsertWarehouseRequest { request_id: new_request_id(), warehouse: Some(warehouse) }
    )
    .expect("warehouse");
    let item = v1::Item { id: ITEM.into(), name: "Moutai 500 ml".into() };
    call!(client, catalog, upsert_item, v1::UpsertItemRequest { request_id: new_request_id(), item: Some(item) })
        .expect("item");
    let rules = v1::SaleRules {
        mode: v1::DeductionMode::PreDeduct as i32,
        hold_ttl_ms: ttl_ms,
        units_per_buyer_max: per_buyer,
        ..v1::SaleRules::default()
    };
    let sku = v1::UpsertSkuRequest {
        request_id: new_request_id(),
        sku_id: SKU.into(),
        components: vec![v1::Component { item_id: ITEM.into(), quantity: 1 }],
        rules: Some(rules),
    };
    call!(client, catalog, upsert_sku, sku).expect("sku");
    let stock = v1::StockFigureRequest {
        request_id: new_request_id(),
        item_id: ITEM.into(),
        warehouse_id: WAREHOUSE.into(),
        units,
        note: "test stock".into(),
    };
    call!(client, catalog, receive_stock, stock).expect("stock");
}

pub fn reserve_request(hold: &str, buyer: &str, quantity: i64) -> v1::ReserveRequest {
    v1::ReserveRequest {
        request_id: new_request_id(),
        hold_id: hold.into(),
        buyer_id: buyer.into(),
        lines: vec![v1::Line { sku_id: SKU.into(), quantity }],
        ..v1::ReserveRequest::default()
    }
}

pub async fn reserve(client: &Client, hold: &str, buyer: &str, quantity: i64) -> Result<v1::HoldReply, Error> {
    call!(client, inventory, reserve, reserve_request(hold, buyer, quantity))
}

pub async fn hold_state(client: &Client, hold: &str) -> v1::HoldState {
    let hold = call!(client, inventory, get_hold, v1::GetHoldRequest { hold_id: hold.into(), allow_stale: false })
        .expect("the hold");
    v1::HoldState::try_from(hold.state).expect("a known state")
}

/// The SKU's availability, read linearizably (through the leader).
pub async fn availability(client: &Client) -> Result<v1::Availability, Error> {
    call!(client, inventory, get_availability, v1::GetAvailabilityRequest { sku_id: SKU.into(), allow_stale: false })
}

/// Node `id`'s own (possibly stale) figures for the SKU: (on hand units, log index).
pub async fn local_availability(cluster: &Cluster, id: u64) -> Option<u32> {
    let client = cluster.client_of(id);
    let request = v1::GetAvailabilityRequest { sku_id: SKU.into(), allow_stale: true };
    call!(client, inventory, get_availability, request).ok().map(|a| a.on_hand_units)
}

/// Node `id`'s own ledger entries of one operation, as (log index, hold) pairs.
pub async fn local_ledger(cluster: &Cluster, id: u64, op: v1::LedgerOp) -> Vec<(u64, String)> {
    let client = cluster.client_of(id);
    let query = v1::LedgerQuery { op: op as i32, allow_stale: true, limit: 10_000, ..v1::LedgerQuery::default() };
    let page = call!(client, catalog, query_ledger, query).expect("a ledger page");
    page.entries.into_iter().map(|e| (e.log_index, e.hold_id)).collect()
}
