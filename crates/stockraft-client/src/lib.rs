//! # stockraft-client: talking to a stockraft cluster from Rust
//!
//! [`Client`] holds one channel per known node and sends each call to the node most likely to
//! be the leader (any node works: followers forward, but the leader saves a hop). When a call
//! fails in a way that says "try elsewhere" (no leader yet, not the leader, node unreachable,
//! attempt timed out) it retries on the leader the error names, or the next node, with bounded
//! exponential backoff, until the call's deadline.
//!
//! Retries resend the *same* message. Every mutation carries a request id, and the ledger
//! answers a repeated id with the first outcome, so a retry after an unknown outcome (timeout,
//! leader died mid-write) can never apply a reserve twice. Build each mutation once with
//! [`new_request_id`] and pass it to a call; never mint a new id for a retry.
//!
//! ```no_run
//! # async fn demo() -> Result<(), stockraft_client::Error> {
//! use stockraft_client::{Client, Options, new_request_id, v1};
//! let client = Client::new(Options::new(["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]))?;
//! let request = v1::ReserveRequest {
//!     request_id: new_request_id(),
//!     hold_id: "order-1".into(),
//!     buyer_id: "alice".into(),
//!     lines: vec![v1::Line { sku_id: "moutai-flash".into(), quantity: 1 }],
//!     ..Default::default()
//! };
//! let hold = client.inventory(|mut c| { let r = request.clone(); async move { c.reserve(r).await } }).await?;
//! println!("held {} at log index {}", hold.hold_id, hold.log_index);
//! # Ok(()) }
//! ```

mod coalesce;

use coalesce::Coalescer;
use rand::Rng;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
pub use stockraft_proto::errors::error_detail;
pub use stockraft_proto::errors::reason;
pub use stockraft_proto::errors::reason_name;
use stockraft_proto::v1::catalog_client::CatalogClient;
use stockraft_proto::v1::cluster_client::ClusterClient;
use stockraft_proto::v1::inventory_client::InventoryClient;
pub use stockraft_proto::{FILE_DESCRIPTOR_SET, v1};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::{Interceptor, interceptor::InterceptedService};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Response, Status};

/// Sends one call with [`Client`]'s retries, building the request once so that every retry
/// resends the same request id: `call!(client, inventory, reserve, request)` is
/// `client.inventory(|mut c| { let r = request.clone(); async move { c.reserve(r).await } })`.
#[macro_export]
macro_rules! call {
    ($client:expr, $service:ident, $method:ident, $request:expr) => {{
        let request = $request;
        $client
            .$service(|mut c| {
                let r = request.clone();
                async move { c.$method(r).await }
            })
            .await
    }};
}

/// The largest reply the client accepts: the server's default message limit.
pub const MESSAGE_BYTES_MAX: usize = stockraft_proto::MESSAGE_BYTES_MAX_DEFAULT;

/// How calls are sent and retried.
#[derive(Clone, Debug)]
pub struct Options {
    /// `host:port` of each node to try (at least one).
    pub endpoints: Vec<String>,
    /// How long one attempt may take before it counts as failed (and is retried elsewhere).
    pub attempt_timeout: Duration,
    /// How long a call may take in all, retries included.
    pub deadline: Duration,
    /// Backoff between attempts: doubles from `backoff_min` up to `backoff_max`, with jitter.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub connect_timeout: Duration,
    /// Sent as `authorization: Bearer <token>` on every call (when the cluster has `[auth]` on).
    pub token: Option<String>,
    /// TLS to the nodes (when they have `[tls]` on).
    pub tls: Option<Tls>,
    /// [`Client::reserve`]: how many `ReserveBatch` calls may be in flight at once; calls that
    /// arrive meanwhile wait and go in the next batch.
    pub reserve_batches_in_flight: usize,
}

/// TLS settings for a client: the CA that signed the nodes' certificates, and this client's own
/// certificate and key when the nodes require one (`require_client_cert`).
#[derive(Clone, Debug)]
pub struct Tls {
    pub ca_pem: Vec<u8>,
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl Tls {
    /// Reads the CA and, when both are given, a certificate and key (PEM files).
    pub fn from_files(
        ca: &std::path::Path,
        identity: Option<(&std::path::Path, &std::path::Path)>,
    ) -> Result<Tls, Error> {
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))
        };
        let identity = match identity {
            Some((cert, key)) => Some((read(cert)?, read(key)?)),
            None => None,
        };
        Ok(Tls { ca_pem: read(ca)?, identity })
    }
}

