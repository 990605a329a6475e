//! The Raft type configuration: what a log entry carries and what applying it answers.

use serde::{Deserialize, Serialize};
use stockraft_core::{Command, Outcome};

openraft::declare_raft_types!(
    /// stockraft's Raft types: entries carry ledger commands, node ids are `u64`, nodes are
    /// known by their address.
    pub TypeConfig:
        D = Command,
        R = Response,
        NodeId = u64,
        Node = openraft::BasicNode,
);

/// What applying one log entry answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The ledger's outcome for a command.
    Ledger(Outcome),
    /// A blank or membership entry: nothing for a client.
    Cluster,
}

pub type LogId = openraft::alias::LogIdOf<TypeConfig>;
pub type Entry = openraft::alias::EntryOf<TypeConfig>;
pub type Vote = openraft::alias::VoteOf<TypeConfig>;
pub type StoredMembership = openraft::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;
