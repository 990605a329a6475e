//! A running node: the openraft handle, the applied ledger, and the three ways the services use
//! them: [`Node::route`] (serve here or forward to the leader), [`Node::propose`] (a batched,
//! linearizable write) and [`Node::read`] after [`Node::linearize`] (a linearizable read).

use crate::peers::Peers;
use crate::proposer::{Pending, Proposer};
use openraft::async_runtime::WatchReceiver;
use openraft::error::{ClientWriteError, LinearizableReadError, RaftError};
use openraft::raft::ReadPolicy;
use std::time::Duration;
use stockraft_core::{Outcome, Request, State};
use stockraft_proto::errors::{error_detail, not_leader, unavailable};
use stockraft_storage::{StateMachineStore, TypeConfig};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::{Code, Response, Status};

/// Whether a forwarded call failed to reach the leader at all (connection refused or cut), as
/// opposed to an answer from the leader, which always carries stockd's ErrorDetail.
fn unreachable(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled)
        && error_detail(status).is_none()
}

/// The metadata key a follower sets when it forwards a call to the leader. A forwarded call
/// that reaches a node which is not (or no longer) the leader is answered NOT_LEADER instead
/// of being forwarded again, so a call makes at most one hop and never loops.
pub const FORWARDED: &str = "x-stockraft-forwarded";

/// The openraft node type of stockd.
pub type StockRaft = openraft::Raft<TypeConfig, StateMachineStore>;

/// Where a call is served.
pub enum Route {
    /// This node is the leader.
    Local,
    /// Forward to the leader (its id) over this channel.
    Leader(u64, Channel),
}

pub struct Node {
    pub id: u64,
    pub raft: StockRaft,
    pub state_machine: StateMachineStore,
    pub peers: Peers,
    pub(crate) proposer: Proposer,
}

pub type RaftWriteError = RaftError<TypeConfig, ClientWriteError<TypeConfig>>;

impl Node {
    /// The leader's id and address, when this node knows one.
    pub fn leader(&self) -> Option<(u64, String)> {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow_watched();
        let id = metrics.current_leader?;
        let address = metrics.membership_config.membership().get_node(&id).map(|n| n.addr.clone()).unwrap_or_default();
        Some((id, address))
    }

    /// How long a call waits at this node for a leader: while an election is under way, or after
    /// the leader it was forwarded to turned out unreachable. Twice the longest election timeout,
    /// so a call that arrives mid-election is answered by (or pointed at) the new leader, instead
    /// of failing and sending its client into backoff: that backoff, not the election, was most
    /// of the write stall when a leader died.
    fn leader_wait(&self) -> Duration {
        Duration::from_millis(self.raft.config().election_timeout_max.saturating_mul(2))
    }

    /// Waits until this node knows a leader other than `not`, up to [`Node::leader_wait`].
    async fn wait_for_leader(&self, not: Option<u64>) -> Option<(u64, String)> {
        let known = |id: Option<u64>| id.is_some() && id != not;
        let _ =
            self.raft.wait(Some(self.leader_wait())).metrics(|m| known(m.current_leader), "a leader is known").await;
        self.leader().filter(|(id, _)| known(Some(*id)))
    }

    /// Serve here if this node leads; otherwise forward to the leader, once. With no leader known
    /// (an election), waits for one.
    pub async fn route<T>(&self, request: &tonic::Request<T>) -> Result<Route, Status> {
        let leader = match self.leader() {
            Some(leader) => Some(leader),
            None => self.wait_for_leader(None).await,
        };
        match leader {
            Some((id, _)) if id == self.id => Ok(Route::Local),
            Some((id, address)) => {
                if request.metadata().contains_key(FORWARDED) {
                    return Err(not_leader(id, &address));
                }
                let channel = self
                    .peers
                    .channel(&address)
                    .map_err(|e| unavailable(format!("leader {id} at {address:?} is unreachable: {e}")))?;
                Ok(Route::Leader(id, channel))
            }
            None => {
                Err(unavailable("no leader is known (an election may be in progress); retry with the same request id"))
            }
        }
    }

    /// The answer to a call forwarded to `leader`. If the leader could not be reached (it died,
    /// or is cut off), waits for the cluster to elect another and answers NOT_LEADER naming it,
    /// so the client goes there at once.
    pub async fn forwarded<T>(&self, leader: u64, answer: Result<Response<T>, Status>) -> Result<Response<T>, Status> {
        match answer {
            Err(status) if unreachable(&status) => match self.wait_for_leader(Some(leader)).await {
                Some((id, address)) => Err(not_leader(id, &address)),
                None => Err(status),
            },
            answer => answer,
        }
    }

    /// Proposes requests as one unit of a batched Raft entry and waits until they are applied;
    /// returns the entry's log index and one outcome per request. Only the leader proposes.
    pub async fn propose(&self, requests: Vec<Request>) -> Result<(u64, Vec<Outcome>), Status> {
        let (reply, answer) = oneshot::channel();
        self.proposer.submit(Pending { requests, reply }).await?;
        answer
            .await
            .map_err(|_| unavailable("the node stopped before the write was applied; retry with the same request id"))?
    }

    /// Proposes one request; see [`Node::propose`].
    pub async fn propose_one(&self, request: Request) -> Result<(u64, Outcome), Status> {
        let (index, mut outcomes) = self.propose(vec![request]).await?;
        let outcome = outcomes.pop().ok_or_else(|| Status::internal("the ledger returned no outcome"))?;
        Ok((index, outcome))
    }

    /// Waits until this node, as leader, may serve a linearizable read from its applied state:
    /// leadership confirmed by a quorum (read index) and the state applied up to that point.
    pub async fn linearize(&self) -> Result<(), Status> {
        self.raft.ensure_linearizable(ReadPolicy::ReadIndex).await.map(|_| ()).map_err(|e| match e {
            RaftError::APIError(LinearizableReadError::ForwardToLeader(f)) => not_leader(
                f.leader_id.unwrap_or_default(),
                f.leader_node.as_ref().map(|n| n.addr.as_str()).unwrap_or_default(),
            ),
            RaftError::APIError(e) => unavailable(format!("cannot confirm leadership: {e}")),
            RaftError::Fatal(e) => unavailable(format!("raft stopped: {e}")),
        })
    }

    /// Runs `f` on the applied ledger (a short, lock-held read: no awaiting inside).
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state_machine.read().ledger)
    }

    /// Runs `f` on the applied ledger and returns it with the log index that ledger reflects,
    /// both under one lock (read separately, entries applied in between would be mislabeled).
    pub fn read_as_of<T>(&self, f: impl FnOnce(&State) -> T) -> (u64, T) {
        let machine = self.state_machine.read();
        (machine.last_applied.as_ref().map_or(0, |id| id.index), f(&machine.ledger))
    }

    /// The last applied log index.
    pub fn applied_index(&self) -> u64 {
        self.read_as_of(|_| ()).0
    }
}

/// The client-facing status for a failed Raft write.
pub fn write_error(e: RaftWriteError) -> Status {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => not_leader(
            f.leader_id.unwrap_or_default(),
            f.leader_node.as_ref().map(|n| n.addr.as_str()).unwrap_or_default(),
        ),
        // The entry may still commit under the next leader: the client must retry with the same
        // request id, which the ledger answers from its idempotency table if it did.
        RaftError::APIError(ClientWriteError::LogEntryDiscarded(_)) => {
            unavailable("leadership changed while the write was in flight; retry with the same request id")
        }
        RaftError::APIError(e) => Status::internal(format!("raft refused the write: {e}")),
        RaftError::Fatal(e) => unavailable(format!("raft stopped: {e}")),
    }
}
