//! The Raft log and vote, on RocksDB, honouring openraft's durability contract:
//!
//! - `save_vote` returns only once the vote is on disk (a synced write);
//! - `append` writes the entries (readable at once) and returns; a flusher thread fsyncs the
//!   WAL and only then fires the entries' callback. Callbacks that queue up while an fsync is
//!   running share the next one (group commit), so a burst of appends costs one fsync;
//! - writes are issued in call order on one database, whose WAL is sequential: a later synced
//!   write (a vote) also makes every earlier append durable;
//! - truncation and purging are single range deletes, so they never leave a hole.
//!
//! The flusher thread holds the database too. It is joined when the last clone of the store is
//! dropped: a detached thread releasing RocksDB while the process exits races RocksDB's static
//! destructors and aborts ("pthread lock: Invalid argument", facebook/rocksdb#11349).

use crate::db::{self, CF_LOG, CF_META};
use crate::type_config::{Entry, LogId, TypeConfig, Vote};
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{OptionalSend, entry::RaftEntry};
use rocksdb::{DB, Direction, IteratorMode, WriteBatch};
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

const KEY_VOTE: &str = "vote";
const KEY_COMMITTED: &str = "committed";
pub(crate) const KEY_LAST_PURGED: &str = "last_purged";

/// The log store; clones share the database and the flusher (a clone is the log reader).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    flusher: Arc<Flusher>,
}

/// The flusher thread's queue; dropping it closes the queue and waits for the thread, which
/// completes every queued callback first.
struct Flusher {
    queue: Option<mpsc::Sender<IOFlushed<TypeConfig>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Flusher {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            // A panic in the flusher has already been reported on its own thread.
            let _ = thread.join();
        }
    }
}

impl LogStore {
    pub fn new(db: Arc<DB>) -> io::Result<Self> {
        let (queue, pending) = mpsc::channel();
        let flush_db = db.clone();
        let thread =
            thread::Builder::new().name("raft-log-flush".into()).spawn(move || flush_loop(&flush_db, &pending))?;
        Ok(LogStore { db, flusher: Arc::new(Flusher { queue: Some(queue), thread: Some(thread) }) })
    }

    fn last_entry_id(&self) -> io::Result<Option<LogId>> {
        let mut last = self.db.iterator_cf(db::cf(&self.db, CF_LOG), IteratorMode::End);
        match last.next() {
            None => Ok(None),
            Some(item) => {
                let (_, bytes) = item.map_err(|e| db::storage_error("reading the log", e))?;
                Ok(Some(db::decode::<Entry>("log entry", &bytes)?.log_id()))
            }
        }
    }

    fn put_meta<T: serde::Serialize>(&self, key: &str, value: &T, durable: bool) -> io::Result<()> {
        let bytes = db::encode(value)?;
        let family = db::cf(&self.db, CF_META);
        let result = if durable {
            self.db.put_cf_opt(family, key, bytes, &db::durable())
        } else {
            self.db.put_cf(family, key, bytes)
        };
        result.map_err(|e| db::storage_error("writing metadata", e))
    }
}

/// Calls `f` on each entry with an index in `from..=to`, in index order, one at a time (a
/// snapshot rebuild reads up to a whole snapshot interval of entries).
pub(crate) fn for_each_entry(
    db: &DB,
    from: u64,
    to: u64,
    mut f: impl FnMut(Entry) -> io::Result<()>,
) -> io::Result<()> {
    let start = db::index_key(from);
    for item in db.iterator_cf(db::cf(db, CF_LOG), IteratorMode::From(&start, Direction::Forward)) {
        let (key, bytes) = item.map_err(|e| db::storage_error("reading the log", e))?;
        if db::index_of(&key)? > to {
            break;
        }
        f(db::decode("log entry", &bytes)?)?;
    }
    Ok(())
}

/// The fsync latency histogram (named by stockraft-server's telemetry, which lists every metric).
const FSYNC_SECONDS: &str = "stockraft_log_fsync_seconds";

/// Fsyncs the WAL for every batch of queued callbacks, then completes them in order.
fn flush_loop(db: &DB, pending: &mpsc::Receiver<IOFlushed<TypeConfig>>) {
    while let Ok(first) = pending.recv() {
        let mut callbacks = vec![first];
        callbacks.extend(pending.try_iter());
        let started = std::time::Instant::now();
        let flushed = db.flush_wal(true);
        metrics::histogram!(FSYNC_SECONDS).record(started.elapsed().as_secs_f64());
        for callback in callbacks {
            let result = flushed.as_ref().map(|_| ()).map_err(|e| io::Error::other(format!("rocksdb wal sync: {e}")));
            callback.io_completed(result);
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let start = match range.start_bound() {
            Bound::Included(&index) => index,
            Bound::Excluded(&index) => index.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let from = db::index_key(start);
        let iterator = self.db.iterator_cf(db::cf(&self.db, CF_LOG), IteratorMode::From(&from, Direction::Forward));
        let mut entries = Vec::new();
        for item in iterator {
            let (key, bytes) = item.map_err(|e| db::storage_error("reading the log", e))?;
            let index = db::index_of(&key)?;
            if !range.contains(&index) {
                break;
            }
            let entry: Entry = db::decode("log entry", &bytes)?;
            if entry.index() != index {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("log key {index} holds entry {}", entry.index()),
                ));
            }
            entries.push(entry);
        }
        Ok(entries)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        db::get(&self.db, CF_META, KEY_VOTE)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let last_purged_log_id: Option<LogId> = db::get(&self.db, CF_META, KEY_LAST_PURGED)?;
        let last_log_id = self.last_entry_id()?.or(last_purged_log_id);
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        self.put_meta(KEY_VOTE, vote, true)
    }

    /// Not synced on its own: it rides on the next log fsync. Because the WAL is sequential, a
    /// recovered `committed` never points past the durable log.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        self.put_meta(KEY_COMMITTED, &committed, false)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(db::get::<Option<LogId>>(&self.db, CF_META, KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let family = db::cf(&self.db, CF_LOG);
        let mut batch = WriteBatch::default();
        for entry in entries {
            batch.put_cf(family, db::index_key(entry.index()), db::encode(&entry)?);
        }
        self.db.write(batch).map_err(|e| db::storage_error("appending to the log", e))?;
        let queue = self.flusher.queue.as_ref().expect("the queue is only taken on drop");
        queue.send(callback).map_err(|_| io::Error::other("the log flusher thread has stopped"))
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.map_or(0, |id| id.index() + 1);
        let family = db::cf(&self.db, CF_LOG);
        self.db
            .delete_range_cf(family, db::index_key(from), db::index_key(u64::MAX))
            .map_err(|e| db::storage_error("truncating the log", e))?;
        // The key u64::MAX itself is outside the range; no entry can have it.
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        // Record the purge point first: entries at or below it are ignored from then on, so a
        // crash between the two writes leaves no hole that matters.
        self.put_meta(KEY_LAST_PURGED, &log_id, false)?;
        let family = db::cf(&self.db, CF_LOG);
        self.db
            .delete_range_cf(family, db::index_key(0), db::index_key(log_id.index() + 1))
            .map_err(|e| db::storage_error("purging the log", e))
    }
}
