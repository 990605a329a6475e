//! What this node may truthfully say about leadership, for health, metrics and status.
//!
//! openraft keeps a leader a leader until it sees a higher term, so a leader cut off from its
//! quorum (the other nodes dead or partitioned away) still reports `ServerState::Leader` while
//! every write it takes times out. Raft's safety does not suffer, but load balancers, alerts and
//! SREs would believe it. openraft already gates proposals on a *quorum lease* (its CheckQuorum:
//! a proposal is refused unless a quorum acknowledged an AppendEntries sent within the last
//! `election_timeout_max`). The view here applies that same lease, read from Raft's metrics
//! (`last_quorum_acked`), so health, metrics and status agree with what the write path does:
//! a leader whose lease lapsed reports [`Role::LeaderWithoutQuorum`] and no usable leader.
//!
//! An explicit quorum check (a read index per health probe) would cost a round of heartbeats
//! per probe and still answer late on a dead quorum (it waits for its timeout); the lease costs
//! nothing and flips within one election timeout of the last acknowledgement.

use openraft::{Instant as _, ServerState};
use std::time::Duration;
use stockraft_storage::TypeConfig;

/// A node's role as others should act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Leads, and a quorum acknowledged it within the lease: writes commit here.
    Leader,
    /// Still leads by term, but no quorum acknowledged it within the lease: writes cannot commit.
    LeaderWithoutQuorum,
    /// A voter following `leader` (or no one, between elections).
    Follower,
    /// Asking for votes: no leader is known.
    Candidate,
    /// A non-voting member, receiving the log.
    Learner,
    /// Raft has stopped on this node.
    Shutdown,
}

/// One reading of the leadership view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leadership {
    pub role: Role,
    /// The leader this node can act on (itself included): `None` during elections and when this
    /// node leads without a quorum.
    pub leader: Option<u64>,
    /// On a leader: how long ago the newest AppendEntries a quorum acknowledged was sent (zero
    /// when this node alone is the quorum); `None` before any acknowledgement and elsewhere.
    pub quorum_ack_age: Option<Duration>,
}

impl Leadership {
    /// Reads the view from `metrics` of node `id`, with `lease` (openraft's
    /// `election_timeout_max`).
    pub fn of(metrics: &openraft::RaftMetrics<TypeConfig>, id: u64, lease: Duration) -> Leadership {
        let membership = metrics.membership_config.membership();
        let alone = membership.voter_ids().all(|voter| voter == id);
        let quorum_ack_age = match metrics.state {
            ServerState::Leader if alone => Some(Duration::ZERO),
            ServerState::Leader => metrics.last_quorum_acked.as_ref().map(|acked| acked.elapsed()),
            _ => None,
        };
        Self::judge(metrics.state, metrics.current_leader, id, quorum_ack_age, lease)
    }

    /// The rule itself, apart from openraft's types.
    fn judge(
        state: ServerState,
        current_leader: Option<u64>,
        id: u64,
        quorum_ack_age: Option<Duration>,
        lease: Duration,
    ) -> Leadership {
        let role = match state {
            ServerState::Leader if quorum_ack_age.is_some_and(|age| age < lease) => Role::Leader,
            ServerState::Leader => Role::LeaderWithoutQuorum,
            ServerState::Follower => Role::Follower,
            ServerState::Candidate => Role::Candidate,
            ServerState::Learner => Role::Learner,
            ServerState::Shutdown => Role::Shutdown,
        };
        let leader = match role {
            Role::Leader => Some(id),
            Role::LeaderWithoutQuorum | Role::Candidate | Role::Shutdown => None,
            Role::Follower | Role::Learner => current_leader.filter(|leader| *leader != id),
        };
        Leadership { role, leader, quorum_ack_age }
    }

    /// Whether this node leads with its quorum.
    pub fn leads(&self) -> bool {
        self.role == Role::Leader
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_millis(600);

    fn judge(state: ServerState, current: Option<u64>, age_ms: Option<u64>) -> Leadership {
        Leadership::judge(state, current, 1, age_ms.map(Duration::from_millis), LEASE)
    }

    #[test]
    fn a_leader_is_one_only_while_a_quorum_acknowledged_it_within_the_lease() {
        assert_eq!(judge(ServerState::Leader, Some(1), Some(100)).leader, Some(1));
        assert_eq!(judge(ServerState::Leader, Some(1), Some(100)).role, Role::Leader);
        // The other two nodes died 13 s ago: openraft still says Leader, the view does not.
        let cut_off = judge(ServerState::Leader, Some(1), Some(13_000));
        assert_eq!((cut_off.role, cut_off.leader), (Role::LeaderWithoutQuorum, None));
        // Elected but not yet acknowledged by anyone.
        assert_eq!(judge(ServerState::Leader, Some(1), None).role, Role::LeaderWithoutQuorum);
        // Exactly at the lease's end, openraft refuses proposals too.
        assert_eq!(judge(ServerState::Leader, Some(1), Some(600)).role, Role::LeaderWithoutQuorum);
    }

    #[test]
    fn followers_and_learners_name_the_leader_they_follow_and_candidates_none() {
        assert_eq!(judge(ServerState::Follower, Some(2), None).leader, Some(2));
        assert_eq!(judge(ServerState::Follower, None, None).leader, None);
        assert_eq!(judge(ServerState::Learner, Some(3), None).leader, Some(3));
        assert_eq!(judge(ServerState::Candidate, Some(2), None).leader, None);
        assert_eq!(judge(ServerState::Shutdown, Some(2), None).leader, None);
        // A follower never names itself (a stale metric right after stepping down).
        assert_eq!(judge(ServerState::Follower, Some(1), None).leader, None);
    }
}
