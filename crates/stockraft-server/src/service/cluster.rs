//! `stockraft.v1.Cluster`: status, membership, leadership and snapshots. Status is answered by
//! the node asked (it is that node's view); changes are routed to the leader.

use super::{ok, route};
use crate::leadership::{Leadership, Role};
use crate::limits::{
    BACKUP_PART_BYTES, BACKUP_PARTS_AHEAD, LEARNER_CATCH_UP_WAIT, SNAPSHOT_BUILD_WAIT, TRANSFER_LEADER_WAIT,
};
use crate::node::{BackupFile, Node};
use crate::telemetry::logs::LogControl;
use openraft::Instant as _;
use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use stockraft_api::to_proto;
use stockraft_proto::errors::{invalid_argument, refusal, unavailable};
use stockraft_proto::v1;
use stockraft_proto::v1::Reason;
use stockraft_proto::v1::cluster_client::ClusterClient;
use stockraft_proto::v1::cluster_server::Cluster;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request as Call, Response, Status};

pub struct ClusterService {
    pub node: Arc<Node>,
    /// The process's log filter, when stockd owns the subscriber.
    pub logs: Option<LogControl>,
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<v1::SnapshotPart, Status>> + Send>>;

impl ClusterService {
    /// Builds a snapshot on this node at or after `applied` and waits until it is saved.
    async fn snapshot_at_least(&self, applied: u64) -> Result<(), Status> {
        self.node.trigger_snapshot().await?;
        self.node
            .wait_until(SNAPSHOT_BUILD_WAIT, "snapshot built", |m| {
                m.snapshot.as_ref().is_some_and(|s| s.index >= applied)
            })
            .await
            .map_err(|e| unavailable(format!("the snapshot was not built in time: {e}")))
    }
}

/// Streams a backup's bytes in parts, the first with `info`; reads on a blocking thread.
fn stream_backup(backup: BackupFile) -> SnapshotStream {
    let (sender, receiver) = mpsc::channel(BACKUP_PARTS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let BackupFile { mut reader, info } = backup;
        let bytes = info.size_bytes;
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

/// This node's view of the cluster, with leadership as [`Leadership`] judges it: a leader
/// without its quorum names no leader.
pub fn status(node: &Node) -> v1::ClusterStatus {
    let metrics = node.metrics();
    let leadership = Leadership::of(&metrics, node.id(), node.leader_lease());
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    let matched = metrics.replication.as_ref();
    let acked = metrics.heartbeat.as_ref();
    let millis = |age: Duration| u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
    let members = membership
        .nodes()
        .map(|(id, n)| v1::Member {
            node_id: *id,
            address: n.addr.clone(),
            voter: voters.contains(id),
            matched_log_index: matched.and_then(|m| m.get(id)).map(|log_id| log_id.as_ref().map_or(0, |l| l.index)),
            last_ack_age_ms: if *id == node.id() && leadership.leads() {
                Some(0)
            } else {
                acked.and_then(|a| a.get(id)).and_then(|sent| sent.as_ref()).map(|sent| millis(sent.elapsed()))
            },
        })
        .collect();
    let leader_id = leadership.leader.unwrap_or_default();
    v1::ClusterStatus {
        node_id: node.id(),
        leader_id,
        leader_address: membership.get_node(&leader_id).map(|n| n.addr.clone()).unwrap_or_default(),
        term: metrics.current_term,
        last_log_index: metrics.last_log_index.unwrap_or_default(),
        committed_log_index: metrics.local_committed.as_ref().map_or(0, |l| l.index),
        applied_log_index: metrics.last_applied.as_ref().map_or(0, |l| l.index),
        snapshot_log_index: metrics.snapshot.as_ref().map(|l| l.index),
        members,
        clock_ms: node.read(|state| state.clock_ms()),
        role: role(leadership.role) as i32,
        quorum_ack_age_ms: leadership.quorum_ack_age.map(millis),
    }
}

fn role(role: Role) -> v1::Role {
    match role {
        Role::Leader => v1::Role::Leader,
        Role::LeaderWithoutQuorum => v1::Role::LeaderWithoutQuorum,
        Role::Follower => v1::Role::Follower,
        Role::Candidate => v1::Role::Candidate,
        Role::Learner => v1::Role::Learner,
        Role::Shutdown => v1::Role::Shutdown,
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
        let index = self.node.add_learner(r.node_id, r.address).await?;
        if r.wait_for_catch_up {
            // Caught up: the learner holds the log up to the entry that added it (by snapshot or
            // by replication), as the leader's replication progress shows.
            let id = r.node_id;
            self.node
                .wait_until(LEARNER_CATCH_UP_WAIT, "the learner to catch up", |m| {
                    let matched = m.replication.as_ref().and_then(|r| r.get(&id)).and_then(|l| l.as_ref());
                    matched.is_some_and(|l| l.index >= index)
                })
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
        let known: BTreeSet<u64> =
            self.node.metrics().membership_config.membership().nodes().map(|(id, _)| *id).collect();
        if let Some(unknown) = voters.iter().find(|id| !known.contains(id)) {
            return Err(invalid_argument(format!("node {unknown} is not a member; add it as a learner first")));
        }
        let retain = call.get_ref().retain_as_learners;
        self.node.change_membership(voters, retain).await?;
        ok(status(&self.node))
    }

    async fn transfer_leader(
        &self,
        call: Call<v1::TransferLeaderRequest>,
    ) -> Result<Response<v1::ClusterStatus>, Status> {
        let to = call.get_ref().to_node_id;
        route!(self.node, call, ClusterClient, transfer_leader);
        let voters: BTreeSet<u64> = self.node.metrics().membership_config.membership().voter_ids().collect();
        if !voters.contains(&to) {
            return Err(invalid_argument(format!("node {to} is not a voter")));
        }
        if to != self.node.id() {
            self.node.transfer_leader(to).await?;
            self.node
                .wait_until(TRANSFER_LEADER_WAIT, "leadership transfer", |m| m.current_leader == Some(to))
                .await
                .map_err(|e| unavailable(format!("node {to} did not take over: {e}")))?;
        }
        ok(status(&self.node))
    }

    async fn remove_member(&self, call: Call<v1::RemoveMemberRequest>) -> Result<Response<v1::ClusterStatus>, Status> {
        let id = call.get_ref().node_id;
        route!(self.node, call, ClusterClient, remove_member);
        let metrics = self.node.metrics();
        let membership = metrics.membership_config.membership();
        if membership.get_node(&id).is_none() {
            return Err(refusal(Reason::NotFound, format!("node {id} is not a member")));
        }
        let voter = membership.voter_ids().any(|v| v == id);
        if voter && membership.voter_ids().count() == 1 {
            return Err(invalid_argument(format!("node {id} is the last voter; a cluster needs at least one")));
        }
        self.node.remove_member(id, voter).await?;
        tracing::info!(node = id, voter, "member removed");
        ok(status(&self.node))
    }

    async fn trigger_snapshot(
        &self,
        _call: Call<v1::TriggerSnapshotRequest>,
    ) -> Result<Response<v1::SnapshotInfo>, Status> {
        self.snapshot_at_least(self.node.applied_index()).await?;
        let info =
            self.node.current_snapshot().await?.ok_or_else(|| Status::internal("no snapshot after building one"))?;
        ok(info)
    }

    type SaveSnapshotStream = SnapshotStream;

    async fn save_snapshot(&self, _call: Call<v1::SaveSnapshotRequest>) -> Result<Response<SnapshotStream>, Status> {
        // The leader, after confirming it still leads, has applied every acknowledged write:
        // a snapshot at or after its applied index holds them all.
        self.node.linearize().await?;
        let applied = self.node.applied_index();
        self.snapshot_at_least(applied).await?;
        let backup = self.node.open_backup()?.ok_or_else(|| Status::internal("no snapshot after building one"))?;
        tracing::info!(log_index = backup.info.log_index, bytes = backup.info.size_bytes, "streaming a backup");
        ok(stream_backup(backup))
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
        ok(v1::LogFilter { node_id: self.node.id(), filter: logs.current(), previous })
    }

    async fn check_state(&self, _call: Call<v1::CheckStateRequest>) -> Result<Response<v1::StateCheck>, Status> {
        let (applied_log_index, check) = self.node.read_as_of(|state| {
            let warehouses: Vec<_> = state.warehouses().iter().map(|w| w.id.clone()).collect();
            let mut stock = Vec::new();
            for (item, _) in state.items() {
                for warehouse in &warehouses {
                    if let Ok(level) = state.stock(item, warehouse) {
                        stock.push(to_proto::stock_level(item.as_str(), warehouse.as_str(), &level));
                    }
                }
            }
            v1::StateCheck {
                digest: state.digest(),
                invariant_violation: state.check_invariants().err().map(|e| e.to_string()).unwrap_or_default(),
                holds: state.hold_count() as u64,
                open_holds: state.open_hold_count() as u64,
                stock,
                ..v1::StateCheck::default()
            }
        });
        ok(v1::StateCheck { node_id: self.node.id(), applied_log_index, ..check })
    }
}
