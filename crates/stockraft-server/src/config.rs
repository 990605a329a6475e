//! stockd's configuration: a TOML file, overridden by environment variables (`STOCKD_*`), then
//! by flags. [`Config::validate`] refuses a bad configuration with a message that names the
//! setting, before anything is opened or bound.

use crate::limits::{MESSAGE_BYTES_SETTING_MAX, MESSAGE_BYTES_SETTING_MIN, TOKEN_CHARS_MIN};
use crate::telemetry::logs::LogFormat;
use clap::Parser;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

/// One cluster member: its node id and the address peers and clients reach it at.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub id: u64,
    pub address: String,
}

/// Raft timing and log-compaction settings.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
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

/// TLS on the node's port, for clients and peers alike, and on its connections to peers.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// This node's certificate chain (PEM): shown to clients, and to peers as a client certificate.
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA certificate (PEM) the cluster's certificates are signed by. Peers must present a
    /// certificate it signed before the Raft transport answers them (mutual TLS between nodes),
    /// and clients that present one are checked against it.
    pub ca: PathBuf,
    /// Refuse, at the TLS handshake, every client without a certificate signed by `ca` (mutual
    /// TLS for clients too). Off: clients need only trust `ca` (and hold a token when `[auth]` is on).
    #[serde(default)]
    pub require_client_cert: bool,
}

/// Bearer tokens by role. A call must carry `authorization: Bearer <token>` of a role allowed to
/// make it; the roles and what they may call are in `crate::auth`. Empty everywhere: auth is off.
/// Each list is replaced by its environment variable when set (`STOCKD_AUTH_ORDER`, ...;
/// comma-separated), so that secrets can stay out of files and never appear on a command line.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Order platforms: the Inventory service.
    pub order: Vec<String>,
    /// Back office, ERP and bulk import: the Catalog service and Inventory's reads.
    pub backoffice: Vec<String>,
    /// SREs: the Cluster service (status, membership, snapshots, backups, log filter).
    pub operator: Vec<String>,
    /// Node to node: the Raft transport. A node sends the first; required when auth is on.
    pub peer: Vec<String>,
}

/// Printed (`--print-config`), every token is `<redacted>`: the count shows, the secret does not,
/// and a printed file fed back is refused (the placeholder is too short to be a token).
impl Serialize for AuthSettings {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut table = serializer.serialize_struct("AuthSettings", 4)?;
        for (role, tokens) in self.roles() {
            table.serialize_field(role, &vec![REDACTED; tokens.len()])?;
        }
        table.end()
    }
}

/// What a token prints as.
pub const REDACTED: &str = "<redacted>";

/// Never print a secret: tokens show as their count.
impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("order", &self.order.len())
            .field("backoffice", &self.backoffice.len())
            .field("operator", &self.operator.len())
            .field("peer", &self.peer.len())
            .finish()
    }
}

impl AuthSettings {
    pub fn enabled(&self) -> bool {
        !(self.order.is_empty() && self.backoffice.is_empty() && self.operator.is_empty() && self.peer.is_empty())
    }

    /// The role lists with their names, for validation and lookup.
    pub fn roles(&self) -> [(&'static str, &[String]); 4] {
        [("order", &self.order), ("backoffice", &self.backoffice), ("operator", &self.operator), ("peer", &self.peer)]
    }
}

/// Limits on what one client may ask of a node.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// The largest gRPC message accepted or sent, in bytes: larger ones are refused with
    /// OUT_OF_RANGE ("decoded message length too large") before they are decoded. A full reserve batch or ledger page fits.
    pub message_bytes_max: usize,
    /// Calls in flight on one client connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); more
    /// wait in the client until one finishes.
    pub concurrent_streams_max: u32,
    /// `WatchAvailability` streams open on this node at once; the next is refused with
    /// RESOURCE_EXHAUSTED until one closes.
    pub watchers_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            message_bytes_max: stockraft_proto::MESSAGE_BYTES_MAX_DEFAULT,
            concurrent_streams_max: 1_024,
            watchers_max: 10_000,
        }
    }
}

