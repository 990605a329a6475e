//! Starting a node: storage, Raft, the gRPC server (the three services, the Raft transport,
//! health and reflection) and the background tasks; stopping it cleanly on a signal.

use crate::auth::{AuthLayer, Tokens};
use crate::config::{Config, TlsSettings};
use crate::leader_tasks;
use crate::limits::{PENDING_RESET_STREAMS_MAX, RAFT_MESSAGE_BYTES_MAX};
use crate::node::Node;
use crate::rich_errors::RichErrorsLayer;
use crate::service::{catalog::CatalogService, cluster::ClusterService, inventory::InventoryService};
use crate::telemetry;
use crate::telemetry::logs::LogControl;
use crate::telemetry::rpc::RpcMetricsLayer;
use crate::transport::{network::NetworkFactory, peers::Peers, service::RaftService};
use openraft::{BasicNode, Raft, SnapshotPolicy};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use stockraft_proto::FILE_DESCRIPTOR_SET;
use stockraft_proto::raft::raft_transport_server::RaftTransportServer;
use stockraft_proto::v1::catalog_server::CatalogServer;
use stockraft_proto::v1::cluster_server::ClusterServer;
use stockraft_proto::v1::inventory_server::InventoryServer;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open storage in {dir}: {source}")]
    Storage { dir: String, source: std::io::Error },
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: std::io::Error },
    #[error("raft: {0}")]
    Raft(String),
    #[error("gRPC server: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("tls: {0}")]
    Tls(String),
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("restore: {0}")]
    Restore(String),
}

/// The TLS settings' files, read.
struct TlsFiles {
    identity: Identity,
    ca: Certificate,
}

fn read_tls(tls: &TlsSettings) -> Result<TlsFiles, StartError> {
    let read = |what: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| StartError::Tls(format!("{what} {}: {e}", path.display())))
    };
    Ok(TlsFiles {
        identity: Identity::from_pem(read("cert", &tls.cert)?, read("key", &tls.key)?),
        ca: Certificate::from_pem(read("ca", &tls.ca)?),
    })
}

fn raft_config(config: &Config) -> Result<openraft::Config, StartError> {
    let r = &config.raft;
    openraft::Config {
        cluster_name: "stockraft".into(),
        heartbeat_interval: r.heartbeat_ms,
        election_timeout_min: r.election_timeout_min_ms,
        election_timeout_max: r.election_timeout_max_ms,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(r.snapshot_after_entries),
        max_in_snapshot_log_to_keep: r.logs_kept_after_snapshot,
        ..openraft::Config::default()
    }
    .validate()
    .map_err(|e| StartError::Raft(e.to_string()))
}

/// `stockd --restore FILE`: seeds this node's empty data dir from a backup before Raft starts
/// (see `stockraft_storage::restore`). Seed every voter of the new cluster from the same file,
/// with the same `members`; then start them as usual.
fn seed_from_backup(config: &Config, backup: &Path) -> Result<(), StartError> {
    let bytes =
        std::fs::read(backup).map_err(|e| StartError::Restore(format!("cannot read {}: {e}", backup.display())))?;
    let voters = config.initial_members().into_iter().map(|m| (m.id, BasicNode { addr: m.address })).collect();
    let seeded = stockraft_storage::restore::seed(&config.data_dir, bytes, voters)
        .map_err(|e| StartError::Restore(format!("{}: {e}", backup.display())))?;
    tracing::info!(
        backup = %backup.display(),
        log_index = seeded.log_index,
        image_bytes = seeded.image_bytes,
        holds = seeded.holds,
        members = ?config.initial_members().iter().map(|m| m.id).collect::<Vec<_>>(),
        "seeded from a backup"
    );
    Ok(())
}

/// A node that has opened its storage and bound its port, ready to serve.
pub struct Started {
    pub node: Arc<Node>,
    listener: TcpListener,
    config: Config,
    logs: Option<LogControl>,
    server_tls: Option<ServerTlsConfig>,
}

