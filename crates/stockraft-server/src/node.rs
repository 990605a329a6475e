//! A running node: the openraft handle, the applied ledger, and the three ways the services use
//! them: [`Node::route`] (serve here or forward to the leader), [`Node::propose`] (a batched,
//! linearizable write) and [`Node::read`] after [`Node::linearize`] (a linearizable read).

use crate::peers::Peers;
use crate::proposer::{Pending, Proposer};
use openraft::async_runtime::WatchReceiver;
use openraft::error::{ClientWriteError, LinearizableReadError, RaftError};
use openraft::raft::ReadPolicy;
use stockraft_core::{Outcome, Request, State};
use stockraft_proto::errors::{not_leader, unavailable};
use stockraft_storage::{StateMachineStore, TypeConfig};
use tokio::sync::oneshot;
use tonic::Status;
use tonic::transport::Channel;

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
    /// Forward to the leader over this channel.
    Leader(Channel),
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

    /// Serve here if this node leads; otherwise forward to the leader, once.
    pub fn route<T>(&self, request: &tonic::Request<T>) -> Result<Route, Status> {
        match self.leader() {
            Some((id, _)) if id == self.id => Ok(Route::Local),
            Some((id, address)) => {
                if request.metadata().contains_key(FORWARDED) {
                    return Err(not_leader(id, &address));
                }
                let channel = self
                    .peers
                    .channel(&address)
                    .map_err(|e| unavailable(format!("leader {id} at {address:?} is unreachable: {e}")))?;
                Ok(Route::Leader(channel))
            }
            None => {
                Err(unavailable("no leader is known (an election may be in progress); retry with the same request id"))
            }
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
