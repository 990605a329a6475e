//! `stockraft.v1.Cluster`: status, membership, leadership and snapshots. Status is answered by
//! the node asked (it is that node's view); changes are routed to the leader.

use super::{ok, route};
use crate::convert::to_proto;
use crate::node::{Node, write_error};
use crate::telemetry::logs::LogControl;
use openraft::BasicNode;
use openraft::async_runtime::WatchReceiver;
use openraft::storage::RaftStateMachine;
use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use stockraft_proto::errors::{invalid_argument, unavailable};
use stockraft_proto::v1;
use stockraft_proto::v1::cluster_client::ClusterClient;
use stockraft_proto::v1::cluster_server::Cluster;
use stockraft_storage::Backup;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request as Call, Response, Status};

/// How long TransferLeader waits for the new leader to take over.
const TRANSFER_WAIT: Duration = Duration::from_secs(5);
/// How long AddLearner waits for the learner to catch up when asked to.
const CATCH_UP_WAIT: Duration = Duration::from_secs(60);
/// How long TriggerSnapshot waits for the snapshot to be built and saved.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(120);

/// A backup streams in parts of this size (below the smallest `limits.message_bytes_max`).
const BACKUP_PART_BYTES: usize = 512 << 10;
/// Parts read ahead of the client.
const BACKUP_PARTS_AHEAD: usize = 4;

pub struct ClusterService {
    pub node: Arc<Node>,
    /// The process's log filter, when stockd owns the subscriber.
    pub logs: Option<LogControl>,
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<v1::SnapshotPart, Status>> + Send>>;

impl ClusterService {
    /// Builds a snapshot on this node at or after `applied` and waits until it is saved.
    async fn snapshot_at_least(&self, applied: u64) -> Result<(), Status> {
        self.node.raft.trigger().snapshot().await.map_err(|e| unavailable(e.to_string()))?;
        self.node
            .raft
            .wait(Some(SNAPSHOT_WAIT))
            .metrics(|m| m.snapshot.as_ref().is_some_and(|s| s.index >= applied), "snapshot built")
            .await
            .map_err(|e| unavailable(format!("the snapshot was not built in time: {e}")))?;
        Ok(())
    }
}

/// Streams a backup's bytes in parts, the first with `info`; reads on a blocking thread.
fn stream_backup(backup: Backup, info: v1::SnapshotInfo) -> SnapshotStream {
    let (sender, receiver) = mpsc::channel(BACKUP_PARTS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let Backup { mut reader, bytes, .. } = backup;
        let mut info = Some(info);
        let mut sent = 0u64;
        loop {
            let mut data = vec![0; BACKUP_PART_BYTES];
            let read = match read_full(&mut reader, &mut data) {
                Ok(read) => read,
                Err(e) => {
                    let _ = sender.blocking_send(Err(Status::internal(format!("reading the snapshot: {e}"))));
                    return;
                }
            };
            data.truncate(read);
            sent += read as u64;
            if read == 0 && info.is_none() {
                break;
            }
            if sender.blocking_send(Ok(v1::SnapshotPart { info: info.take(), data })).is_err() {
                return;
            }
            if read < BACKUP_PART_BYTES {
                break;
            }
        }
        if sent != bytes {
            tracing::error!(sent, bytes, "the backup changed size while it was read");
        }
    });
    Box::pin(ReceiverStream::new(receiver))
}

