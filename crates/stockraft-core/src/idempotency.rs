//! Request ids already applied, so a retried request is answered, never applied twice.
//!
//! A request is remembered by a fingerprint of its payload (a stable 128-bit hash of its
//! canonical encoding): the same id with the same payload returns the first outcome, the same id
//! with another payload is `ALREADY_EXISTS`. Ids are forgotten oldest first, after
//! [`IDEMPOTENCY_WINDOW_MS`] of log time or when more than [`IDEMPOTENCY_ENTRIES_MAX`] are held.

use crate::command::Op;
use crate::ids::RequestId;
use crate::limits::{IDEMPOTENCY_ENTRIES_MAX, IDEMPOTENCY_WINDOW_MS};
use crate::reply::Outcome;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use xxhash_rust::xxh3::Xxh3;

/// A stable hash of an operation's canonical (postcard) encoding. Stable across processes,
/// machines and compiler versions, unlike `std::hash`, because replicas compare it.
pub fn fingerprint(op: &Op) -> u128 {
    postcard::serialize_with_flavor(op, HashingFlavor(Xxh3::new())).expect("hashing an operation cannot fail")
}

struct HashingFlavor(Xxh3);

impl postcard::ser_flavors::Flavor for HashingFlavor {
    type Output = u128;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.update(&[byte]);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.update(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<u128> {
        Ok(self.0.digest128())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub fingerprint: u128,
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
    by_id: FxHashMap<RequestId, Remembered>,
    /// Ids in the order they were remembered (log order, so also time order).
    order: VecDeque<RequestId>,
}

impl RequestTable {
    pub fn seen(&self, id: &RequestId, fingerprint: u128) -> Seen<'_> {
        match self.by_id.get(id) {
            None => Seen::New,
            Some(remembered) if remembered.fingerprint == fingerprint => Seen::Replay(&remembered.outcome),
            Some(_) => Seen::Conflict,
        }
    }

    pub fn remember(&mut self, id: RequestId, remembered: Remembered) {
        let previous = self.by_id.insert(id.clone(), remembered);
        debug_assert!(previous.is_none(), "request {id} remembered twice");
        self.order.push_back(id);
        if self.order.len() > IDEMPOTENCY_ENTRIES_MAX {
            self.forget_oldest();
        }
    }

    /// Forgets up to `most` ids remembered at least [`IDEMPOTENCY_WINDOW_MS`] before `now_ms`;
    /// returns how many, and whether more are due.
    pub fn forget_expired(&mut self, now_ms: u64, most: usize) -> (u32, bool) {
        let mut forgotten = 0;
        while let Some(oldest) = self.order.front() {
            if self.by_id[oldest].at_ms.saturating_add(IDEMPOTENCY_WINDOW_MS) > now_ms {
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
        if let Some(oldest) = self.order.pop_front() {
            self.by_id.remove(&oldest);
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Entries in the order they were remembered (the snapshot's canonical order).
    pub fn iter(&self) -> impl Iterator<Item = (&RequestId, &Remembered)> {
        self.order.iter().map(|id| (id, &self.by_id[id]))
    }

    pub(crate) fn from_ordered(entries: Vec<(RequestId, Remembered)>) -> Self {
        let mut table = RequestTable::default();
        table.by_id.reserve(entries.len());
        for (id, remembered) in entries {
            table.by_id.insert(id.clone(), remembered);
            table.order.push_back(id);
        }
        table
    }

    /// Distinct ids in the table (equal to `len` unless a snapshot was corrupt).
    pub(crate) fn distinct(&self) -> usize {
        self.by_id.len()
    }

    pub fn contains(&self, id: &RequestId) -> bool {
        self.by_id.contains_key(id)
    }
}
