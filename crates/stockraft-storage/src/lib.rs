//! # stockraft-storage: the Raft log and state machine on RocksDB
//!
//! - [`LogStore`]: openraft's log storage (entries, vote, committed index, purge point) in one
//!   RocksDB per node, with synced votes and group-committed appends;
//! - [`StateMachineStore`]: openraft's state machine, a thin adapter onto the in-memory stock
//!   ledger (`stockraft_core::State`) with persistent, consistent snapshots.
//!
//! Both are checked against openraft's storage conformance suite (`tests/conformance.rs`).
//! See `DESIGN.md` for what is durable when.

pub mod backup;
mod codec;
mod db;
mod log_store;
pub mod restore;
mod snapshot_file;
mod state_machine;
mod type_config;

pub use log_store::LogStore;
pub use state_machine::{Backup, Machine, SnapshotBuilder, SnapshotData, StateMachineStore};
pub use type_config::{Entry, LogId, Response, SnapshotMeta, StoredMembership, TypeConfig, Vote};

use std::io;
use std::path::Path;

/// Opens (creating if needed) a node's storage under `dir`.
pub fn open(dir: &Path) -> io::Result<(LogStore, StateMachineStore)> {
    let db = db::open(dir)?;
    let snapshots = snapshot_file::SnapshotFile::open(dir)?;
    Ok((LogStore::new(db.clone())?, StateMachineStore::new(db, snapshots)))
}
