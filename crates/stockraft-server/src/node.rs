//! A running node: the openraft handle, the applied ledger, and the ways the services use them:
//! [`Node::route`] (serve here or forward to the leader), [`Node::propose`] and
//! [`Node::propose_alone`] (linearizable writes, through the proposer), [`Node::read`] after
//! [`Node::linearize`] (a linearizable read), and the few Raft operations the Cluster service
//! needs (membership, leadership, snapshots). The services see no storage or openraft handle.

use crate::leadership::Leadership;
use crate::proposer::{Alone, Proposer, StockRaft, forward_to_leader, write_error};
use crate::transport::peers::Peers;
use openraft::async_runtime::WatchReceiver;
use openraft::error::{LinearizableReadError, RaftError};
use openraft::raft::ReadPolicy;
use openraft::storage::RaftStateMachine;
use openraft::{BasicNode, ChangeMembers};
use std::collections::BTreeSet;
use std::time::Duration;
use stockraft_core::{Outcome, Request, State};
use stockraft_proto::errors::{error_detail, not_leader, status_with_detail, unavailable};
use stockraft_proto::v1;
use stockraft_proto::v1::{ErrorDetail, Reason};
use stockraft_storage::{SnapshotMeta, StateMachineStore, TypeConfig};
use tonic::transport::Channel;
use tonic::{Code, Response, Status};

/// This node's view of the cluster, as openraft reports it.
pub type RaftMetrics = openraft::RaftMetrics<TypeConfig>;
/// Wakes whenever [`RaftMetrics`] change (a new entry applied, a new leader, a new term).
pub type MetricsWatch = openraft::alias::WatchReceiverOf<TypeConfig, RaftMetrics>;

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

/// Where a call is served.
pub enum Route {
    /// This node is the leader.
    Local,
    /// Forward to the leader (its id) over this channel.
    Leader(u64, Channel),
}

/// A saved snapshot opened to stream out as a backup.
pub struct BackupFile {
    pub info: v1::SnapshotInfo,
    pub reader: Box<dyn std::io::Read + Send>,
}

pub struct Node {
    id: u64,
    raft: StockRaft,
    state_machine: StateMachineStore,
    peers: Peers,
    proposer: Proposer,
}

fn snapshot_info(meta: &SnapshotMeta, size_bytes: u64) -> v1::SnapshotInfo {
    let (log_index, term) = meta.last_log_id.map_or((0, 0), |id| (id.index, id.leader_id.term));
    v1::SnapshotInfo { log_index, term, size_bytes }
}