impl Options {
    pub fn new<S: Into<String>>(endpoints: impl IntoIterator<Item = S>) -> Options {
        Options {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            // A write waits for an fsync and a replication round trip: milliseconds. Five seconds
            // covers a leader election (under a second) with room for a slow disk.
            attempt_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(15),
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_secs(1),
            connect_timeout: Duration::from_millis(500),
            token: None,
            tls: None,
            reserve_batches_in_flight: 2,
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The cluster answered, and the answer is final: a domain rejection (out of stock, limit
    /// exceeded, ...) or bad input. Retrying the same request gives the same answer.
    #[error("{}: {}", .0.code(), .0.message())]
    Rejected(Status),
    /// No node could serve the call before the deadline. A write's outcome is unknown: retry it
    /// with the same request id to learn it.
    #[error("cluster unreachable after {attempts} attempts: {last}")]
    Unavailable { attempts: u32, last: String },
    /// The options are unusable (no endpoints, a malformed address, a bad token or certificate).
    #[error("{0}")]
    Usage(String),
    /// The cluster may have applied the call, but its answer did not arrive whole: a reply larger
    /// than the message limit (either side's), or a server failure after deciding. Retrying with
    /// the same request id would meet the same reply; read the result back instead (GetHold,
    /// QueryLedger). Never a refusal: a checker counts it as an unknown outcome.
    #[error("outcome unknown: {}: {}", .0.code(), .0.message())]
    OutcomeUnknown(Status),
}

impl Error {
    /// The rejection's status, when the cluster gave a final answer.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Rejected(status) => Some(status),
            _ => None,
        }
    }

    /// The rejection's machine-readable reason (`Unspecified` for other errors).
    pub fn reason(&self) -> v1::Reason {
        self.status().map_or(v1::Reason::Unspecified, reason)
    }
}

/// A fresh request id: 128 random bits in hex. Mint one per logical operation, not per attempt.
pub fn new_request_id() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

/// Whether a failed attempt may be retried, on another node or later. Everything else is a
/// final answer from the cluster.
///
/// stockd gives every answer of its own an ErrorDetail with a reason, and the reason is
/// REASON_UNSPECIFIED only when the server failed without deciding anything. A status coded
/// Unknown, Internal or ResourceExhausted with that reason, or with no detail at all (then it
/// comes from the transport: an HTTP/2 stream reset when a connection is cut; a GOAWAY
/// ENHANCE_YOUR_CALM, h2's rapid-reset defence, which tonic reports as ResourceExhausted),
/// leaves the outcome unknown: the call may or may not have been applied, so it is retried
/// with the same request id, never reported as a refusal. (Found by the chaos runs: calls on a
/// connection torn down under them were reported as refused although some had been applied.)
pub fn retryable(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Aborted => true,
        // A reason this build does not know is still a reason: the server decided.
        Code::Unknown | Code::Internal | Code::ResourceExhausted => error_detail(status).is_none_or(|d| d.reason == 0),
        _ => false,
    }
}

/// Whether a failed call may have been applied although retrying cannot say: a status that
/// carries no stockd reason with a code that is not retried. OUT_OF_RANGE is the case that
/// happens: a reply over the message limit, refused by tonic's encoder on the server (which
/// stockd answers with reason UNSPECIFIED and says so) or its decoder here (no detail at all).
/// DATA_LOSS and FAILED_PRECONDITION without a reason are server failures of the same kind.
pub fn outcome_unknown(status: &Status) -> bool {
    matches!(status.code(), Code::OutOfRange | Code::DataLoss | Code::FailedPrecondition)
        && error_detail(status).is_none_or(|d| d.reason == 0)
}

/// Whether a failure is a TLS handshake refused for a reason of configuration, which no retry
/// mends: this client does not trust the node's certificate (or the node's name is not in it),
/// the node refused this client's certificate or asked for one, or one side speaks TLS and the
/// other does not. Only rustls's own words count: a connection merely cut mid-handshake
/// (which a partition also causes) is retried as before.
pub fn handshake_refused(failure: &str) -> bool {
    const REFUSALS: [&str; 9] = [
        "invalid peer certificate",
        "CertificateRequired",
        "UnknownIssuer",
        "NotValidForName",
        "BadSignature",
        "UnknownCA",
        "BadCertificate",
        "InvalidContentType",
        "CorruptMessage",
    ];
    REFUSALS.iter().any(|refusal| failure.contains(refusal))
}

/// Adds the bearer token to every call.
#[derive(Clone, Debug)]
pub struct Credentials {
    token: Option<MetadataValue<Ascii>>,
}