/// The node's configuration, as a TOML file spells it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
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
    /// The log filter (`info`, `stockraft_server=debug,openraft=warn`, ...); changeable at runtime.
    pub log: String,
    /// `human` (default) or `json`.
    pub log_format: LogFormat,
    /// Where Prometheus scrapes `/metrics` (HTTP, an `IP:port` of its own); none: not served.
    pub metrics_listen: Option<String>,
    pub raft: RaftSettings,
    pub tls: Option<TlsSettings>,
    pub auth: AuthSettings,
    pub limits: Limits,
    /// Seed a new node from this backup (`stockctl snapshot save`) before it starts; refused
    /// unless the data dir is empty. Every voter of the new cluster restores the same file.
    #[serde(skip)]
    pub restore: Option<PathBuf>,
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
            log_format: LogFormat::Human,
            metrics_listen: None,
            raft: RaftSettings::default(),
            tls: None,
            auth: AuthSettings::default(),
            limits: Limits::default(),
            restore: None,
        }
    }
}

// Command-line flags. Every setting of the file has one, named by its TOML path (`raft.heartbeat_ms`
// is `--raft-heartbeat-ms`), and each reads its `STOCKD_*` variable (`STOCKD_RAFT_HEARTBEAT_MS`);
// flags win over the environment, which wins over the file. Tokens are the exception: they are
// secrets, so they come from the file or `STOCKD_AUTH_*` only, never from a command line.
//
// Layering is clap's own (`env = ...`), not a configuration crate: the flags must exist for
// `--help` anyway, and clap already reads each variable beside its flag, so a second layer
// (figment, config-rs) would read every variable twice and spell nested keys with `__`.
#[derive(Debug, Parser)]
#[command(
    name = "stockd",
    version,
    about = "A stockraft node: the Raft-replicated stock ledger behind a gRPC API.",
    after_help = "Secrets: STOCKD_AUTH_ORDER, STOCKD_AUTH_BACKOFFICE, STOCKD_AUTH_OPERATOR and STOCKD_AUTH_PEER \
                  (comma-separated bearer tokens; environment or the file's [auth] table only). \
                  --print-config shows the effective configuration with them redacted."
)]
pub struct Flags {
    /// A TOML configuration file (see cluster/node1.toml).
    #[arg(long, short, env = "STOCKD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration (file, environment and flags merged; tokens redacted)
    /// as TOML, and exit.
    #[arg(long)]
    pub print_config: bool,
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
    /// A cluster member as ID=HOST:PORT (repeat for each, or comma-separate them in the
    /// variable; replaces the file's members).
    #[arg(long = "member", value_name = "ID=HOST:PORT", env = "STOCKD_MEMBERS", value_delimiter = ',')]
    pub members: Vec<String>,
    /// Load the demo catalog into an empty ledger.
    #[arg(long, env = "STOCKD_DEMO_CATALOG")]
    pub demo_catalog: bool,
    /// How often the leader expires holds past their TTL, in ms [default: 1000].
    #[arg(long, env = "STOCKD_EXPIRE_INTERVAL_MS", value_name = "MS")]
    pub expire_interval_ms: Option<u64>,
    /// The most client requests the leader packs into one Raft entry [default: 1024].
    #[arg(long, env = "STOCKD_BATCH_MAX", value_name = "N")]
    pub batch_max: Option<usize>,
    /// Log filter, e.g. info or stockraft_server=debug.
    #[arg(long, env = "STOCKD_LOG")]
    pub log: Option<String>,
    /// human (default) or json: one JSON object per line, with the request's ids.
    #[arg(long, env = "STOCKD_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// IP:port to serve Prometheus metrics on (/metrics).
    #[arg(long, env = "STOCKD_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Seed this new node's empty data dir from a backup (stockctl snapshot save), then start.
    #[arg(long, value_name = "FILE", env = "STOCKD_RESTORE")]
    pub restore: Option<PathBuf>,

