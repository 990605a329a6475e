//! A cluster of real `stockd` processes behind the fault-injecting [`Proxy`]: start, SIGKILL,
//! SIGSTOP/SIGCONT, SIGTERM and restart from the data dir, and who leads.

use crate::ports::loopback_port;
use crate::proxy::{Proxy, source_ip};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stockraft_client::{Client, Options, v1};

/// How the nodes are tuned for a chaos run (production defaults otherwise).
#[derive(Clone, Debug)]
pub struct NodeSettings {
    /// Expire more often than the default second, so expiry races with the faults.
    pub expire_interval_ms: u64,
    /// Extra lines for the `[raft]` table.
    pub raft: String,
    /// Nodes listen behind the fault-injecting proxy (chaos); without it they listen on their
    /// public address directly (benchmarks: no extra hop, no partitions).
    pub proxied: bool,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings { expire_interval_ms: 250, raft: String::new(), proxied: true }
    }
}

/// The stockd binary: `$STOCKD`, or next to the running executable (`target/<profile>/`).
pub fn stockd_binary() -> PathBuf {
    if let Ok(path) = std::env::var("STOCKD") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the running executable's path");
    let mut dir = exe.parent().expect("a directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("stockd");
    assert!(path.exists(), "{} is missing: build the workspace first (make build)", path.display());
    path
}

pub struct Node {
    pub id: u64,
    /// Where clients and peers reach it: its proxy.
    pub public: String,
    config: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
    paused: bool,
}

pub struct Cluster {
    pub dir: PathBuf,
    pub nodes: BTreeMap<u64, Node>,
    pub proxy: Proxy,
    stockd: PathBuf,
    /// Short timeouts for status probes: a dead or paused node must not hold up the nemesis.
    probe: Options,
}

impl Cluster {
    /// Starts nodes `1..=size` in `dir` (node 1 bootstraps them all as voters).
    pub async fn start(size: u64, dir: &Path, settings: &NodeSettings) -> std::io::Result<Cluster> {
        std::fs::create_dir_all(dir)?;
        let mut proxy = Proxy::default();
        let ports: Vec<(u64, u16, u16)> = (1..=size).map(|id| (id, loopback_port(), loopback_port())).collect();
        let members: String = ports
            .iter()
            .map(|(id, public, _)| format!("  {{ id = {id}, address = \"127.0.0.1:{public}\" }},\n"))
            .collect();
        let mut nodes = BTreeMap::new();
        for &(id, public, private) in &ports {
            let public_addr: SocketAddr = ([127, 0, 0, 1], public).into();
            let private_addr: SocketAddr = ([127, 0, 0, 1], private).into();
            let network = if settings.proxied {
                proxy.add(id, public_addr, private_addr).await?;
                format!(
                    "listen = \"{private_addr}\"\nadvertise = \"{public_addr}\"\nsource_ip = \"{}\"\n",
                    source_ip(id)
                )
            } else {
                format!("listen = \"{public_addr}\"\n")
            };
            let config = dir.join(format!("node{id}.toml"));
            let text = format!(
                "node_id = {id}\n{network}\
                 data_dir = {:?}\nlog = \"info,openraft=warn\"\nexpire_interval_ms = {}\n{}members = [\n{members}]\n\n[raft]\n{}\n",
                dir.join(format!("node{id}")),
                settings.expire_interval_ms,
                if id == 1 { "bootstrap = true\n" } else { "" },
                settings.raft,
            );
            std::fs::write(&config, text)?;
            let log = dir.join(format!("node{id}.log"));
            nodes.insert(id, Node { id, public: public_addr.to_string(), config, log, child: None, paused: false });
        }
        let mut probe = Options::new(["127.0.0.1:1"]);
        probe.attempt_timeout = Duration::from_millis(500);
        probe.deadline = Duration::from_millis(500);
        probe.connect_timeout = Duration::from_millis(200);
        let mut cluster = Cluster { dir: dir.to_path_buf(), nodes, proxy, stockd: stockd_binary(), probe };
        for id in 1..=size {
            cluster.spawn(id);
        }
        Ok(cluster)
    }

    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.nodes.values().map(|n| n.public.clone()).collect()
    }

    /// Starts (or restarts) node `id` on its data dir.
    pub fn spawn(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("a known node");
        assert!(node.child.is_none(), "node {id} is already running");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&node.log).expect("open the node log");
        let child = Command::new(&self.stockd)
            .arg("--config")
            .arg(&node.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start stockd");
        node.child = Some(child);
        node.paused = false;
    }

    /// SIGKILL: the process dies at once, mid-write if it was writing.
    pub fn kill(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("a known node");
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        node.paused = false;
    }

    /// SIGTERM, then wait for a clean exit (SIGKILL after 10 s).
    pub fn terminate(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("a known node");
        if let Some(mut child) = node.child.take() {
            if node.paused {
                signal(&child, "-CONT");
            }
            signal(&child, "-TERM");
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        node.paused = false;
    }

    /// SIGSTOP: the process freezes (timers, disk, network), as in a long GC pause or a VM stall.
    pub fn pause(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("a known node");
        if let Some(child) = &node.child {
            signal(child, "-STOP");
            node.paused = true;
        }
    }

    /// SIGCONT.
    pub fn resume(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("a known node");
        if let (Some(child), true) = (&node.child, node.paused) {
            signal(child, "-CONT");
            node.paused = false;
        }
    }

    /// The process id of node `id`, while it runs.
    pub fn pid(&self, id: u64) -> Option<u32> {
        self.nodes[&id].child.as_ref().map(Child::id)
    }

    pub fn is_up(&self, id: u64) -> bool {
        let node = &self.nodes[&id];
        node.child.is_some() && !node.paused
    }

    /// Node `id`'s own view, if it answers within half a second.
    pub async fn status(&self, id: u64) -> Option<v1::ClusterStatus> {
        let address = &self.nodes[&id].public;
        let mut options = self.probe.clone();
        options.endpoints = vec![address.clone()];
        let client = Client::new(options).ok()?;
        tokio::time::timeout(Duration::from_secs(1), client.node_status(address)).await.ok()?.ok()
    }

    /// The node that leads in the highest term among those running, if any claims to.
    pub async fn leader(&self) -> Option<u64> {
        let mut best: Option<(u64, u64)> = None;
        for id in self.ids() {
            if !self.is_up(id) {
                continue;
            }
            if let Some(status) = self.status(id).await
                && status.leader_id == id
                && best.is_none_or(|(term, _)| status.term > term)
            {
                best = Some((status.term, id));
            }
        }
        best.map(|(_, id)| id)
    }

    /// Waits until a node leads and every running node agrees; `None` after `timeout`.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<u64> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(leader) = self.leader().await {
                let mut agreed = true;
                for id in self.ids().into_iter().filter(|id| self.is_up(*id)) {
                    agreed &= self.status(id).await.is_some_and(|s| s.leader_id == leader);
                }
                if agreed {
                    return Some(leader);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Asks node `id` to hand leadership to `to`.
    pub async fn transfer_leader(&self, from: u64, to: u64) -> Result<(), String> {
        let mut options = self.probe.clone();
        options.endpoints = vec![self.nodes[&from].public.clone()];
        options.attempt_timeout = Duration::from_secs(6);
        options.deadline = Duration::from_secs(6);
        let client = Client::new(options).map_err(|e| e.to_string())?;
        let request = v1::TransferLeaderRequest { to_node_id: to };
        stockraft_client::call!(client, cluster, transfer_leader, request).map(|_| ()).map_err(|e| e.to_string())
    }

    /// The last `lines` lines of every node's log.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for node in self.nodes.values() {
            let text = std::fs::read_to_string(&node.log).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("----- node {} ({}) -----\n", node.id, node.log.display()));
            for line in &all[all.len().saturating_sub(lines)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

/// Sends a signal with kill(1) (procps; `make deps` installs it).
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill").arg(signal).arg(child.id().to_string()).status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()) || signal == "-CONT",
        "kill {signal} {} failed ({status:?}): is kill(1) installed (Debian: procps)?",
        child.id()
    );
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in self.nodes.values_mut() {
            if let Some(mut child) = node.child.take() {
                if node.paused {
                    signal(&child, "-CONT");
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