/// Fills `buffer` unless the reader ends first; returns how much was read.
fn read_full(reader: &mut impl std::io::Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// This node's view of the cluster.
pub fn status(node: &Node) -> v1::ClusterStatus {
    let metrics = node.raft.metrics().borrow_watched().clone();
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    let matched = metrics.replication.as_ref();
    let members = membership
        .nodes()
        .map(|(id, n)| v1::Member {
            node_id: *id,
            address: n.addr.clone(),
            voter: voters.contains(id),
            matched_log_index: matched.and_then(|m| m.get(id)).map(|log_id| log_id.as_ref().map_or(0, |l| l.index)),
        })
        .collect();
    let leader_id = metrics.current_leader.unwrap_or_default();
    v1::ClusterStatus {
        node_id: node.id,
        leader_id,
        leader_address: membership.get_node(&leader_id).map(|n| n.addr.clone()).unwrap_or_default(),
        term: metrics.current_term,
        last_log_index: metrics.last_log_index.unwrap_or_default(),
        committed_log_index: metrics.local_committed.as_ref().map_or(0, |l| l.index),
        applied_log_index: metrics.last_applied.as_ref().map_or(0, |l| l.index),
        snapshot_log_index: metrics.snapshot.as_ref().map(|l| l.index),
        members,
        clock_ms: node.read(|state| state.clock_ms()),
    }
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn status(&self, _call: Call<v1::StatusRequest>) -> Result<Response<v1::ClusterStatus>, Status> {
        ok(status(&self.node))
    }

    async fn add_learner(&self, call: Call<v1::AddLearnerRequest>) -> Result<Response<v1::ClusterStatus>, Status> {
        let r = call.get_ref();
        if r.node_id == 0 {
            return Err(invalid_argument("node_id must be 1 or more"));
        }
        if r.address.is_empty() || r.address.rsplit_once(':').is_none_or(|(_, port)| port.parse::<u16>().is_err()) {
            return Err(invalid_argument(format!("address {:?} is not HOST:PORT", r.address)));
        }
        route!(self.node, call, ClusterClient, add_learner);
        let r = call.into_inner();
        let added =
            self.node.raft.add_learner(r.node_id, BasicNode { addr: r.address }, false).await.map_err(write_error)?;
        if r.wait_for_catch_up {
            // Caught up: the learner holds the log up to the entry that added it (by snapshot or
            // by replication), as the leader's replication progress shows.
            let (id, index) = (r.node_id, added.log_id.index);
            self.node
                .raft
                .wait(Some(CATCH_UP_WAIT))
                .metrics(
                    |m| {
                        let matched = m.replication.as_ref().and_then(|r| r.get(&id)).and_then(|l| l.as_ref());
                        matched.is_some_and(|l| l.index >= index)
                    },
                    "the learner to catch up",
                )
                .await
                .map_err(|e| unavailable(format!("node {id} was added but has not caught up yet: {e}")))?;
        }
        ok(status(&self.node))
    }

    async fn change_membership(
        &self,
        call: Call<v1::ChangeMembershipRequest>,
    ) -> Result<Response<v1::ClusterStatus>, Status> {
        let voters: BTreeSet<u64> = call.get_ref().voter_ids.iter().copied().collect();
        if voters.is_empty() {
            return Err(invalid_argument("a cluster needs at least one voter"));
        }
        route!(self.node, call, ClusterClient, change_membership);
        let known: BTreeSet<u64> = self
            .node
            .raft
            .metrics()
            .borrow_watched()
            .membership_config
            .membership()
            .nodes()
            .map(|(id, _)| *id)
            .collect();
        if let Some(unknown) = voters.iter().find(|id| !known.contains(id)) {
            return Err(invalid_argument(format!("node {unknown} is not a member; add it as a learner first")));
        }
        let retain = call.get_ref().retain_as_learners;
        self.node.raft.change_membership(voters, retain).await.map_err(write_error)?;
        ok(status(&self.node))
    }

    async fn transfer_leader(
        &self,
        call: Call<v1::TransferLeaderRequest>,
    ) -> Result<Response<v1::ClusterStatus>, Status> {
        let to = call.get_ref().to_node_id;
        route!(self.node, call, ClusterClient, transfer_leader);
        let voters: BTreeSet<u64> = self.node.raft.voter_ids().collect();
        if !voters.contains(&to) {
            return Err(invalid_argument(format!("node {to} is not a voter")));
        }
        if to != self.node.id {
            self.node.raft.trigger().transfer_leader(to).await.map_err(|e| unavailable(e.to_string()))?;
            self.node
                .raft
                .wait(Some(TRANSFER_WAIT))
                .current_leader(to, "leadership transfer")
                .await
                .map_err(|e| unavailable(format!("node {to} did not take over: {e}")))?;
        }
        ok(status(&self.node))
    }

    async fn trigger_snapshot(
        &self,
        _call: Call<v1::TriggerSnapshotRequest>,
    ) -> Result<Response<v1::SnapshotInfo>, Status> {
        self.snapshot_at_least(self.node.applied_index()).await?;
        let mut store = self.node.state_machine.clone();
        let snapshot = store
            .get_current_snapshot()
            .await
            .map_err(|e| Status::internal(format!("reading the snapshot: {e}")))?
            .ok_or_else(|| Status::internal("no snapshot after building one"))?;
        let (log_index, term) = snapshot.meta.last_log_id.map_or((0, 0), |id| (id.index, id.leader_id.term));
        ok(v1::SnapshotInfo { log_index, term, size_bytes: snapshot.snapshot.len() as u64 })
    }

    type SaveSnapshotStream = SnapshotStream;

    async fn save_snapshot(&self, _call: Call<v1::SaveSnapshotRequest>) -> Result<Response<SnapshotStream>, Status> {
        // The leader, after confirming it still leads, has applied every acknowledged write:
        // a snapshot at or after its applied index holds them all.
        self.node.linearize().await?;
        let applied = self.node.applied_index();
        self.snapshot_at_least(applied).await?;
        let backup = self
            .node
            .state_machine
            .backup()
            .map_err(|e| Status::internal(format!("opening the snapshot: {e}")))?
            .ok_or_else(|| Status::internal("no snapshot after building one"))?;
        let (log_index, term) = backup.meta.last_log_id.map_or((0, 0), |id| (id.index, id.leader_id.term));
        tracing::info!(log_index, bytes = backup.bytes, "streaming a backup");
        let info = v1::SnapshotInfo { log_index, term, size_bytes: backup.bytes };
        ok(stream_backup(backup, info))
    }

    async fn set_log_filter(&self, call: Call<v1::SetLogFilterRequest>) -> Result<Response<v1::LogFilter>, Status> {
        let logs =
            self.logs.as_ref().ok_or_else(|| Status::unimplemented("this process does not own its log subscriber"))?;
        let filter = call.into_inner().filter;
        let previous = if filter.trim().is_empty() {
            logs.current()
        } else {
            let previous = logs.set(filter.trim()).map_err(invalid_argument)?;
            tracing::info!(filter = filter.trim(), previous, "log filter changed");
            previous
        };
        ok(v1::LogFilter { node_id: self.node.id, filter: logs.current(), previous })
    }

    async fn check_state(&self, _call: Call<v1::CheckStateRequest>) -> Result<Response<v1::StateCheck>, Status> {
        let machine = self.node.state_machine.read();
        let state = &machine.ledger;
        let warehouses: Vec<_> = state.warehouses().iter().map(|w| w.id.clone()).collect();
        let mut stock = Vec::new();
        for (item, _) in state.items() {
            for warehouse in &warehouses {
                if let Ok(level) = state.stock(item, warehouse) {
                    stock.push(to_proto::stock_level(item.as_str(), warehouse.as_str(), &level));
                }
            }
        }
        ok(v1::StateCheck {
            node_id: self.node.id,
            applied_log_index: machine.last_applied.as_ref().map_or(0, |l| l.index),
            digest: state.digest(),
            invariant_violation: state.check_invariants().err().unwrap_or_default(),
            holds: state.hold_count() as u64,
            open_holds: state.open_hold_count() as u64,
            stock,
        })
    }
}
