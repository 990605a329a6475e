//! Every limit a node applies, in one place, with the reason for its value.
//!
//! These bound one node's work (queues, messages, waits, streams); none changes what a command
//! does, so none is replicated. The ledger's own limits, which every replica must share, are in
//! `stockraft_core::limits`. The ones an operator tunes per deployment (`batch_max`,
//! `expire_interval_ms`, `limits.message_bytes_max`, `limits.concurrent_streams_max`,
//! `limits.watchers_max`) are settings in `config.rs`; the ones here are compiled in because
//! they are protocol or safety bounds whose right value does not depend on the deployment:
//! changing one is a code change with a reason, not a knob.

use std::time::Duration;

// --- Writes: the proposer (`proposer.rs`) ---

/// Calls waiting for a batch. Beyond this, callers wait to enqueue (back-pressure): memory stays
/// bounded however many buyers arrive at once. 64 full batches' worth.
pub const PROPOSER_QUEUE_DEPTH: usize = 65_536;

/// Batches proposed and not yet applied. Enough to keep a pipeline of appends, fsyncs and
/// replication busy; more would only lengthen openraft's queue (and every call's wait in it).
pub const BATCHES_IN_FLIGHT_MAX: usize = 64;

// --- Calls: routing, forwarding, watching (`node.rs`, `service/`) ---

/// How long a forwarded call may take at the leader. Callers set their own deadlines; this
/// only stops a forwarded call from outliving any reasonable caller.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// SKUs one `WatchAvailability` may follow: a storefront page's worth; more is a second watch.
pub const WATCH_SKUS_MAX: usize = 1_000;

/// Orders one `WatchHolds` may follow: a platform's checkout server watching the orders it has
/// waiting; each applied entry looks every one of them up, so more is a second watch.
pub const WATCH_HOLDS_MAX: usize = 1_000;

/// Updates buffered per watcher. A watcher that falls this far behind waits; its updates
/// coalesce, so it always gets the latest figures, never a backlog of stale ones.
pub const WATCH_BUFFER_UPDATES: usize = 64;

/// How many streams a client may reset before the server reads them (h2's defence against the
/// HTTP/2 "rapid reset" attack, CVE-2023-44487; h2's default is 20). When a node stalls (a
/// pause, a partition) and then answers, a client whose 64+ calls on one connection hit their
/// deadlines resets them all at once; with the default, h2 then tears down the whole connection
/// with GOAWAY ENHANCE_YOUR_CALM, failing every other call on it too (found by the chaos runs).
/// 1,024 covers a busy order platform's connection and still bounds the attack.
pub const PENDING_RESET_STREAMS_MAX: usize = 1_024;

/// Bounds of the `limits.message_bytes_max` setting: a Raft append of `batch_max` reserves needs
/// about 1 MiB; above 256 MiB one message could take a node's memory with it. (Its default is
/// `stockraft_proto::MESSAGE_BYTES_MAX_DEFAULT`, which the client shares.)
pub const MESSAGE_BYTES_SETTING_MIN: usize = 1 << 20;
pub const MESSAGE_BYTES_SETTING_MAX: usize = 256 << 20;

/// The shortest bearer token accepted: 16 characters, 80+ bits even as hex.
pub const TOKEN_CHARS_MIN: usize = 16;

// --- Operations (`service/cluster.rs`) ---

/// How long TransferLeader waits for the new leader to take over: a few election rounds.
pub const TRANSFER_LEADER_WAIT: Duration = Duration::from_secs(5);

/// How long AddLearner waits for the learner to catch up when asked to: a snapshot of a large
/// ledger plus the log after it, on a slow disk.
pub const LEARNER_CATCH_UP_WAIT: Duration = Duration::from_secs(60);

/// How long TriggerSnapshot and SaveSnapshot wait for a snapshot to be built and saved
/// (1,000,000 open holds take a few seconds; this leaves room for a loaded disk).
pub const SNAPSHOT_BUILD_WAIT: Duration = Duration::from_secs(120);

/// A backup streams in parts of this size: below the smallest `limits.message_bytes_max`.
pub const BACKUP_PART_BYTES: usize = 512 << 10;

