//! The one door for Raft writes. Every command a node proposes passes [`Proposer`], and only
//! [`write`] calls openraft's `client_write`: it stamps the command with the leader's clock,
//! which is where log time is decided, and unpacks storage's answer into the ledger's outcome.
//!
//! Two entries:
//! - [`Proposer::propose`]: client requests, batched. Calls queue for one task that packs
//!   whatever is waiting, up to `batch_max` requests, into one `Batch` command and proposes it
//!   while the next batch gathers behind it. Under load one fsync and one replication round
//!   trip serve hundreds of reserves; with a single caller a batch is that one request. A batch
//!   is one log entry: it commits or is lost as a whole, and its requests are applied in
//!   order, each with its own outcome (one request's rejection does not affect the others).
//! - [`Proposer::propose_alone`]: commands that must travel alone ([`Alone`]): an
//!   all-or-nothing import, whose requests stand or fall together, and `Expire`.
//!
//! Bounds: [`PROPOSER_QUEUE_DEPTH`] calls wait at most (then callers wait to enqueue), and
//! [`BATCHES_IN_FLIGHT_MAX`] batches are proposed and not yet applied at once.

use crate::limits::{BATCHES_IN_FLIGHT_MAX, PROPOSER_QUEUE_DEPTH};
use openraft::error::{ClientWriteError, ForwardToLeader, RaftError};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use stockraft_core::{Applied, Command, CommandBody, Outcome, Request};
use stockraft_proto::errors::{not_leader, unavailable};
use stockraft_storage::{Response, StateMachineStore, TypeConfig};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tonic::Status;

/// The openraft node type of stockd.
pub type StockRaft = openraft::Raft<TypeConfig, StateMachineStore>;

/// A failed `client_write` (also what openraft's membership changes return).
pub type RaftWriteError = RaftError<TypeConfig, ClientWriteError<TypeConfig>>;

/// A log index and the outcome of each request proposed in the entry at that index.
type Written = Result<(u64, Vec<Outcome>), Status>;

/// Commands proposed as entries of their own, never packed with client calls.
#[derive(Debug)]
pub enum Alone {
    /// Catalog and stock-figure requests applied all together or not at all (bulk import).
    AllOrNothing(Vec<Request>),
    /// Expire due holds at the leader's time (the expiry timer).
    Expire,
}

/// Client requests waiting to be batched, and where their outcomes go.
struct Pending {
    requests: Vec<Request>,
    reply: oneshot::Sender<Written>,
}

#[derive(Clone)]
pub struct Proposer {
    raft: StockRaft,
    queue: mpsc::Sender<Pending>,
}

impl Proposer {
    /// Starts the batching task.
    pub fn start(raft: StockRaft, batch_max: usize) -> Proposer {
        let (queue, receiver) = mpsc::channel(PROPOSER_QUEUE_DEPTH);
        tokio::spawn(run(raft.clone(), receiver, batch_max));
        Proposer { raft, queue }
    }

    /// Proposes requests as one unit of a batched Raft entry and waits until they are applied;
    /// returns the entry's log index and one outcome per request. Only the leader proposes.
    pub async fn propose(&self, requests: Vec<Request>) -> Written {
        let (reply, answer) = oneshot::channel();
        let pending = Pending { requests, reply };
        self.queue.send(pending).await.map_err(|_| unavailable("the node is shutting down"))?;
        answer
            .await
            .map_err(|_| unavailable("the node stopped before the write was applied; retry with the same request id"))?
    }

    /// Proposes a command as an entry of its own and waits until it is applied; returns its
    /// log index and the ledger's outcome.
    pub async fn propose_alone(&self, command: Alone) -> Result<(u64, Outcome), Status> {
        let body = match command {
            Alone::AllOrNothing(requests) => CommandBody::AllOrNothing(requests),
            Alone::Expire => CommandBody::Expire,
        };
        write(&self.raft, body).await
    }
}

