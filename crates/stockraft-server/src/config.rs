//! stockd's configuration: a TOML file, overridden by environment variables (`STOCKD_*`), then
//! by flags. [`Config::validate`] refuses a bad configuration with a message that names the
//! setting, before anything is opened or bound.

use clap::Parser;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

/// One cluster member: its node id and the address peers and clients reach it at.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub id: u64,
    pub address: String,
}

/// Raft timing and log-compaction settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RaftSettings {
    /// The leader's heartbeat period. Must be well below the election timeout.
    pub heartbeat_ms: u64,
    /// A follower that hears no leader for a random time in [min, max) starts an election; this
    /// bounds how long writes stall after a leader dies.
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Build a snapshot (and later purge the log before it) after this many applied entries.
    pub snapshot_after_entries: u64,
    /// Log entries kept behind a snapshot, so a briefly lagging follower catches up from the
    /// log instead of receiving a whole snapshot.
    pub logs_kept_after_snapshot: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        // On loopback and in one datacentre a round trip is well under a millisecond; 100 ms
        // heartbeats and a 300-600 ms election window keep failover under a second without
        // spurious elections from a paused process or a slow fsync.
        RaftSettings {
            heartbeat_ms: 100,
            election_timeout_min_ms: 300,
            election_timeout_max_ms: 600,
            snapshot_after_entries: 100_000,
            logs_kept_after_snapshot: 10_000,
        }
    }
}

/// The node's configuration, as a TOML file spells it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub node_id: u64,
    /// Where the gRPC server listens (clients and peers alike).
    pub listen: String,
    /// The address other nodes and clients use for this node; defaults to `listen`.
    pub advertise: Option<String>,
    /// The local IP address connections to peers leave from (default: the operating system's
    /// choice). On a host with several interfaces this pins Raft traffic to one of them; the
    /// chaos tests give each node its own loopback address so a proxy can tell nodes apart.
    pub source_ip: Option<IpAddr>,
    pub data_dir: PathBuf,
    /// Initialise a new cluster whose voters are `members` when this node's storage is empty.
    /// Set it on one node of a new cluster only; a node that joins later is added as a learner.
    pub bootstrap: bool,
    pub members: Vec<Member>,
    /// Load a small demo catalog (two warehouses, a few SKUs with stock) when the ledger is empty.
    pub demo_catalog: bool,
    /// How often the leader proposes `Expire` (holds past their TTL, pruning, forgetting ids).
    pub expire_interval_ms: u64,
    /// The most client requests the leader packs into one Raft entry.
    pub batch_max: usize,
    /// The log filter (`info`, `stockraft_server=debug,openraft=warn`, ...).
    pub log: String,
    pub raft: RaftSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_id: 1,
            listen: "127.0.0.1:7001".into(),
            advertise: None,
            source_ip: None,
            data_dir: PathBuf::from("./data"),
            bootstrap: false,
            members: Vec::new(),
            demo_catalog: false,
            expire_interval_ms: 1_000,
            batch_max: 1_024,
            log: "info,openraft=warn".into(),
            raft: RaftSettings::default(),
        }
    }
}

