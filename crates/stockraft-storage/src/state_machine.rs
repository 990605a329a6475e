//! The Raft state machine: a thin adapter onto the stock ledger (`stockraft_core::State`).
//!
//! The ledger lives in memory; what makes it durable is the Raft log (on disk before any write
//! is acknowledged) plus persistent snapshots. On restart openraft installs the last snapshot and
//! re-applies the log up to the saved `committed` index, which rebuilds exactly the same state
//! because the ledger is deterministic.
//!
//! A snapshot is a consistent view at its log id. The builder notes the applied log id and
//! rebuilds the state there from the last snapshot and the log, on a blocking thread, while
//! the live ledger moves on (see [`SnapshotBuilder`]).

use crate::db::{self, CF_SNAPSHOT};
use crate::log_store;
use crate::snapshot_file::SnapshotFile;
use crate::type_config::{LogId, Response, SnapshotMeta, StoredMembership, TypeConfig};
use futures_util::TryStreamExt;
use openraft::alias::SnapshotOf;
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine, Snapshot};
use openraft::{EntryPayload, OptionalSend, entry::RaftEntry};
use rocksdb::DB;
use std::io::{self, Read};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;
use stockraft_core::State;

const KEY_META: &str = "meta";

/// Metrics (stockd serves them; see its `telemetry::prometheus`): the last snapshot's size, how
/// long builds take, and how many were built here or installed from the leader.
const SNAPSHOT_BYTES: &str = "stockraft_snapshot_bytes";
const SNAPSHOT_SECONDS: &str = "stockraft_snapshot_build_seconds";
const SNAPSHOT_FAILURES: &str = "stockraft_snapshot_failures_total";

/// Counts a snapshot that could not be built and saved, or installed.
fn failed(how: &'static str) {
    metrics::counter!(SNAPSHOT_FAILURES, "how" => how).increment(1);
}
const SNAPSHOTS: &str = "stockraft_snapshots_total";
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
    /// Only read: snapshots saved by builds before they moved to [`SnapshotFile`].
    db: Arc<DB>,
    file: SnapshotFile,
    machine: Arc<RwLock<Machine>>,
}

/// A saved snapshot, to stream out as a backup.
pub struct Backup {
    pub meta: SnapshotMeta,
    /// The size of the whole backup (header and image).
    pub bytes: u64,
    pub reader: Box<dyn io::Read + Send>,
}

/// The snapshot payload: the ledger's versioned snapshot image.
pub type SnapshotData = Vec<u8>;

impl StateMachineStore {
    pub fn new(db: Arc<DB>, file: SnapshotFile) -> Self {
        StateMachineStore { db, file, machine: Arc::default() }
    }

    /// Read access to the applied state.
    pub fn read(&self) -> RwLockReadGuard<'_, Machine> {
        self.machine.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Machine> {
        self.machine.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn save_snapshot(&self, meta: &SnapshotMeta, data: &[u8]) -> io::Result<()> {
        self.file.save(meta, data)
    }

    /// The last saved snapshot: the file, or failing that one an older build saved.
    fn current_snapshot(&self) -> io::Result<Option<(SnapshotMeta, SnapshotData)>> {
        match self.file.load()? {
            Some(saved) => Ok(Some(saved)),
            None => self.legacy_snapshot(),
        }
    }

    /// The last saved snapshot as a backup: its metadata, its size and a reader of its bytes (in
    /// the format of [`crate::backup`]). The reader sees the snapshot as it was when this was
    /// called, even if a newer one is saved while it is read.
    pub fn backup(&self) -> io::Result<Option<Backup>> {
        if let Some(mut file) = self.file.open_current()? {
            let bytes = file.metadata()?.len();
            let mut length = [0; 4];
            file.read_exact(&mut length)?;
            let mut header = length.to_vec();
            let meta_len = (u32::from_le_bytes(length) as usize).min(crate::backup::META_BYTES_MAX);
            header.resize(4 + meta_len, 0);
            file.read_exact(&mut header[4..])?;
            let (meta, _) = crate::backup::parse(header.clone())?;
            let reader = io::Cursor::new(header).chain(file);
            return Ok(Some(Backup { meta, bytes, reader: Box::new(reader) }));
        }
        let Some((meta, image)) = self.legacy_snapshot()? else { return Ok(None) };
        let mut bytes = crate::backup::header(&meta)?;
        bytes.extend_from_slice(&image);
        Ok(Some(Backup { meta, bytes: bytes.len() as u64, reader: Box::new(io::Cursor::new(bytes)) }))
    }

    /// A snapshot an older build saved in the database (before snapshots moved to a file).
    fn legacy_snapshot(&self) -> io::Result<Option<(SnapshotMeta, SnapshotData)>> {
        let Some(meta) = db::get::<SnapshotMeta>(&self.db, CF_SNAPSHOT, KEY_META)? else {
            return Ok(None);
        };
        let data = self
            .db
            .get_cf(db::cf(&self.db, CF_SNAPSHOT), KEY_DATA)
            .map_err(|e| db::storage_error("reading a snapshot", e))?
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "snapshot metadata without data"))?;
        Ok(Some((meta, data)))
    }
}

/// Builds the snapshot at one log id without holding up the live ledger.
///
/// Copying the live ledger stops applies for as long as the copy takes (they run on the same
/// task that asks for the builder): 300 to 470 ms at 100,000 holds, measured, and it grows with
/// the ledger. So the builder only notes where the machine stands (`at`, and the membership
/// there), and on a blocking thread rebuilds that state from what is already durable: the last
/// snapshot plus the committed log entries after it, re-applied. The ledger is deterministic,
/// so this is the same state; it is how a restart rebuilds it too.
pub struct SnapshotBuilder {
    store: StateMachineStore,
    at: Option<LogId>,
    membership: StoredMembership,
}

