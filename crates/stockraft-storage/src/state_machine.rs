//! The Raft state machine: a thin adapter onto the stock ledger (`stockraft_core::State`).
//!
//! The ledger lives in memory; what makes it durable is the Raft log (on disk before any write
//! is acknowledged) plus persistent snapshots. On restart openraft installs the last snapshot and
//! re-applies the log up to the saved `committed` index, which rebuilds exactly the same state
//! because the ledger is deterministic.
//!
//! A snapshot is a consistent view at its log id: the builder takes a copy of the ledger under
//! the lock, at the applied log id, and serialises the copy while the live ledger moves on.

use crate::db::{self, CF_SNAPSHOT};
use crate::type_config::{LogId, Response, SnapshotMeta, StoredMembership, TypeConfig};
use futures_util::TryStreamExt;
use openraft::alias::SnapshotOf;
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine, Snapshot};
use openraft::{EntryPayload, OptionalSend, entry::RaftEntry};
use rocksdb::{DB, WriteBatch};
use std::io;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use stockraft_core::State;

const KEY_META: &str = "meta";
const KEY_DATA: &str = "data";

/// The applied state: the ledger and where in the log it stands.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    pub ledger: State,
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
}

/// The state machine store. Clones share the machine, so the server can read the ledger
/// (`read()`) while openraft applies to it.
#[derive(Clone)]
pub struct StateMachineStore {
    db: Arc<DB>,
    machine: Arc<RwLock<Machine>>,
}

/// The snapshot payload: the ledger's versioned snapshot image.
pub type SnapshotData = Vec<u8>;

impl StateMachineStore {
    pub fn new(db: Arc<DB>) -> Self {
        StateMachineStore { db, machine: Arc::default() }
    }

    /// Read access to the applied state.
    pub fn read(&self) -> RwLockReadGuard<'_, Machine> {
        self.machine.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Machine> {
        self.machine.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn save_snapshot(&self, meta: &SnapshotMeta, data: &[u8]) -> io::Result<()> {
        let family = db::cf(&self.db, CF_SNAPSHOT);
        let mut batch = WriteBatch::default();
        batch.put_cf(family, KEY_META, db::encode(meta)?);
        batch.put_cf(family, KEY_DATA, data);
        self.db.write_opt(batch, &db::durable()).map_err(|e| db::storage_error("saving a snapshot", e))
    }
}

fn meta_of(machine: &Machine) -> SnapshotMeta {
    SnapshotMeta { last_log_id: machine.last_applied, last_membership: machine.membership.clone() }
}

/// Builds a snapshot from a copy of the machine taken at one log id.
pub struct SnapshotBuilder {
    store: StateMachineStore,
    view: Machine,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<TypeConfig, SnapshotData>, io::Error> {
        let meta = meta_of(&self.view);
        let data = self.view.ledger.snapshot();
        self.store.save_snapshot(&meta, &data)?;
        tracing::info!(last_log_id = ?meta.last_log_id, bytes = data.len(), "snapshot built");
        Ok(Snapshot { meta, snapshot: data })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        let machine = self.read();
        Ok((machine.last_applied, machine.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: futures_util::Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        while let Some((entry, responder)) = entries.try_next().await? {
            let log_id = entry.log_id();
            let response = {
                let mut machine = self.write();
                let response = match entry.payload {
                    EntryPayload::Blank => Response::Cluster,
                    EntryPayload::Normal(command) => Response::Ledger(machine.ledger.apply(log_id.index(), &command)),
                    EntryPayload::Membership(membership) => {
                        machine.membership = StoredMembership::new(Some(log_id), membership);
                        Response::Cluster
                    }
                };
                machine.last_applied = Some(log_id);
                response
            };
            if let Some(responder) = responder {
                responder.send(response);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder { store: self.clone(), view: self.read().clone() }
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotData) -> Result<(), io::Error> {
        let ledger = State::restore(&snapshot)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("snapshot refused: {e}")))?;
        self.save_snapshot(meta, &snapshot)?;
        *self.write() = Machine { ledger, last_applied: meta.last_log_id, membership: meta.last_membership.clone() };
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<SnapshotOf<TypeConfig, SnapshotData>>, io::Error> {
        let Some(meta) = db::get::<SnapshotMeta>(&self.db, CF_SNAPSHOT, KEY_META)? else {
            return Ok(None);
        };
        let data = self
            .db
            .get_cf(db::cf(&self.db, CF_SNAPSHOT), KEY_DATA)
            .map_err(|e| db::storage_error("reading a snapshot", e))?
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "snapshot metadata without data"))?;
        Ok(Some(Snapshot { meta, snapshot: data }))
    }
}