impl Interceptor for Credentials {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(token) = &self.token {
            request.metadata_mut().insert("authorization", token.clone());
        }
        Ok(request)
    }
}

/// A connection to one node, carrying the client's credentials.
pub type Transport = InterceptedService<Channel, Credentials>;

pub struct Client {
    shared: Arc<Shared>,
    /// The task behind [`Client::reserve`], started by its first call (it needs a runtime).
    reserves: OnceLock<Coalescer>,
}

/// What every call of a client uses: the options, the known nodes, the node to try first.
/// (Shared with the batching task behind [`Client::reserve`].)
struct Shared {
    options: Options,
    /// Known nodes, the configured endpoints first; leaders named by NOT_LEADER errors are added.
    nodes: Mutex<Vec<(String, Transport)>>,
    /// The node to try first: the last one that answered.
    preferred: AtomicUsize,
}

impl Client {
    /// A client for the cluster at `options.endpoints`. Connections open lazily, on first use.
    pub fn new(options: Options) -> Result<Client, Error> {
        if options.endpoints.is_empty() {
            return Err(Error::Usage("no endpoints given".into()));
        }
        let mut nodes = Vec::new();
        for address in &options.endpoints {
            nodes.push((address.clone(), channel(address, &options)?));
        }
        let shared = Shared { options, nodes: Mutex::new(nodes), preferred: AtomicUsize::new(0) };
        Ok(Client { shared: Arc::new(shared), reserves: OnceLock::new() })
    }

    pub fn options(&self) -> &Options {
        &self.shared.options
    }

    /// Takes a hold, packed with the reserves other tasks send meanwhile into one
    /// `ReserveBatch` call (see [`coalesce`]): the answer is the one a unary `Reserve` would
    /// give, and the request keeps its request id, so retries stay idempotent. Under light load
    /// a reserve goes at once, alone; under load, many share one round trip.
    pub async fn reserve(&self, request: v1::ReserveRequest) -> Result<v1::HoldReply, Error> {
        let shared = &self.shared;
        let coalescer =
            self.reserves.get_or_init(|| Coalescer::start(shared.clone(), shared.options.reserve_batches_in_flight));
        coalescer.reserve(request).await
    }

    /// Sends `call` to the cluster, retrying as described in the crate docs. `call` gets a
    /// channel to one node and must send the same message every time it is invoked.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, Error>
    where
        F: FnMut(Transport) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        self.shared.call(call).await
    }

    /// A call on the Inventory service (see [`Client::call`]).
    pub async fn inventory<T, F, Fut>(&self, mut call: F) -> Result<T, Error>
    where
        F: FnMut(InventoryClient<Transport>) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        self.call(|channel| call(InventoryClient::new(channel).max_decoding_message_size(MESSAGE_BYTES_MAX))).await
    }

    /// A call on the Catalog service (see [`Client::call`]).
    pub async fn catalog<T, F, Fut>(&self, mut call: F) -> Result<T, Error>
    where
        F: FnMut(CatalogClient<Transport>) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        self.call(|channel| call(CatalogClient::new(channel).max_decoding_message_size(MESSAGE_BYTES_MAX))).await
    }

    /// A call on the Cluster service (see [`Client::call`]).
    pub async fn cluster<T, F, Fut>(&self, mut call: F) -> Result<T, Error>
    where
        F: FnMut(ClusterClient<Transport>) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        self.call(|channel| call(ClusterClient::new(channel))).await
    }

    /// The status of one node, as that node sees it (no retries elsewhere).
    pub async fn node_status(&self, address: &str) -> Result<v1::ClusterStatus, Error> {
        let channel = channel(address, &self.shared.options)?;
        let mut cluster = ClusterClient::new(channel);
        match tokio::time::timeout(self.shared.options.attempt_timeout, cluster.status(v1::StatusRequest {})).await {
            Ok(Ok(reply)) => Ok(reply.into_inner()),
            Ok(Err(status)) => {
                Err(Error::Unavailable { attempts: 1, last: format!("{address}: {}", explain(&status)) })
            }
            Err(_) => Err(Error::Unavailable { attempts: 1, last: format!("{address}: no answer") }),
        }
    }

    /// A channel to one node, for calls that must go to that node (watches, per-node status).
    pub fn channel_to(&self, address: &str) -> Result<Transport, Error> {
        channel(address, &self.shared.options)
    }
}

impl Shared {
    fn node(&self, n: usize) -> (usize, String, Transport) {
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        let n = n % nodes.len();
        (n, nodes[n].0.clone(), nodes[n].1.clone())
    }

