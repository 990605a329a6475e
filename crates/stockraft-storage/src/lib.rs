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
#[cfg(feature = "rocksdb")]
mod db;
#[cfg(feature = "rocksdb")]
mod log_store;
#[cfg(feature = "rocksdb")]
pub mod restore;
#[cfg(feature = "rocksdb")]
mod snapshot_file;
#[cfg(feature = "rocksdb")]
mod state_machine;
mod type_config;

pub use codec::decode;
#[cfg(feature = "rocksdb")]
pub use log_store::LogStore;
#[cfg(feature = "rocksdb")]
pub use state_machine::{Backup, Machine, SnapshotBuilder, SnapshotData, StateMachineStore};
pub use type_config::{Entry, LogId, Response, SnapshotMeta, StoredMembership, TypeConfig, Vote};

#[cfg(feature = "rocksdb")]
use std::io;
#[cfg(feature = "rocksdb")]
use std::path::Path;

/// Opens (creating if needed) a node's storage under `dir`.
#[cfg(feature = "rocksdb")]
pub fn open(dir: &Path) -> io::Result<(LogStore, StateMachineStore)> {
    let db = db::open(dir)?;
    let snapshots = snapshot_file::SnapshotFile::open(dir)?;
    Ok((LogStore::new(db.clone())?, StateMachineStore::new(db, snapshots)))
}