/// Command-line flags; each also reads a `STOCKD_*` environment variable, and overrides the file.
#[derive(Debug, Parser)]
#[command(name = "stockd", version, about = "A stockraft node: the Raft-replicated stock ledger behind a gRPC API.")]
pub struct Flags {
    /// A TOML configuration file (see cluster/node1.toml).
    #[arg(long, short, env = "STOCKD_CONFIG")]
    pub config: Option<PathBuf>,
    #[arg(long, env = "STOCKD_NODE_ID")]
    pub node_id: Option<u64>,
    /// host:port to listen on for gRPC.
    #[arg(long, env = "STOCKD_LISTEN")]
    pub listen: Option<String>,
    /// host:port other nodes and clients reach this node at (default: --listen).
    #[arg(long, env = "STOCKD_ADVERTISE")]
    pub advertise: Option<String>,
    /// Local IP address to connect to peers from (default: the OS's choice).
    #[arg(long, env = "STOCKD_SOURCE_IP")]
    pub source_ip: Option<IpAddr>,
    #[arg(long, env = "STOCKD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Initialise a new cluster of --member nodes (or of this node alone) if storage is empty.
    #[arg(long, env = "STOCKD_BOOTSTRAP")]
    pub bootstrap: bool,
    /// A cluster member as ID=HOST:PORT (repeat for each; replaces the file's members).
    #[arg(long = "member", value_name = "ID=HOST:PORT")]
    pub members: Vec<String>,
    /// Load the demo catalog into an empty ledger.
    #[arg(long, env = "STOCKD_DEMO_CATALOG")]
    pub demo_catalog: bool,
    /// Log filter, e.g. info or stockraft_server=debug.
    #[arg(long, env = "STOCKD_LOG")]
    pub log: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("{0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(message.into())
}

impl Config {
    /// The file (if any), then the environment and flags over it; validated.
    pub fn load(flags: Flags) -> Result<Config, ConfigError> {
        let mut config = match &flags.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(id) = flags.node_id {
            config.node_id = id;
        }
        if let Some(listen) = flags.listen {
            config.listen = listen;
        }
        if flags.advertise.is_some() {
            config.advertise = flags.advertise;
        }
        if flags.source_ip.is_some() {
            config.source_ip = flags.source_ip;
        }
        if let Some(dir) = flags.data_dir {
            config.data_dir = dir;
        }
        config.bootstrap |= flags.bootstrap;
        config.demo_catalog |= flags.demo_catalog;
        if let Some(log) = flags.log {
            config.log = log;
        }
        if !flags.members.is_empty() {
            config.members = flags.members.iter().map(|m| parse_member(m)).collect::<Result<_, _>>()?;
        }
        config.validate()?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        toml::from_str(&text)
            .map_err(|source| ConfigError::Parse { path: path.to_path_buf(), source: Box::new(source) })
    }

    /// The address this node is known by.
    pub fn advertised(&self) -> &str {
        self.advertise.as_deref().unwrap_or(&self.listen)
    }

    /// The voters to initialise a new cluster with: the configured members, or this node alone.
    pub fn initial_members(&self) -> Vec<Member> {
        if self.members.is_empty() {
            vec![Member { id: self.node_id, address: self.advertised().to_string() }]
        } else {
            self.members.clone()
        }
    }

    /// Checks every setting; the data dir is created if missing and must be writable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.node_id == 0 {
            return Err(invalid("node_id must be 1 or more (0 means \"no node\" in the API)"));
        }
        self.listen
            .parse::<SocketAddr>()
            .map_err(|e| invalid(format!("listen {:?} is not an IP:port address: {e}", self.listen)))?;
        if let Some(advertise) = &self.advertise {
            check_host_port("advertise", advertise)?;
        }
        let mut ids = BTreeSet::new();
        let mut addresses = BTreeSet::new();
        for member in &self.members {
            if member.id == 0 {
                return Err(invalid("member ids must be 1 or more"));
            }
            if !ids.insert(member.id) {
                return Err(invalid(format!("duplicate node id {} in members", member.id)));
            }
            if !addresses.insert(member.address.as_str()) {
                return Err(invalid(format!("two members share the address {}", member.address)));
            }
            check_host_port(&format!("member {} address", member.id), &member.address)?;
        }
        if let Some(me) = self.members.iter().find(|m| m.id == self.node_id)
            && me.address != self.advertised()
        {
            return Err(invalid(format!(
                "members lists node {} at {} but this node advertises {}",
                me.id,
                me.address,
                self.advertised()
            )));
        }
        if self.bootstrap && !self.members.is_empty() && !ids.contains(&self.node_id) {
            return Err(invalid(format!("bootstrap: node {} is not among the members it would start", self.node_id)));
        }
        let r = &self.raft;
        if r.heartbeat_ms == 0 || r.heartbeat_ms * 2 > r.election_timeout_min_ms {
            return Err(invalid("raft.heartbeat_ms must be at least 1 and at most half of election_timeout_min_ms"));
        }
        if r.election_timeout_min_ms >= r.election_timeout_max_ms {
            return Err(invalid("raft.election_timeout_min_ms must be below election_timeout_max_ms"));
        }
        if r.snapshot_after_entries == 0 {
            return Err(invalid("raft.snapshot_after_entries must be at least 1"));
        }
        if self.expire_interval_ms == 0 || self.expire_interval_ms > 60_000 {
            return Err(invalid("expire_interval_ms must be 1 to 60000"));
        }
        if self.batch_max == 0 || self.batch_max > stockraft_core::limits::RESERVE_BATCH_MAX {
            return Err(invalid(format!("batch_max must be 1 to {}", stockraft_core::limits::RESERVE_BATCH_MAX)));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log)
            .map_err(|e| invalid(format!("log filter {:?}: {e}", self.log)))?;
        check_data_dir(&self.data_dir)
    }
}