/// What [`SnapshotBuilder::rebuild`] found.
enum Rebuilt {
    /// The state at the builder's log id.
    At(Box<State>, RebuildCounts),
    /// A snapshot past the builder's log id was installed from the leader meanwhile.
    Overtaken(SnapshotMeta, SnapshotData),
}

impl SnapshotBuilder {
    /// The machine at `self.at`: the last saved snapshot, then the log up to `at`.
    fn rebuild(&self) -> io::Result<Rebuilt> {
        let mut counts = RebuildCounts::default();
        let (mut ledger, from) = match self.store.current_snapshot()? {
            Some((meta, image)) if meta.last_log_id <= self.at => {
                let ledger = State::restore(&image).map_err(|e| db::corrupt(format!("saved snapshot refused: {e}")))?;
                (ledger, meta.last_log_id.map_or(0, |id| id.index() + 1))
            }
            Some((meta, image)) => return Ok(Rebuilt::Overtaken(meta, image)),
            None => (State::new(), 0),
        };
        let Some(at) = self.at else { return Ok(Rebuilt::At(Box::new(ledger), counts)) };
        let mut expected = from;
        log_store::for_each_entry(&self.store.db, from, at.index(), |entry| {
            if entry.index() != expected {
                return Err(db::corrupt(format!("log entry {expected} is missing (found {})", entry.index())));
            }
            expected += 1;
            if let EntryPayload::Normal(command) = &entry.payload {
                // The outcome went to its client when the entry was first applied.
                let _ = ledger.apply(entry.index(), command);
            }
            counts.entries += 1;
            Ok(())
        })?;
        if expected != at.index() + 1 {
            return Err(db::corrupt(format!("the log ends at {expected} before the snapshot point {}", at.index())));
        }
        Ok(Rebuilt::At(Box::new(ledger), counts))
    }

    fn build(&self) -> io::Result<SnapshotOf<TypeConfig, SnapshotData>> {
        let started = Instant::now();
        let (meta, ledger, replayed) = match self.rebuild() {
            Ok(Rebuilt::At(ledger, counts)) => (
                SnapshotMeta { last_log_id: self.at, last_membership: self.membership.clone() },
                ledger,
                counts.entries,
            ),
            Ok(Rebuilt::Overtaken(meta, snapshot)) => {
                tracing::info!(last_log_id = ?meta.last_log_id, "snapshot build overtaken by an installed snapshot");
                return Ok(Snapshot { meta, snapshot });
            }
            // Not expected (the log after the last snapshot is kept until the next one is
            // saved), but the live ledger is always a correct source: copy it, as applies wait.
            Err(e) => {
                tracing::warn!(error = %e, "snapshot: cannot rebuild from the log; copying the live ledger instead");
                let machine = self.store.read().clone();
                (meta_of(&machine), Box::new(machine.ledger), 0)
            }
        };
        let rebuilt = started.elapsed();
        let data = ledger.snapshot();
        let encoded = started.elapsed() - rebuilt;
        self.store.save_snapshot(&meta, &data).inspect_err(|_| failed("built"))?;
        metrics::histogram!(SNAPSHOT_SECONDS).record(started.elapsed().as_secs_f64());
        metrics::gauge!(SNAPSHOT_BYTES).set(data.len() as f64);
        metrics::counter!(SNAPSHOTS, "how" => "built").increment(1);
        tracing::info!(
            last_log_id = ?meta.last_log_id,
            bytes = data.len(),
            replayed_entries = replayed,
            rebuild_ms = rebuilt.as_millis() as u64,
            encode_ms = encoded.as_millis() as u64,
            save_ms = (started.elapsed() - rebuilt - encoded).as_millis() as u64,
            "snapshot built"
        );
        Ok(Snapshot { meta, snapshot: data })
    }
}

fn meta_of(machine: &Machine) -> SnapshotMeta {
    SnapshotMeta { last_log_id: machine.last_applied, last_membership: machine.membership.clone() }
}

#[derive(Default)]
struct RebuildCounts {
    entries: u64,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<TypeConfig, SnapshotData>, io::Error> {
        let builder = SnapshotBuilder { store: self.store.clone(), at: self.at, membership: self.membership.clone() };
        // Seconds of CPU for a large ledger: off the async workers, which serve clients and Raft.
        tokio::task::spawn_blocking(move || builder.build())
            .await
            .map_err(|e| io::Error::other(format!("the snapshot builder panicked: {e}")))?
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
        let machine = self.read();
        SnapshotBuilder { store: self.clone(), at: machine.last_applied, membership: machine.membership.clone() }
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotData) -> Result<(), io::Error> {
        let ledger = State::restore(&snapshot)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("snapshot refused: {e}")))
            .inspect_err(|_| failed("installed"))?;
        self.save_snapshot(meta, &snapshot).inspect_err(|_| failed("installed"))?;
        metrics::gauge!(SNAPSHOT_BYTES).set(snapshot.len() as f64);
        metrics::counter!(SNAPSHOTS, "how" => "installed").increment(1);
        *self.write() = Machine { ledger, last_applied: meta.last_log_id, membership: meta.last_membership.clone() };
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<SnapshotOf<TypeConfig, SnapshotData>>, io::Error> {
        Ok(self.current_snapshot()?.map(|(meta, snapshot)| Snapshot { meta, snapshot }))
    }
}