    /// The leader's heartbeat period [default: 100].
    #[arg(long, env = "STOCKD_RAFT_HEARTBEAT_MS", value_name = "MS", help_heading = "Raft")]
    pub raft_heartbeat_ms: Option<u64>,
    /// An election starts after a random silence in [min, max) [default: 300].
    #[arg(long, env = "STOCKD_RAFT_ELECTION_TIMEOUT_MIN_MS", value_name = "MS", help_heading = "Raft")]
    pub raft_election_timeout_min_ms: Option<u64>,
    /// The election window's end; also how long a leader leads without a quorum's ack [default: 600].
    #[arg(long, env = "STOCKD_RAFT_ELECTION_TIMEOUT_MAX_MS", value_name = "MS", help_heading = "Raft")]
    pub raft_election_timeout_max_ms: Option<u64>,
    /// Build a snapshot after this many applied entries [default: 100000].
    #[arg(long, env = "STOCKD_RAFT_SNAPSHOT_AFTER_ENTRIES", value_name = "N", help_heading = "Raft")]
    pub raft_snapshot_after_entries: Option<u64>,
    /// Log entries kept behind a snapshot for lagging followers [default: 10000].
    #[arg(long, env = "STOCKD_RAFT_LOGS_KEPT_AFTER_SNAPSHOT", value_name = "N", help_heading = "Raft")]
    pub raft_logs_kept_after_snapshot: Option<u64>,

    /// This node's certificate chain (PEM); with --tls-key and --tls-ca, turns TLS on.
    #[arg(long, env = "STOCKD_TLS_CERT", value_name = "FILE", help_heading = "TLS")]
    pub tls_cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, env = "STOCKD_TLS_KEY", value_name = "FILE", help_heading = "TLS")]
    pub tls_key: Option<PathBuf>,
    /// The cluster's CA certificate (PEM): peers must present a certificate it signed.
    #[arg(long, env = "STOCKD_TLS_CA", value_name = "FILE", help_heading = "TLS")]
    pub tls_ca: Option<PathBuf>,
    /// Refuse clients without a certificate signed by the CA (mutual TLS for clients too).
    #[arg(long, env = "STOCKD_TLS_REQUIRE_CLIENT_CERT", help_heading = "TLS")]
    pub tls_require_client_cert: bool,

    /// The largest gRPC message accepted or sent, in bytes [default: 16777216].
    #[arg(long, env = "STOCKD_LIMITS_MESSAGE_BYTES_MAX", value_name = "BYTES", help_heading = "Limits")]
    pub limits_message_bytes_max: Option<usize>,
    /// Calls in flight on one client connection [default: 1024].
    #[arg(long, env = "STOCKD_LIMITS_CONCURRENT_STREAMS_MAX", value_name = "N", help_heading = "Limits")]
    pub limits_concurrent_streams_max: Option<u32>,
    /// WatchAvailability streams open on this node at once [default: 10000].
    #[arg(long, env = "STOCKD_LIMITS_WATCHERS_MAX", value_name = "N", help_heading = "Limits")]
    pub limits_watchers_max: Option<usize>,
}

/// `slot = value` when the flag or its variable was given.
fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// Never toml's own text: it quotes the offending line, which may hold a token.
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(message.into())
}

impl Config {
    /// The file (if any), then the environment and flags over it; validated. With
    /// `--print-config` the data dir is neither created nor probed (printing changes nothing).
    pub fn load(flags: Flags) -> Result<Config, ConfigError> {
        let mut config = match &flags.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        set(&mut config.node_id, flags.node_id);
        set(&mut config.listen, flags.listen);
        set(&mut config.advertise, flags.advertise.map(Some));
        set(&mut config.source_ip, flags.source_ip.map(Some));
        set(&mut config.data_dir, flags.data_dir);
        config.bootstrap |= flags.bootstrap;
        config.demo_catalog |= flags.demo_catalog;
        set(&mut config.expire_interval_ms, flags.expire_interval_ms);
        set(&mut config.batch_max, flags.batch_max);
        set(&mut config.log, flags.log);
        set(&mut config.log_format, flags.log_format);
        set(&mut config.metrics_listen, flags.metrics_listen.map(Some));
        config.restore = flags.restore;
        let raft = &mut config.raft;
        set(&mut raft.heartbeat_ms, flags.raft_heartbeat_ms);
        set(&mut raft.election_timeout_min_ms, flags.raft_election_timeout_min_ms);
        set(&mut raft.election_timeout_max_ms, flags.raft_election_timeout_max_ms);
        set(&mut raft.snapshot_after_entries, flags.raft_snapshot_after_entries);
        set(&mut raft.logs_kept_after_snapshot, flags.raft_logs_kept_after_snapshot);
        let limits = &mut config.limits;
        set(&mut limits.message_bytes_max, flags.limits_message_bytes_max);
        set(&mut limits.concurrent_streams_max, flags.limits_concurrent_streams_max);
        set(&mut limits.watchers_max, flags.limits_watchers_max);
        config.tls = tls_over(config.tls.take(), flags.tls_cert, flags.tls_key, flags.tls_ca)?;
        if flags.tls_require_client_cert {
            let tls = config.tls.as_mut().ok_or_else(|| invalid("--tls-require-client-cert needs TLS on"))?;
            tls.require_client_cert = true;
        }
        config.auth.from_environment(|name| std::env::var(name).ok());
        if !flags.members.is_empty() {
            config.members = flags.members.iter().map(|m| parse_member(m)).collect::<Result<_, _>>()?;
        }
        if flags.print_config {
            config.validate_settings()?;
        } else {
            config.validate()?;
        }
        Ok(config)
    }

