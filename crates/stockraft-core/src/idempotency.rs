//! Request ids already applied, so a retried request is answered, never applied twice.
//!
//! A request is remembered by a fingerprint of its payload (a stable 128-bit hash of its
//! canonical encoding): the same id with the same payload returns the first outcome, the same id
//! with another payload is `ALREADY_EXISTS`. Ids are forgotten oldest first, after
//! [`IDEMPOTENCY_WINDOW_MS`] of log time or when more than [`IDEMPOTENCY_ENTRIES_MAX`] are held.
//!
//! Entries live in a queue in the order they were remembered (log order, hence time order), and
//! a small map points from id to queue position: forgetting is a pop from the front, and the
//! map's entries stay small, so growing it during a sale moves little memory.

use crate::command::Op;
use crate::ids::RequestId;
use crate::limits::{IDEMPOTENCY_ENTRIES_MAX, IDEMPOTENCY_WINDOW_MS};
use crate::maps::IdMap;
use crate::reply::Outcome;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

/// Encodings up to this size are hashed from a stack buffer (every reserve of a few lines);
/// larger ones are streamed into the hasher.
const FINGERPRINT_BUFFER_BYTES: usize = 512;

/// A stable 64-bit hash of an operation's canonical (postcard) encoding: xxh3, which is
/// specified and stable across processes, machines and compiler versions (unlike `std::hash`),
/// because it is stored in snapshots and compared on every replica. Two different payloads under
/// one request id collide with probability 2^-64: such a retry would be answered instead of
/// refused, and never applied twice either way.
pub fn fingerprint(op: &Op) -> u64 {
    let mut buffer = [0u8; FINGERPRINT_BUFFER_BYTES];
    match postcard::to_slice(op, &mut buffer) {
        Ok(encoded) => xxh3_64(encoded),
        Err(_) => postcard::serialize_with_flavor(op, HashingFlavor(Xxh3::new())).expect("hashing cannot fail"),
    }
}

struct HashingFlavor(Xxh3);

impl postcard::ser_flavors::Flavor for HashingFlavor {
    type Output = u64;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.update(&[byte]);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.update(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<u64> {
        Ok(self.0.digest())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub request_id: RequestId,
    pub fingerprint: u64,
    pub at_ms: u64,
    pub outcome: Outcome,
}

/// What the table says about an incoming request.
pub enum Seen<'a> {
    New,
    /// Same id, same payload: answer with the first outcome.
    Replay(&'a Outcome),
    /// Same id, different payload.
    Conflict,
}

#[derive(Clone, Debug, Default)]
pub struct RequestTable {
    /// Remembered requests, oldest first.
    queue: VecDeque<Remembered>,
    /// The position each request was given; `queue[position - first_position]`.
    position: IdMap<RequestId, u64>,
    first_position: u64,
}

impl RequestTable {
    fn get(&self, id: &RequestId) -> Option<&Remembered> {
        let position = self.position.get(id)?;
        self.queue.get((position - self.first_position) as usize)
    }

    pub fn seen(&self, id: &RequestId, fingerprint: u64) -> Seen<'_> {
        match self.get(id) {
            None => Seen::New,
            Some(remembered) if remembered.fingerprint == fingerprint => Seen::Replay(&remembered.outcome),
            Some(_) => Seen::Conflict,
        }
    }

    pub fn remember(&mut self, remembered: Remembered) {
        let position = self.first_position + self.queue.len() as u64;
        let previous = self.position.insert(remembered.request_id.clone(), position);
        debug_assert!(previous.is_none(), "request {} remembered twice", remembered.request_id);
        self.queue.push_back(remembered);
        if self.queue.len() > IDEMPOTENCY_ENTRIES_MAX {
            self.forget_oldest();
        }
    }

    /// Forgets up to `most` ids remembered at least [`IDEMPOTENCY_WINDOW_MS`] before `now_ms`;
    /// returns how many, and whether more are due.
    pub fn forget_expired(&mut self, now_ms: u64, most: usize) -> (u32, bool) {
        let mut forgotten = 0;
        while let Some(oldest) = self.queue.front() {
            if oldest.at_ms.saturating_add(IDEMPOTENCY_WINDOW_MS) > now_ms {
                return (forgotten, false);
            }
            if forgotten as usize == most {
                return (forgotten, true);
            }
            self.forget_oldest();
            forgotten += 1;
        }
        (forgotten, false)
    }

    fn forget_oldest(&mut self) {
        if let Some(oldest) = self.queue.pop_front() {
            self.position.remove(&oldest.request_id);
            self.first_position += 1;
        }
    }

    /// When the oldest remembered request was applied (log time).
    pub fn oldest_at_ms(&self) -> Option<u64> {
        self.queue.front().map(|oldest| oldest.at_ms)
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Entries oldest first (the snapshot's canonical order).
    pub fn iter(&self) -> impl Iterator<Item = &Remembered> {
        self.queue.iter()
    }

    /// Rebuilds the table from entries oldest first; `None` if an id appears twice.
    pub(crate) fn from_ordered(entries: Vec<Remembered>) -> Option<Self> {
        let mut table = RequestTable::default();
        table.position.reserve(entries.len());
        for remembered in entries {
            if table.position.contains_key(&remembered.request_id) {
                return None;
            }
            table.remember(remembered);
        }
        Some(table)
    }

    pub fn contains(&self, id: &RequestId) -> bool {
        self.position.contains_key(id)
    }
}
