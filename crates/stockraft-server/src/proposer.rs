//! Client writes batched into Raft entries. Calls queue here; one task drains the queue into a
//! `Batch` command of up to `batch_max` requests, stamps it with the leader's clock and proposes
//! it, while the next batch gathers behind it. Under load one fsync and one replication round
//! trip serve hundreds of reserves; with a single caller a batch is that one request.
//!
//! A batch is one log entry: it commits or is lost as a whole, and its requests are applied in
//! order, each with its own outcome (one request's rejection does not affect the others).

use crate::node::StockRaft;
use crate::node::write_error;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use stockraft_core::{Applied, Command, CommandBody, Outcome, Request};
use stockraft_proto::errors::unavailable;
use stockraft_storage::Response;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tonic::Status;

/// Calls waiting for a batch. Beyond this, callers wait to enqueue (back-pressure).
const QUEUE_DEPTH: usize = 65_536;
/// Batches proposed and not yet applied. Bounds memory and keeps openraft's queue short; enough
/// to keep a pipeline of appends, fsyncs and replication busy.
const BATCHES_IN_FLIGHT: usize = 64;

pub struct Pending {
    pub requests: Vec<Request>,
    pub reply: oneshot::Sender<Result<(u64, Vec<Outcome>), Status>>,
}

#[derive(Clone)]
pub struct Proposer {
    queue: mpsc::Sender<Pending>,
}

impl Proposer {
    /// Starts the batching task.
    pub fn start(raft: StockRaft, batch_max: usize) -> Proposer {
        let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(raft, receiver, batch_max));
        Proposer { queue }
    }

    pub async fn submit(&self, pending: Pending) -> Result<(), Status> {
        self.queue.send(pending).await.map_err(|_| unavailable("the node is shutting down"))
    }
}

/// The leader's clock: milliseconds since the Unix epoch. The ledger never lets log time go
/// back, so a new leader whose clock is behind cannot shorten or extend anyone's hold.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

async fn run(raft: StockRaft, mut queue: mpsc::Receiver<Pending>, batch_max: usize) {
    let in_flight = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
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

async fn commit(raft: &StockRaft, batch: Vec<Pending>) {
    let sizes: Vec<usize> = batch.iter().map(|p| p.requests.len()).collect();
    let (replies, mut requests): (Vec<_>, Vec<_>) = batch.into_iter().map(|p| (p.reply, p.requests)).unzip();
    let body = if sizes.iter().sum::<usize>() == 1 {
        CommandBody::Request(requests.pop().and_then(|mut r| r.pop()).expect("one request"))
    } else {
        CommandBody::Batch(requests.into_iter().flatten().collect())
    };
    let single = matches!(body, CommandBody::Request(_));
    crate::telemetry::prometheus::batch(sizes.iter().sum());
    let result = raft.client_write(Command { now_ms: now_ms(), body }).await;
    let outcomes = match result {
        Err(e) => {
            let status = write_error(e);
            for reply in replies {
                let _ = reply.send(Err(status.clone()));
            }
            return;
        }
        Ok(response) => {
            let index = response.log_id.index;
            match response.data {
                Response::Ledger(outcome) if single => Ok((index, vec![outcome])),
                Response::Ledger(Ok(Applied::Batch(outcomes))) => Ok((index, outcomes)),
                other => Err(Status::internal(format!("unexpected ledger response to a batch: {other:?}"))),
            }
        }
    };
    match outcomes {
        Ok((index, outcomes)) => {
            let mut outcomes = outcomes.into_iter();
            for (reply, size) in replies.into_iter().zip(sizes) {
                let _ = reply.send(Ok((index, outcomes.by_ref().take(size).collect())));
            }
        }
        Err(status) => {
            tracing::error!(%status, "batch answered out of shape");
            for reply in replies {
                let _ = reply.send(Err(status.clone()));
            }
        }
    }
}