    /// The effective configuration as TOML, the format of the file, with every token redacted.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a configuration always serializes")
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: parse_message(&e, &text) })
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
        self.validate_settings()?;
        check_data_dir(&self.data_dir)
    }

    /// Checks every setting without touching the data dir.
    pub fn validate_settings(&self) -> Result<(), ConfigError> {
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
        if let Some(metrics) = &self.metrics_listen {
            let address = metrics
                .parse::<SocketAddr>()
                .map_err(|e| invalid(format!("metrics_listen {metrics:?} is not an IP:port address: {e}")))?;
            if address.to_string() == self.listen {
                return Err(invalid(
                    "metrics_listen must differ from listen (metrics are plain HTTP on their own port)",
                ));
            }
        }
        if let Some(tls) = &self.tls {
            tls.validate()?;
        }
        self.auth.validate()?;
        let l = &self.limits;
        if !(MESSAGE_BYTES_SETTING_MIN..=MESSAGE_BYTES_SETTING_MAX).contains(&l.message_bytes_max) {
            return Err(invalid(format!(
                "limits.message_bytes_max must be {MESSAGE_BYTES_SETTING_MIN} to {MESSAGE_BYTES_SETTING_MAX} bytes"
            )));
        }
        if l.concurrent_streams_max == 0 || l.watchers_max == 0 {
            return Err(invalid("limits.concurrent_streams_max and limits.watchers_max must be at least 1"));
        }
        if let Some(backup) = &self.restore
            && !backup.is_file()
        {
            return Err(invalid(format!("--restore {}: no such file", backup.display())));
        }
        Ok(())
    }
}

impl AuthSettings {
    /// Replaces each role's tokens with `STOCKD_AUTH_<ROLE>` (comma-separated) when it is set.
    pub fn from_environment(&mut self, var: impl Fn(&str) -> Option<String>) {
        for (role, tokens) in [
            ("ORDER", &mut self.order),
            ("BACKOFFICE", &mut self.backoffice),
            ("OPERATOR", &mut self.operator),
            ("PEER", &mut self.peer),
        ] {
            if let Some(value) = var(&format!("STOCKD_AUTH_{role}")) {
                *tokens = value.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect();
            }
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = BTreeSet::new();
        for (role, tokens) in self.roles() {
            for token in tokens {
                if token.len() < TOKEN_CHARS_MIN {
                    return Err(invalid(format!(
                        "auth.{role}: a token is shorter than {TOKEN_CHARS_MIN} characters (too easy to guess)"
                    )));
                }
                if !token.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(invalid(format!("auth.{role}: tokens are printable ASCII without spaces")));
                }
                if !seen.insert(token.as_str()) {
                    return Err(invalid(format!("auth.{role}: a token is given to two roles; each needs its own")));
                }
            }
        }
        if self.enabled() && self.peer.is_empty() {
            return Err(invalid("auth.peer: with auth on, nodes need a peer token to talk to each other"));
        }
        Ok(())
    }
}

impl TlsSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        for (what, path) in [("cert", &self.cert), ("key", &self.key), ("ca", &self.ca)] {
            let text = std::fs::read_to_string(path)
                .map_err(|e| invalid(format!("tls.{what} {}: cannot read: {e}", path.display())))?;
            if !text.contains("-----BEGIN ") {
                return Err(invalid(format!("tls.{what} {}: not a PEM file", path.display())));
            }
        }
        Ok(())
    }
}