impl Node {
    pub fn new(id: u64, raft: StockRaft, state_machine: StateMachineStore, peers: Peers, batch_max: usize) -> Node {
        let proposer = Proposer::start(raft.clone(), batch_max);
        Node { id, raft, state_machine, peers, proposer }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The openraft handle, for the Raft transport's receiving side and for shutting down.
    pub(crate) fn raft(&self) -> &StockRaft {
        &self.raft
    }

    /// A copy of this node's current Raft view.
    pub fn metrics(&self) -> RaftMetrics {
        self.raft.metrics().borrow_watched().clone()
    }

    /// A watch on this node's Raft view, to wait for changes.
    pub fn watch_metrics(&self) -> MetricsWatch {
        self.raft.metrics()
    }

    /// Whether this node believes it leads (openraft's view; it may have just lost a quorum).
    pub fn is_leader(&self) -> bool {
        self.raft.is_leader()
    }

    /// What this node may truthfully say about leadership (see [`Leadership`]): a leader cut off
    /// from its quorum for longer than openraft's lease does not count as one.
    pub fn leadership(&self) -> Leadership {
        Leadership::of(&self.raft.metrics().borrow_watched(), self.id, self.leader_lease())
    }

    /// openraft's quorum lease: the election timeout's upper bound.
    pub fn leader_lease(&self) -> Duration {
        Duration::from_millis(self.raft.config().election_timeout_max)
    }

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
            // Any other status without a detail is this node's own client failing on the
            // leader's answer (a reply it could not decode, or larger than it accepts): the
            // write may have been applied, so the outcome is open, never the caller's fault
            // (the rich-errors layer would otherwise call it INVALID_ARGUMENT).
            Err(status) if error_detail(&status).is_none() => Err(status_with_detail(
                Code::Internal,
                ErrorDetail {
                    reason: Reason::Unspecified as i32,
                    message: format!(
                        "the leader's answer could not be relayed ({}: {}); retry with the same request id",
                        status.code(),
                        status.message()
                    ),
                    ..ErrorDetail::default()
                },
            )),
            answer => answer,
        }
    }

    /// Proposes requests as one unit of a batched Raft entry and waits until they are applied;
    /// returns the entry's log index and one outcome per request. Only the leader proposes.
    pub async fn propose(&self, requests: Vec<Request>) -> Result<(u64, Vec<Outcome>), Status> {
        self.proposer.propose(requests).await
    }

    /// Proposes one request; see [`Node::propose`].
    pub async fn propose_one(&self, request: Request) -> Result<(u64, Outcome), Status> {
        let (index, mut outcomes) = self.propose(vec![request]).await?;
        let outcome = outcomes.pop().ok_or_else(|| Status::internal("the ledger returned no outcome"))?;
        Ok((index, outcome))
    }

    /// Proposes a command as a Raft entry of its own; see [`Alone`].
    pub async fn propose_alone(&self, command: Alone) -> Result<(u64, Outcome), Status> {
        self.proposer.propose_alone(command).await
    }

    /// Waits until this node, as leader, may serve a linearizable read from its applied state:
    /// leadership confirmed by a quorum (read index) and the state applied up to that point.
    pub async fn linearize(&self) -> Result<(), Status> {
        self.raft.ensure_linearizable(ReadPolicy::ReadIndex).await.map(|_| ()).map_err(|e| match e {
            RaftError::APIError(LinearizableReadError::ForwardToLeader(f)) => forward_to_leader(&f),
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

    /// Waits up to `timeout` until `condition` holds of this node's Raft view; the error says
    /// what was awaited.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        condition: impl Fn(&RaftMetrics) -> bool + Send,
    ) -> Result<(), String> {
        self.raft.wait(Some(timeout)).metrics(condition, what).await.map(|_| ()).map_err(|e| e.to_string())
    }

    /// Adds a learner (through the log); returns the index of the entry that added it.
    pub async fn add_learner(&self, id: u64, address: String) -> Result<u64, Status> {
        let added = self.raft.add_learner(id, BasicNode { addr: address }, false).await.map_err(write_error)?;
        Ok(added.log_id.index)
    }

    /// Makes `voters` the voting members; the others stay learners if `retain`.
    pub async fn change_membership(&self, voters: BTreeSet<u64>, retain: bool) -> Result<(), Status> {
        self.raft.change_membership(voters, retain).await.map(|_| ()).map_err(write_error)
    }

    /// Removes member `id` from the cluster: a voter through joint consensus (and not kept as a
    /// learner), a learner directly.
    pub async fn remove_member(&self, id: u64, voter: bool) -> Result<(), Status> {
        let ids = BTreeSet::from([id]);
        let change = if voter { ChangeMembers::RemoveVoters(ids) } else { ChangeMembers::RemoveNodes(ids) };
        self.raft.change_membership(change, false).await.map(|_| ()).map_err(write_error)
    }

    /// Asks this node, as leader, to hand leadership to `to`.
    pub async fn transfer_leader(&self, to: u64) -> Result<(), Status> {
        self.raft.trigger().transfer_leader(to).await.map_err(|e| unavailable(e.to_string()))
    }

    /// Starts building a snapshot of this node's applied ledger (see stockraft-storage).
    pub async fn trigger_snapshot(&self) -> Result<(), Status> {
        self.raft.trigger().snapshot().await.map_err(|e| unavailable(e.to_string()))
    }

    /// What this node's current snapshot covers and its size, if it has one.
    pub async fn current_snapshot(&self) -> Result<Option<v1::SnapshotInfo>, Status> {
        let mut store = self.state_machine.clone();
        let snapshot =
            store.get_current_snapshot().await.map_err(|e| Status::internal(format!("reading the snapshot: {e}")))?;
        Ok(snapshot.map(|s| snapshot_info(&s.meta, s.snapshot.len() as u64)))
    }

    /// This node's current snapshot file, opened once for streaming as a backup.
    pub fn open_backup(&self) -> Result<Option<BackupFile>, Status> {
        let backup = self.state_machine.backup().map_err(|e| Status::internal(format!("opening the snapshot: {e}")))?;
        Ok(backup.map(|b| BackupFile { info: snapshot_info(&b.meta, b.bytes), reader: b.reader }))
    }
}