    /// The index of the node at `address`, added if new.
    fn node_at(&self, address: &str) -> Option<usize> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = nodes.iter().position(|(a, _)| a == address) {
            return Some(n);
        }
        let channel = channel(address, &self.options).ok()?;
        nodes.push((address.to_string(), channel));
        Some(nodes.len() - 1)
    }

    /// See [`Client::call`].
    async fn call<T, F, Fut>(&self, mut call: F) -> Result<T, Error>
    where
        F: FnMut(Transport) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        let started = Instant::now();
        let mut backoff = self.options.backoff_min;
        let mut next = self.preferred.load(Ordering::Relaxed);
        let mut attempts = 0;
        let mut last_failure = String::new();
        // Handshakes refused in a row: once every known node refused one, no retry can help.
        let mut refused_handshakes = 0;
        loop {
            attempts += 1;
            let (n, address, channel) = self.node(next);
            let remaining = self.options.deadline.saturating_sub(started.elapsed());
            if remaining.is_zero() && attempts > 1 {
                return Err(Error::Unavailable { attempts: attempts - 1, last: last_failure });
            }
            let budget = self.options.attempt_timeout.min(remaining);
            let status = match tokio::time::timeout(budget, call(channel)).await {
                Ok(Ok(reply)) => {
                    self.preferred.store(n, Ordering::Relaxed);
                    return Ok(reply.into_inner());
                }
                Ok(Err(status)) if outcome_unknown(&status) => return Err(Error::OutcomeUnknown(status)),
                Ok(Err(status)) if !retryable(&status) => return Err(Error::Rejected(status)),
                Ok(Err(status)) => status,
                Err(_) => Status::deadline_exceeded(format!("no answer from {address} within {budget:?}")),
            };
            tracing::debug!(node = %address, code = ?status.code(), message = status.message(), "attempt failed");
            last_failure = format!("{address}: {}: {}", status.code(), explain(&status));
            refused_handshakes = if handshake_refused(&last_failure) { refused_handshakes + 1 } else { 0 };
            if refused_handshakes >= self.nodes.lock().expect("nodes").len() {
                return Err(Error::Unavailable { attempts, last: last_failure });
            }
            // A node that knows the leader names it: go there next, at once.
            let hint = error_detail(&status)
                .filter(|d| !d.leader_address.is_empty())
                .and_then(|d| self.node_at(&d.leader_address));
            let remaining = self.options.deadline.saturating_sub(started.elapsed());
            if remaining.is_zero() {
                return Err(Error::Unavailable { attempts, last: last_failure });
            }
            match hint {
                Some(leader) if leader != n => next = leader,
                _ => {
                    next = n + 1;
                    let jitter = rand::rng().random_range(0..=backoff.as_millis() as u64 / 2);
                    tokio::time::sleep((backoff + Duration::from_millis(jitter)).min(remaining)).await;
                    backoff = (backoff * 2).min(self.options.backoff_max);
                }
            }
        }
    }
}

/// A status's message with the transport errors under it (a refused TLS handshake, a refused
/// connection), which tonic keeps as the status's source rather than in its message.
pub fn explain(status: &Status) -> String {
    let mut message = status.message().to_string();
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        // Transport errors repeat their cause in their own text ("tcp connect error: tcp
        // connect error: ..."): say each part once.
        let part = error.to_string();
        if !message.contains(&part) {
            message = format!("{message}: {part}");
        }
        source = error.source();
    }
    message
}

fn channel(address: &str, options: &Options) -> Result<Transport, Error> {
    let scheme = if options.tls.is_some() { "https" } else { "http" };
    let url = if address.contains("://") { address.to_string() } else { format!("{scheme}://{address}") };
    let mut endpoint = Endpoint::from_shared(url)
        .map_err(|e| Error::Usage(format!("endpoint {address:?}: {e}")))?
        .connect_timeout(options.connect_timeout)
        .tcp_nodelay(true);
    if let Some(tls) = &options.tls {
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
        if let Some((cert, key)) = &tls.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        endpoint = endpoint.tls_config(config).map_err(|e| Error::Usage(format!("tls: {e}")))?;
    }
    let token = match &options.token {
        Some(token) => Some(
            format!("Bearer {}", token.trim())
                .parse()
                .map_err(|_| Error::Usage("the token must be printable ASCII without spaces".into()))?,
        ),
        None => None,
    };
    Ok(InterceptedService::new(endpoint.connect_lazy(), Credentials { token }))
}