/// TLS from the file, with `--tls-*` over it. Without a file's `[tls]`, the flags turn TLS on
/// and must name all three files.
fn tls_over(
    file: Option<TlsSettings>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    ca: Option<PathBuf>,
) -> Result<Option<TlsSettings>, ConfigError> {
    match file {
        Some(mut tls) => {
            set(&mut tls.cert, cert);
            set(&mut tls.key, key);
            set(&mut tls.ca, ca);
            Ok(Some(tls))
        }
        None => match (cert, key, ca) {
            (None, None, None) => Ok(None),
            (Some(cert), Some(key), Some(ca)) => Ok(Some(TlsSettings { cert, key, ca, require_client_cert: false })),
            (cert, key, ca) => {
                let missing: Vec<&str> =
                    [("--tls-cert", cert.is_none()), ("--tls-key", key.is_none()), ("--tls-ca", ca.is_none())]
                        .into_iter()
                        .filter_map(|(flag, missing)| missing.then_some(flag))
                        .collect();
                Err(invalid(format!("TLS needs a certificate, its key and the CA: pass {}", missing.join(" and "))))
            }
        },
    }
}

/// toml's error without the quoted source line, and with quoted values (serde writes
/// `invalid type: string "..."`) replaced: a mistyped `[auth]` table must not print its tokens.
fn parse_message(error: &toml::de::Error, text: &str) -> String {
    let mut message = String::new();
    for (n, part) in error.message().split('"').enumerate() {
        message.push_str(if n % 2 == 1 { "\"<redacted>\"" } else { part });
    }
    if let Some(span) = error.span() {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
        message.push_str(&format!(" (line {line}, column {column})"));
    }
    message
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

    fn with_auth(dir: &Path) -> Config {
        let mut c = config(dir);
        c.auth = AuthSettings {
            order: vec!["order-token-0123456789".into()],
            backoffice: vec!["office-token-0123456789".into()],
            operator: vec!["operator-token-0123456789".into()],
            peer: vec!["peer-token-0123456789".into()],
        };
        c
    }

    #[test]
    fn tokens_must_be_long_distinct_and_printable_and_nodes_need_a_peer_token() {
        let dir = tempfile::tempdir().unwrap();
        with_auth(dir.path()).validate().unwrap();
        let mut c = with_auth(dir.path());
        c.auth.order = vec!["short".into()];
        assert!(error(&c).contains("auth.order: a token is shorter than 16"), "{}", error(&c));
        let mut c = with_auth(dir.path());
        c.auth.operator = vec!["order-token-0123456789".into()];
        assert!(error(&c).contains("given to two roles"), "{}", error(&c));
        let mut c = with_auth(dir.path());
        c.auth.backoffice = vec!["office token 0123456789".into()];
        assert!(error(&c).contains("printable ASCII"), "{}", error(&c));
        let mut c = with_auth(dir.path());
        c.auth.peer.clear();
        assert!(error(&c).contains("auth.peer"), "{}", error(&c));
    }

    #[test]
    fn tokens_come_from_the_environment_over_the_file_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = with_auth(dir.path());
        c.auth.from_environment(|name| match name {
            "STOCKD_AUTH_ORDER" => Some(" order-a-0123456789abcdef , order-b-0123456789abcdef ".into()),
            _ => None,
        });
        assert_eq!(c.auth.order, ["order-a-0123456789abcdef", "order-b-0123456789abcdef"]);
        assert_eq!(c.auth.operator, ["operator-token-0123456789"], "roles without a variable keep the file's");
        let shown = format!("{c:?}");
        assert!(!shown.contains("0123456789"), "a token leaked into Debug output: {shown}");
    }

    #[test]
    fn tls_files_must_exist_and_be_pem_and_limits_must_be_sane() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        let pem = dir.path().join("cert.pem");
        std::fs::write(&pem, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let not_pem = dir.path().join("key.der");
        std::fs::write(&not_pem, [0u8, 1, 2]).unwrap();
        c.tls = Some(TlsSettings {
            cert: pem.clone(),
            key: not_pem,
            ca: dir.path().join("missing.pem"),
            require_client_cert: true,
        });
        assert!(error(&c).contains("tls.key") && error(&c).contains("not a PEM file"), "{}", error(&c));
        c.tls.as_mut().unwrap().key = pem.clone();
        assert!(error(&c).contains("tls.ca") && error(&c).contains("cannot read"), "{}", error(&c));

        let mut c = config(dir.path());
        c.limits.message_bytes_max = 1_000;
        assert!(error(&c).contains("limits.message_bytes_max"), "{}", error(&c));
        let mut c = config(dir.path());
        c.limits.watchers_max = 0;
        assert!(error(&c).contains("watchers_max"), "{}", error(&c));
        let mut c = config(dir.path());
        c.metrics_listen = Some(c.listen.clone());
        assert!(error(&c).contains("metrics_listen must differ"), "{}", error(&c));
        c.metrics_listen = Some("nowhere".into());
        assert!(error(&c).contains("metrics_listen \"nowhere\""), "{}", error(&c));
    }

    #[test]
    fn every_setting_has_a_flag_and_flags_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, format!("data_dir = {:?}\nbatch_max = 7\n[raft]\nheartbeat_ms = 40\n", dir.path()))
            .unwrap();
        let flags = Flags::parse_from([
            "stockd",
            "--config",
            path.to_str().unwrap(),
            "--raft-heartbeat-ms",
            "50",
            "--raft-election-timeout-min-ms",
            "500",
            "--raft-election-timeout-max-ms",
            "900",
            "--expire-interval-ms",
            "250",
            "--limits-watchers-max",
            "3",
            "--member",
            "1=127.0.0.1:7001,2=127.0.0.1:7002",
        ]);
        let c = Config::load(flags).unwrap();
        assert_eq!(
            (c.raft.heartbeat_ms, c.raft.election_timeout_min_ms, c.raft.election_timeout_max_ms),
            (50, 500, 900)
        );
        assert_eq!(
            (c.batch_max, c.expire_interval_ms, c.limits.watchers_max),
            (7, 250, 3),
            "the file's batch_max stays"
        );
        assert_eq!(c.members.len(), 2, "members comma-separated, as STOCKD_MEMBERS spells them");
    }

    #[test]
    fn tls_flags_name_what_is_missing_and_override_the_files_paths() {
        assert_eq!(tls_over(None, None, None, None).unwrap(), None);
        let message = tls_over(None, Some("c.pem".into()), None, None).unwrap_err().to_string();
        assert_eq!(message, "TLS needs a certificate, its key and the CA: pass --tls-key and --tls-ca");
        let file = TlsSettings { cert: "a".into(), key: "b".into(), ca: "c".into(), require_client_cert: true };
        let over = tls_over(Some(file), None, Some("k.pem".into()), None).unwrap().unwrap();
        assert_eq!((over.key.to_str(), over.cert.to_str(), over.require_client_cert), (Some("k.pem"), Some("a"), true));
    }

    #[test]
    fn the_printed_configuration_reads_back_as_the_same_file_but_for_its_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = with_auth(dir.path());
        c.members = vec![Member { id: 1, address: "127.0.0.1:7001".into() }];
        c.metrics_listen = Some("127.0.0.1:9100".into());
        let printed = c.to_toml();
        assert!(!printed.contains("0123456789"), "a token leaked: {printed}");
        assert!(printed.contains("[raft]") && printed.contains("heartbeat_ms = 100"), "{printed}");
        let back: Config = toml::from_str(&printed).unwrap();
        assert_eq!(back.auth.order, [REDACTED], "one placeholder per token");
        assert_eq!(Config { auth: c.auth.clone(), ..back.clone() }, c, "everything else reads back unchanged");
        assert!(back.validate().unwrap_err().to_string().contains("shorter than"), "placeholders are not tokens");
    }

    #[test]
    fn a_mistyped_auth_table_is_refused_without_printing_its_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            "node_id = 1\n[auth]\npeer = \"peer-secret-0123456789\"\norders = [\"order-secret-0123456789\"]\n",
        )
        .unwrap();
        let message = Config::from_file(&path).unwrap_err().to_string();
        assert!(!message.contains("secret"), "a token was printed: {message}");
        assert!(message.contains("(line 4, column 1)"), "where the mistake is, instead: {message}");
    }
}