/// The leader's clock: milliseconds since the Unix epoch. The ledger never lets log time go
/// back, so a new leader whose clock is behind cannot shorten or extend anyone's hold.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The only `client_write`: stamps `body` with the leader's clock, proposes it and waits until
/// it is applied.
async fn write(raft: &StockRaft, body: CommandBody) -> Result<(u64, Outcome), Status> {
    let written = raft.client_write(Command { now_ms: now_ms(), body }).await.map_err(write_error)?;
    match written.data {
        Response::Ledger(outcome) => Ok((written.log_id.index, outcome)),
        // A client command is always a ledger entry: storage answers `Cluster` only for blank
        // and membership entries, which openraft proposes itself.
        Response::Cluster => Err(Status::internal("storage answered a ledger command as a cluster entry")),
    }
}

async fn run(raft: StockRaft, mut queue: mpsc::Receiver<Pending>, batch_max: usize) {
    let in_flight = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT_MAX));
    // A call that did not fit the previous batch starts the next one.
    let mut carried: Option<Pending> = None;
    loop {
        let first = match carried.take() {
            Some(first) => first,
            None => match queue.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
        let mut size = first.requests.len();
        let mut batch = vec![first];
        while size < batch_max {
            match queue.try_recv() {
                Ok(next) if size + next.requests.len() > batch_max => {
                    carried = Some(next);
                    break;
                }
                Ok(next) => {
                    size += next.requests.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            commit(&raft, batch).await;
            drop(permit);
        });
    }
}

/// Proposes one batch and answers each of its callers with its own outcomes.
async fn commit(raft: &StockRaft, batch: Vec<Pending>) {
    let sizes: Vec<usize> = batch.iter().map(|p| p.requests.len()).collect();
    let (replies, mut requests): (Vec<_>, Vec<_>) = batch.into_iter().map(|p| (p.reply, p.requests)).unzip();
    let total: usize = sizes.iter().sum();
    crate::telemetry::prometheus::batch(total);
    // A lone request travels as itself: its entry is smaller and its outcome needs no unpacking.
    let single = total == 1;
    let body = if single {
        CommandBody::Request(requests.pop().and_then(|mut r| r.pop()).expect("one request"))
    } else {
        CommandBody::Batch(requests.into_iter().flatten().collect())
    };
    let written = match write(raft, body).await {
        Ok((index, outcome)) if single => Ok((index, vec![outcome])),
        Ok((index, Ok(Applied::Batch(outcomes)))) if outcomes.len() == total => Ok((index, outcomes)),
        Ok((_, other)) => {
            tracing::error!(?other, "batch answered out of shape");
            Err(Status::internal(format!("unexpected ledger response to a batch of {total}: {other:?}")))
        }
        Err(status) => Err(status),
    };
    match written {
        Ok((index, outcomes)) => {
            let mut outcomes = outcomes.into_iter();
            for (reply, size) in replies.into_iter().zip(sizes) {
                let _ = reply.send(Ok((index, outcomes.by_ref().take(size).collect())));
            }
        }
        Err(status) => {
            for reply in replies {
                let _ = reply.send(Err(status.clone()));
            }
        }
    }
}

/// The client-facing status for a failed Raft write or membership change.
pub fn write_error(e: RaftWriteError) -> Status {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => forward_to_leader(&f),
        // The entry may still commit under the next leader: the client must retry with the same
        // request id, which the ledger answers from its idempotency table if it did.
        RaftError::APIError(ClientWriteError::LogEntryDiscarded(_)) => {
            unavailable("leadership changed while the write was in flight; retry with the same request id")
        }
        RaftError::APIError(e) => Status::internal(format!("raft refused the write: {e}")),
        RaftError::Fatal(e) => unavailable(format!("raft stopped: {e}")),
    }
}

/// openraft's "not the leader": NOT_LEADER naming the leader it knows, if any. The one place
/// that mapping is written, for writes and linearizable reads alike.
pub fn forward_to_leader(f: &ForwardToLeader<TypeConfig>) -> Status {
    not_leader(f.leader_id.unwrap_or_default(), f.leader_node.as_ref().map(|n| n.addr.as_str()).unwrap_or_default())
}
