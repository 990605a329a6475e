//! Request ids already applied, so a retried request is answered, never applied twice.
//!
//! A request is remembered by a fingerprint of its payload (a stable 128-bit hash of its
//! canonical encoding): the same id with the same payload returns the first outcome, the same id
//! with another payload is `ALREADY_EXISTS`. Ids are forgotten oldest first, after
//! [`IDEMPOTENCY_WINDOW_MS`] of log time or when more than [`IDEMPOTENCY_ENTRIES_MAX`] are held.
//!
//! Entries live in a queue in the order they were remembered (log order, hence time order), and
//! a hash table of bare queue positions finds them by id: forgetting is a pop from the front,
//! and a sale's million remembered requests cost about 70 bytes each, not the 235 that keeping
//! ids, a map from id to position and decoded outcomes took.

use crate::chunked_queue::ChunkedQueue;
use crate::command::Op;
use crate::ids::RequestId;
use crate::limits::{IDEMPOTENCY_ENTRIES_MAX, IDEMPOTENCY_WINDOW_MS};
use crate::reply::Outcome;
use hashbrown::HashTable;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{Xxh3, xxh3_64, xxh3_128};

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

/// A request id as the table keeps it: the id's 128-bit xxh3 hash (stable, like
/// [`fingerprint`]). Ids are up to 64 bytes and most are 32 (a UUID in hex), so keeping the hash
/// instead of the id halves the table; two ids collide with probability 2^-128, and a collision
/// would answer a new request as a retry of the other, never apply anything twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestKey([u64; 2]);

impl RequestKey {
    pub fn of(id: &RequestId) -> Self {
        let hash = xxh3_128(id.as_str().as_bytes());
        RequestKey([hash as u64, (hash >> 64) as u64])
    }

    /// The table's bucket hash: half of an already uniform hash, so no hashing again.
    fn bucket(self) -> u64 {
        self.0[0]
    }
}

/// A remembered request: its key, its payload's fingerprint, when, and its first outcome.
///
/// The outcome is kept as its postcard encoding (about 40 bytes for a hold receipt, against 88
/// for the `Outcome` value): replays are rare and decode it, every request encodes it once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub key: RequestKey,
    pub fingerprint: u64,
    pub at_ms: u64,
    outcome: Box<[u8]>,
}

impl Remembered {
    pub fn new(key: RequestKey, fingerprint: u64, at_ms: u64, outcome: &Outcome) -> Self {
        let outcome = postcard::to_allocvec(outcome).expect("encoding to memory cannot fail").into_boxed_slice();
        Remembered { key, fingerprint, at_ms, outcome }
    }

    /// The first outcome. Every entry decodes: it was encoded by [`Remembered::new`], or
    /// checked when its snapshot was restored ([`RequestTable::from_ordered`]).
    pub fn outcome(&self) -> Outcome {
        self.decoded().expect("a remembered outcome decodes")
    }

    /// The outcome, if the bytes are exactly one encoded outcome (trailing bytes would make a
    /// restored snapshot's bytes differ from the live state's).
    fn decoded(&self) -> postcard::Result<Outcome> {
        match postcard::take_from_bytes(&self.outcome)? {
            (outcome, []) => Ok(outcome),
            _ => Err(postcard::Error::DeserializeBadEncoding),
        }
    }
}

/// What the table says about an incoming request.
pub enum Seen {
    New,
    /// Same id, same payload: answer with the first outcome.
    Replay(Outcome),
    /// Same id, different payload.
    Conflict,
}

#[derive(Clone, Debug, Default)]
pub struct RequestTable {
    /// Remembered requests, oldest first.
    queue: ChunkedQueue<Remembered>,
    /// The position each request was given (`queue[position - first_position]`), found by the
    /// request's key: 9 bytes a bucket, where a map from key to position takes 25.
    positions: HashTable<u64>,
    first_position: u64,
}

impl RequestTable {
    fn at(&self, position: u64) -> &Remembered {
        &self.queue[(position - self.first_position) as usize]
    }

    fn get(&self, key: RequestKey) -> Option<&Remembered> {
        let position = self.positions.find(key.bucket(), |&position| self.at(position).key == key)?;
        Some(self.at(*position))
    }

    pub fn seen(&self, key: RequestKey, fingerprint: u64) -> Seen {
        match self.get(key) {
            None => Seen::New,
            Some(remembered) if remembered.fingerprint == fingerprint => Seen::Replay(remembered.outcome()),
            Some(_) => Seen::Conflict,
        }
    }

    pub fn remember(&mut self, remembered: Remembered) {
        debug_assert!(self.get(remembered.key).is_none(), "request {:?} remembered twice", remembered.key);
        let position = self.first_position + self.queue.len() as u64;
        let bucket = remembered.key.bucket();
        self.queue.push_back(remembered);
        let (queue, first) = (&self.queue, self.first_position);
        self.positions.insert_unique(bucket, position, |&p| queue[(p - first) as usize].key.bucket());
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
        if let Some(oldest) = self.queue.front() {
            let first = self.first_position;
            let entry = self.positions.find_entry(oldest.key.bucket(), |&position| position == first);
            entry.expect("every remembered request has a position").remove();
            self.queue.pop_front();
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

    /// Rebuilds the table from entries oldest first; `None` if a key appears twice or an
    /// outcome does not decode.
    pub(crate) fn from_ordered(entries: Vec<Remembered>) -> Option<Self> {
        let mut table = RequestTable::default();
        table.positions.reserve(entries.len(), |_| unreachable!("an empty table rehashes nothing"));
        for remembered in entries {
            if table.get(remembered.key).is_some() || remembered.decoded().is_err() {
                return None;
            }
            table.remember(remembered);
        }
        Some(table)
    }

    pub fn contains(&self, id: &RequestId) -> bool {
        self.get(RequestKey::of(id)).is_some()
    }
}