/// Opens storage, binds the ports and starts Raft; initialises a new cluster when configured
/// to. `logs` changes the log filter at runtime (the process's subscriber, when it owns one).
pub async fn start(config: Config, logs: Option<LogControl>) -> Result<Started, StartError> {
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|source| StartError::Listen { address: config.listen.clone(), source })?;
    if let Some(address) = &config.metrics_listen {
        let address = address.parse().map_err(|e| StartError::Metrics(format!("{address}: {e}")))?;
        telemetry::prometheus::install(address).map_err(|e| StartError::Metrics(e.to_string()))?;
    }
    if let Some(backup) = &config.restore {
        seed_from_backup(&config, backup)?;
    }
    let (log_store, state_machine) = stockraft_storage::open(&config.data_dir)
        .map_err(|source| StartError::Storage { dir: config.data_dir.display().to_string(), source })?;
    // The files are read once: the same identity and CA serve the port and reach the peers.
    let (server_tls, peer_tls) = match &config.tls {
        Some(tls) => {
            let files = read_tls(tls)?;
            let server = ServerTlsConfig::new()
                .identity(files.identity.clone())
                .client_ca_root(files.ca.clone())
                .client_auth_optional(!tls.require_client_cert);
            (Some(server), Some(ClientTlsConfig::new().ca_certificate(files.ca).identity(files.identity)))
        }
        None => (None, None),
    };
    let peers = Peers::new(config.source_ip, peer_tls, config.auth.peer.first().map(String::as_str));
    let network = NetworkFactory { id: config.node_id, peers: peers.clone() };
    let raft = Raft::new(config.node_id, Arc::new(raft_config(&config)?), network, log_store, state_machine.clone())
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;
    if config.bootstrap && !raft.is_initialized().await.map_err(|e| StartError::Raft(e.to_string()))? {
        let members: BTreeMap<u64, BasicNode> =
            config.initial_members().into_iter().map(|m| (m.id, BasicNode { addr: m.address })).collect();
        // "1=host:port,2=host:port": one plain field, in text and JSON logs alike.
        let listed: Vec<String> = members.iter().map(|(id, node)| format!("{id}={}", node.addr)).collect();
        tracing::info!(members = %listed.join(","), "initialising a new cluster");
        raft.initialize(members).await.map_err(|e| StartError::Raft(e.to_string()))?;
    }
    let node = Arc::new(Node::new(config.node_id, raft, state_machine, peers, config.batch_max));
    Ok(Started { node, listener, config, logs, server_tls })
}

impl Started {
    /// The bound address (useful with port 0).
    pub fn local_address(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops Raft.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
        let Started { node, listener, config, logs, server_tls } = self;
        let message_max = config.limits.message_bytes_max;
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| StartError::Raft(format!("reflection: {e}")))?;
        // v1alpha too: Python's grpcio-reflection, older grpcurl and Postman builds speak only it.
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .map_err(|e| StartError::Raft(format!("reflection: {e}")))?;

        let tasks = [
            tokio::spawn(leader_tasks::expire_timer(node.clone(), Duration::from_millis(config.expire_interval_ms))),
            tokio::spawn(leader_tasks::health(node.clone(), health_reporter)),
            tokio::spawn(leader_tasks::sample_metrics(node.clone(), config.data_dir.clone())),
            tokio::spawn(if config.demo_catalog {
                Box::pin(leader_tasks::demo_catalog(node.clone())) as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
            } else {
                Box::pin(async {})
            }),
        ];

        let watchers = Arc::new(Semaphore::new(config.limits.watchers_max));
        let inventory = InventoryServer::new(InventoryService {
            node: node.clone(),
            watchers,
            watchers_max: config.limits.watchers_max,
        })
        .max_decoding_message_size(message_max)
        .max_encoding_message_size(message_max);
        let catalog = CatalogServer::new(CatalogService { node: node.clone() })
            .max_decoding_message_size(message_max)
            .max_encoding_message_size(message_max);
        let cluster = ClusterServer::new(ClusterService { node: node.clone(), logs })
            .max_decoding_message_size(message_max)
            .max_encoding_message_size(message_max);
        let transport = RaftTransportServer::new(RaftService { raft: node.raft().clone() })
            .max_decoding_message_size(RAFT_MESSAGE_BYTES_MAX)
            .max_encoding_message_size(RAFT_MESSAGE_BYTES_MAX);

        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = server_tls {
            server = server.tls_config(tls).map_err(|e| StartError::Tls(e.to_string()))?;
        }
        let tokens = Tokens::new(&config.auth);
        tracing::info!(
            node = node.id(),
            listen = %config.listen,
            data_dir = %config.data_dir.display(),
            tls = config.tls.is_some(),
            auth = tokens.enabled(),
            metrics = config.metrics_listen.as_deref().unwrap_or("off"),
            "serving"
        );
        // Metrics outermost, so they count the code the client gets after rich errors rewrote it.
        let layers = tower::ServiceBuilder::new()
            .layer(RpcMetricsLayer)
            .layer(RichErrorsLayer { message_bytes_max: message_max })
            .layer(AuthLayer { tokens });
        // TCP_NODELAY on every accepted connection. (The builder's own `tcp_nodelay` applies only
        // to listeners tonic binds itself, not to an incoming stream: without this, a reply
        // written in two parts waited for the client's delayed ACK, 40 ms, which was the flat
        // p99 of unary reserves and every ReserveBatch of more than a few reserves.)
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let served = server
            .http2_max_pending_accept_reset_streams(Some(PENDING_RESET_STREAMS_MAX))
            .max_concurrent_streams(Some(config.limits.concurrent_streams_max))
            .layer(layers)
            .add_service(health_service)
            .add_service(reflection)
            .add_service(reflection_v1alpha)
            .add_service(inventory)
            .add_service(catalog)
            .add_service(cluster)
            .add_service(transport)
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await;
        for task in tasks {
            task.abort();
        }
        if let Err(e) = node.raft().shutdown().await {
            tracing::warn!(error = %e, "raft did not shut down cleanly");
        }
        tracing::info!(node = node.id(), "stopped");
        served.map_err(StartError::from)
    }
}