/// Backup parts read ahead of the client: keeps the disk and the network both busy without
/// buffering a whole snapshot for a slow reader.
pub const BACKUP_PARTS_AHEAD: usize = 4;

// --- The Raft transport (`transport/`) ---

/// The largest Raft transport message a node accepts or sends: an append of `batch_max`
/// reserves is about 1 MiB and snapshots travel in 1 MiB chunks. Independent of the client
/// services' `limits.message_bytes_max`, so a small client limit cannot stall replication.
pub const RAFT_MESSAGE_BYTES_MAX: usize = 16 << 20;

/// Snapshot chunks: large enough to amortise per-message cost, small enough for gRPC's default
/// 4 MiB message limit.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;

/// The largest snapshot image a node accepts (a guard against a runaway stream, far above any
/// real ledger: 1,000,000 SKUs and holds encode to a few hundred MiB).
pub const SNAPSHOT_BYTES_MAX: usize = 8 << 30;

/// A snapshot transfer may take this long plus one second per [`SNAPSHOT_BYTES_PER_SECOND`].
pub const SNAPSHOT_TIMEOUT_BASE: Duration = Duration::from_secs(10);

/// A deliberately low throughput assumption for sizing the snapshot deadline (loopback and
/// datacentre links are far faster; a slow disk on the receiver is not).
pub const SNAPSHOT_BYTES_PER_SECOND: u64 = 8 << 20;

/// How long to wait for a TCP connection to a peer before the RPC fails as unreachable: well
/// under an election timeout, so a dead peer is noticed before the next heartbeat is due.
pub const PEER_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a follower may take to answer an append it was sent on the pipelined stream before
/// the leader gives up on the stream and starts another. An answer waits for the follower's
/// fsync, which a loaded disk (or a snapshot being written beside it) can stretch far past a
/// heartbeat: openraft's per-call TTL (the heartbeat interval, 100 ms) cut streams under the
/// `holds` workload and replication stalled. Only a stream with appends unanswered is timed;
/// an idle one waits for entries as long as it likes.
pub const PEER_ANSWER_WAIT: Duration = Duration::from_secs(5);

/// How long appends to a peer that answered the pipelined stream with UNIMPLEMENTED (an older
/// stockd during a rolling upgrade) go one unary call at a time before the stream is tried
/// again: long enough that the failed attempt (one round trip) costs nothing, short enough that
/// an upgraded peer is pipelined again within a minute.
pub const PEER_STREAM_RETRY_AFTER: Duration = Duration::from_secs(30);

/// HTTP/2 pings keep idle peer connections known-alive through NATs and detect dead peers.
pub const PEER_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

// --- Background work (`leader_tasks.rs`) ---

/// How often gauges are read from Raft's metrics and the ledger. Scrapes are seconds apart;
/// sampling is a lock-free read of Raft's metrics and one short ledger read lock.
pub const METRICS_SAMPLE_INTERVAL: Duration = Duration::from_millis(500);

/// How often the data dir's size and free space are sampled: a walk of a few dozen RocksDB
/// files and one statvfs. Disks fill over minutes, alerts look at 30-minute trends.
pub const DISK_SAMPLE_INTERVAL: Duration = Duration::from_secs(10);

/// How often health re-reads the leadership view between Raft's metric changes: a leader
/// whose quorum died sees no change at all, only its quorum lease ageing, and must flip to
/// NOT_SERVING within an election timeout (600 ms by default) of the lease lapsing. A read of
/// Raft's metrics, nothing more.
pub const LEADERSHIP_RECHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Between two attempts to load the demo catalog. Right after an election openraft may report
/// leadership before it accepts writes, and metrics change many times a millisecond then.
pub const DEMO_RETRY_PAUSE: Duration = Duration::from_millis(50);

const _: () = assert!(BACKUP_PART_BYTES < MESSAGE_BYTES_SETTING_MIN, "a backup part must fit every message limit");
const _: () = assert!(SNAPSHOT_CHUNK_BYTES < RAFT_MESSAGE_BYTES_MAX, "a snapshot chunk must fit a Raft message");
const _: () = assert!(
    PROPOSER_QUEUE_DEPTH >= stockraft_core::limits::RESERVE_BATCH_MAX,
    "the queue must hold at least one full batch"
);
