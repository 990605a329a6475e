//! A cluster's files and clients: each node's config, data dir and log in one directory, on
//! loopback ports, behind the partitioning proxy when asked.

use crate::binaries::stockd_binary;
use crate::ports::loopback_port;
use crate::proxy::{Proxy, source_ip};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use stockraft_client::{Client, Options, Tls};
use tempfile::TempDir;

pub struct Node {
    pub id: u64,
    /// Where clients and peers reach the node: its proxy's address in a proxied cluster.
    pub address: String,
    /// Where the node serves /metrics (when its settings ask for `{metrics}`).
    pub metrics: String,
    pub(crate) config: PathBuf,
    pub(crate) log: PathBuf,
    pub(crate) child: Option<Child>,
    /// Stopped by SIGSTOP, not yet continued.
    pub(crate) paused: bool,
}

/// Extra settings for every node's config file (TOML lines). In each, `{id}` becomes the node's
/// id, `{dir}` the cluster's directory, and `{metrics}` a free loopback address.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Top-level lines (`expire_interval_ms = 250`).
    pub extra: String,
    /// Lines for the `[raft]` table.
    pub raft: String,
    /// Tables after `[raft]` (`[tls]`, `[auth]`, `[limits]`).
    pub tables: String,
    /// Every node listens on a private port behind the partitioning proxy and connects to its
    /// peers from its own loopback address (chaos runs); otherwise nodes listen on their
    /// address directly (no extra hop, no partitions). Read when the cluster is made, which
    /// must then happen inside a tokio runtime (the proxy runs on it); spares follow the cluster.
    pub proxied: bool,
}

/// What a client needs to reach a cluster with `[auth]` or `[tls]` on.
#[derive(Clone, Default)]
pub struct Access {
    pub token: Option<String>,
    pub tls: Option<Tls>,
}

/// Where a cluster keeps its files.
enum Directory {
    /// Removed with the cluster (tests).
    Temporary(TempDir),
    /// Outlives it (a chaos run keeps it beside its history).
    Kept(PathBuf),
}

pub struct Cluster {
    dir: Directory,
    pub nodes: BTreeMap<u64, Node>,
    proxy: Option<Proxy>,
    pub(crate) stockd: PathBuf,
    /// The token and TLS settings the harness's own clients use.
    pub access: Access,
}

impl Cluster {
    /// Starts nodes 1..=voters in a temporary directory; node 1 bootstraps them as the voters.
    pub fn start(voters: u64) -> Cluster {
        Cluster::start_with(voters, Settings::default())
    }

    pub fn start_with(voters: u64, settings: Settings) -> Cluster {
        let mut cluster = Cluster::prepare(voters, &settings);
        cluster.spawn_all();
        cluster
    }

    /// Starts nodes 1..=voters with their files in `dir`, which outlives the cluster.
    pub fn start_in(dir: &Path, voters: u64, settings: &Settings) -> std::io::Result<Cluster> {
        std::fs::create_dir_all(dir)?;
        let mut cluster = Cluster::write(Directory::Kept(dir.to_path_buf()), voters, settings)?;
        cluster.spawn_all();
        Ok(cluster)
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
        Cluster::write(Directory::Temporary(dir), voters, settings).expect("write the nodes' configs")
    }

    fn write(dir: Directory, voters: u64, settings: &Settings) -> std::io::Result<Cluster> {
        let proxy = settings.proxied.then(Proxy::default);
        let mut cluster =
            Cluster { dir, nodes: BTreeMap::new(), proxy, stockd: stockd_binary(), access: Access::default() };
        let addresses: Vec<(u64, String)> =
            (1..=voters).map(|id| (id, format!("127.0.0.1:{}", loopback_port()))).collect();
        let members: String =
            addresses.iter().map(|(id, a)| format!("  {{ id = {id}, address = \"{a}\" }},\n")).collect();
        for (id, address) in &addresses {
            let bootstrap = if *id == 1 { "bootstrap = true\n" } else { "" };
            cluster.write_node(*id, address, &format!("{bootstrap}members = [\n{members}]\n"), settings)?;
        }
        Ok(cluster)
    }

    /// Prepares (does not start) a node outside the membership, to be added as a learner.
    pub fn add_spare(&mut self, id: u64, settings: &Settings) -> String {
        let address = format!("127.0.0.1:{}", loopback_port());
        self.write_node(id, &address, "", settings).expect("write the spare's config");
        address
    }

    /// Writes node `id`'s config: it serves at `address`, itself or through its proxy.
    fn write_node(&mut self, id: u64, address: &str, membership: &str, settings: &Settings) -> std::io::Result<()> {
        let network = match &mut self.proxy {
            Some(proxy) => {
                let private = format!("127.0.0.1:{}", loopback_port());
                proxy.add(id, parse(address), parse(&private))?;
                format!("listen = \"{private}\"\nadvertise = \"{address}\"\nsource_ip = \"{}\"\n", source_ip(id))
            }
            None => format!("listen = \"{address}\"\n"),
        };
        let dir = self.dir().to_path_buf();
        let data = dir.join(format!("node{id}"));
        let config = dir.join(format!("node{id}.toml"));
        let metrics = format!("127.0.0.1:{}", loopback_port());
        let fill = |text: &str| {
            text.replace("{id}", &id.to_string())
                .replace("{dir}", &dir.display().to_string())
                .replace("{metrics}", &metrics)
        };
        let text = format!(
            "node_id = {id}\n{network}data_dir = {data:?}\nlog = \"info,openraft=warn\"\n{membership}{}\n[raft]\n{}\n{}\n",
            fill(&settings.extra),
            settings.raft,
            fill(&settings.tables)
        );
        std::fs::write(&config, text)?;
        let log = dir.join(format!("node{id}.log"));
        let node = Node { id, address: address.to_string(), metrics, config, log, child: None, paused: false };
        self.nodes.insert(id, node);
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        match &self.dir {
            Directory::Temporary(dir) => dir.path(),
            Directory::Kept(dir) => dir,
        }
    }

    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    pub fn address(&self, id: u64) -> String {
        self.nodes[&id].address.clone()
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.nodes.values().map(|n| n.address.clone()).collect()
    }

    pub fn data_dir(&self, id: u64) -> PathBuf {
        self.dir().join(format!("node{id}"))
    }

    pub fn log_path(&self, id: u64) -> &Path {
        &self.nodes[&id].log
    }

    /// The last `lines` lines of every node's log.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for node in self.nodes.values() {
            let text = std::fs::read_to_string(&node.log).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let shown = lines.min(all.len());
            let (id, total, path) = (node.id, all.len(), node.log.display());
            out.push_str(&format!("----- node {id} log (last {shown} of {total} lines, {path}) -----\n"));
            for line in &all[all.len() - shown..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
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

    /// Cuts every link between nodes of different groups; nodes in no group keep theirs.
    /// Clients always get through. Only in a proxied cluster ([`Settings::proxied`]).
    pub fn partition(&self, groups: &[Vec<u64>]) {
        self.proxy.as_ref().expect("partitions need a proxied cluster (Settings::proxied)").partition(groups);
    }

    /// Restores every link.
    pub fn heal(&self) {
        if let Some(proxy) = &self.proxy {
            proxy.heal();
        }
    }
}

fn parse(address: &str) -> SocketAddr {
    address.parse().expect("a loopback socket address")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprint!("{}", self.log_tails(40));
        }
        for id in self.ids() {
            self.kill(id);
        }
    }
}