fn parse_member(text: &str) -> Result<Member, ConfigError> {
    let (id, address) =
        text.split_once('=').ok_or_else(|| invalid(format!("--member {text:?}: expected ID=HOST:PORT")))?;
    let id = id.parse().map_err(|_| invalid(format!("--member {text:?}: {id:?} is not a node id")))?;
    Ok(Member { id, address: address.to_string() })
}

fn check_host_port(what: &str, address: &str) -> Result<(), ConfigError> {
    let (host, port) =
        address.rsplit_once(':').ok_or_else(|| invalid(format!("{what} {address:?} is not HOST:PORT")))?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(invalid(format!("{what} {address:?} is not HOST:PORT")));
    }
    // Names must resolve now: a typo should stop the node at start, not fail every RPC later.
    address.to_socket_addrs().map_err(|e| invalid(format!("{what} {address:?} does not resolve: {e}")))?;
    Ok(())
}

fn check_data_dir(dir: &Path) -> Result<(), ConfigError> {
    std::fs::create_dir_all(dir).map_err(|e| invalid(format!("data_dir {}: cannot create: {e}", dir.display())))?;
    let probe = dir.join(".stockd-write-probe");
    std::fs::write(&probe, b"ok").map_err(|e| invalid(format!("data_dir {}: not writable: {e}", dir.display())))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> Config {
        Config { data_dir: dir.to_path_buf(), ..Config::default() }
    }

    fn error(config: &Config) -> String {
        config.validate().expect_err("the config is refused").to_string()
    }

    #[test]
    fn the_default_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        config(dir.path()).validate().unwrap();
    }

    #[test]
    fn bad_addresses_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.listen = "localhost".into();
        assert!(error(&c).contains("listen \"localhost\" is not an IP:port"), "{}", error(&c));
        let mut c = config(dir.path());
        c.members = vec![Member { id: 2, address: "127.0.0.1:notaport".into() }];
        assert!(error(&c).contains("member 2 address"), "{}", error(&c));
    }

    #[test]
    fn duplicate_node_ids_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.members = vec![
            Member { id: 1, address: "127.0.0.1:7001".into() },
            Member { id: 1, address: "127.0.0.1:7002".into() },
        ];
        assert_eq!(error(&c), "duplicate node id 1 in members");
    }

    #[test]
    fn an_unwritable_data_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        let c = config(&file.join("data"));
        assert!(error(&c).contains("cannot create"), "{}", error(&c));
    }

    #[test]
    fn timings_must_allow_heartbeats_inside_the_election_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.raft.heartbeat_ms = 200;
        assert!(error(&c).contains("heartbeat_ms"));
    }

    #[test]
    fn files_refuse_unknown_settings_and_flags_override_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "node_id = 3\nlisten = \"127.0.0.1:7003\"\nheartbeat = 5\n").unwrap();
        let message = Config::from_file(&path).unwrap_err().to_string();
        assert!(message.contains("unknown field `heartbeat`"), "{message}");

        std::fs::write(&path, format!("node_id = 3\ndata_dir = {:?}\n", dir.path().join("d"))).unwrap();
        let flags = Flags::parse_from(["stockd", "--config", path.to_str().unwrap(), "--listen", "127.0.0.1:9000"]);
        let loaded = Config::load(flags).unwrap();
        assert_eq!((loaded.node_id, loaded.listen.as_str()), (3, "127.0.0.1:9000"));
    }

    #[test]
    fn members_parse_from_flags() {
        assert_eq!(parse_member("2=127.0.0.1:7002").unwrap(), Member { id: 2, address: "127.0.0.1:7002".into() });
        assert!(parse_member("two=127.0.0.1:7002").is_err());
        assert!(parse_member("127.0.0.1:7002").is_err());
    }
}
