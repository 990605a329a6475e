//! Reserves from many tasks packed into `ReserveBatch` calls, as TigerBeetle's clients pack
//! events: while a batch is in flight, calls that arrive wait, and the next batch takes all of
//! them (up to [`RESERVE_BATCH_MAX`]). With nothing in flight a call goes at once, alone: there
//! is no linger timer, so a lone caller pays one round trip, as with a unary call.
//!
//! At most `Options::reserve_batches_in_flight` batches are in flight at once. The window is
//! small on purpose: the server batches again behind it (one Raft entry per proposer batch), and
//! a wide window only splits the same calls into smaller batches that queue at the server.
//!
//! Each reserve keeps its own request id, so a batch retried after an unknown outcome (a leader
//! killed mid-write) replays safely: the ledger answers each id with its first outcome. Each
//! caller gets exactly what it would get alone: its hold, or its own refusal as the status the
//! server would have sent for a unary call (the same code, message and `ErrorDetail`), or the
//! batch's failure when the batch as a whole could not be served.

use crate::{Error, MESSAGE_BYTES_MAX, Shared};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use stockraft_proto::RESERVE_BATCH_MAX;
use stockraft_proto::errors::{code_for, status_with_detail};
use stockraft_proto::v1::inventory_client::InventoryClient;
use stockraft_proto::v1::{self, reserve_outcome};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Reserves waiting for a batch. Beyond this, callers wait to enqueue (back-pressure), so a
/// client that is offered more than the cluster takes keeps bounded memory.
const QUEUE_DEPTH: usize = 65_536;

/// Encoded bytes of reserves in one batch: far below the smallest message limit a node may be
/// configured with (1 MiB), so a batch of ordinary reserves is never refused for its size.
const BATCH_BYTES_MAX: usize = 256 << 10;

type Answer = Result<v1::HoldReply, Error>;

struct Pending {
    request: v1::ReserveRequest,
    reply: oneshot::Sender<Answer>,
}

/// The sending side of the batching task; dropping it ends the task once its batches are sent.
pub(crate) struct Coalescer {
    queue: mpsc::Sender<Pending>,
    /// A caller waits at most this long in all (the client's `deadline`, queue time included),
    /// as a unary call would; a call given up on before its batch is sent is never sent.
    deadline: Duration,
}

impl Coalescer {
    /// Starts the batching task (on the current tokio runtime).
    pub(crate) fn start(shared: Arc<Shared>, batches_in_flight: usize) -> Coalescer {
        let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
        let deadline = shared.options.deadline;
        tokio::spawn(run(shared, receiver, batches_in_flight.max(1)));
        Coalescer { queue, deadline }
    }

    pub(crate) async fn reserve(&self, request: v1::ReserveRequest) -> Answer {
        let (reply, answer) = oneshot::channel();
        // The outcome is unknown in both cases below: the caller retries with the same id.
        let unknown = |why: &str| Error::Unavailable { attempts: 0, last: why.to_string() };
        let sent = async {
            self.queue.send(Pending { request, reply }).await.map_err(|_| unknown("the batching task stopped"))?;
            answer.await.map_err(|_| unknown("the batching task stopped before answering"))?
        };
        match tokio::time::timeout(self.deadline, sent).await {
            Ok(answer) => answer,
            Err(_) => Err(unknown(&format!("no answer within the client's deadline of {:?}", self.deadline))),
        }
    }
}

async fn run(shared: Arc<Shared>, mut queue: mpsc::Receiver<Pending>, batches_in_flight: usize) {
    let window = Arc::new(Semaphore::new(batches_in_flight));
    loop {
        // Wait for a slot first: calls that arrive meanwhile gather in the queue, and the
        // batch takes them all when the slot frees.
        let Ok(slot) = window.clone().acquire_owned().await else { return };
        let Some(first) = queue.recv().await else { return };
        let mut bytes = first.request.encoded_len();
        let mut batch = vec![first];
        while batch.len() < RESERVE_BATCH_MAX && bytes < BATCH_BYTES_MAX {
            match queue.try_recv() {
                Ok(next) => {
                    bytes += next.request.encoded_len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        // A caller that gave up (its deadline passed) is not sent: nothing would read the answer.
        batch.retain(|pending| !pending.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            send(&shared, batch).await;
            drop(slot);
        });
    }
}

/// Sends one batch (with the client's retries) and answers each caller.
async fn send(shared: &Shared, batch: Vec<Pending>) {
    let (requests, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|p| (p.request, p.reply)).unzip();
    let request = v1::ReserveBatchRequest { reserves: requests };
    let sent = shared
        .call(|channel| {
            let request = request.clone();
            async move {
                InventoryClient::new(channel).max_decoding_message_size(MESSAGE_BYTES_MAX).reserve_batch(request).await
            }
        })
        .await;
    match sent {
        Ok(reply) if reply.outcomes.len() == replies.len() => {
            for (outcome, reply) in reply.outcomes.into_iter().zip(replies) {
                let _ = reply.send(answer(outcome));
            }
        }
        Ok(reply) => {
            // The reserves may have been applied: an unknown outcome, not a refusal.
            let last = format!(
                "the cluster answered a batch of {} reserves with {} outcomes",
                replies.len(),
                reply.outcomes.len()
            );
            for reply in replies {
                let _ = reply.send(Err(Error::Unavailable { attempts: 1, last: last.clone() }));
            }
        }
        Err(error) => {
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

/// One reserve's outcome as a unary call would have answered it.
fn answer(outcome: v1::ReserveOutcome) -> Answer {
    match outcome.outcome {
        Some(reserve_outcome::Outcome::Held(hold)) => Ok(hold),
        Some(reserve_outcome::Outcome::Rejected(detail)) => {
            match v1::Reason::try_from(detail.reason).unwrap_or(v1::Reason::Unspecified) {
                // No reason: not a refusal but the server failing on this reserve (a unary call
                // gets INTERNAL without a detail, which is retried): its outcome is unknown.
                v1::Reason::Unspecified => Err(Error::Unavailable { attempts: 1, last: detail.message }),
                reason => Err(Error::Rejected(status_with_detail(code_for(reason), detail))),
            }
        }
        // A reply out of shape: the reserve may have been applied, so its outcome is unknown.
        None => Err(Error::Unavailable { attempts: 1, last: "the cluster sent an empty reserve outcome".into() }),
    }
}
