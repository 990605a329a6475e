//! A raffle for the scarcest goods: entries during an entry window, then a draw that anyone can
//! recompute.
//!
//! Commit, then reveal: the back office picks a secret seed and creates the raffle with the
//! seed's SHA-256, published before any entry. After the entries close it reveals the seed with
//! the draw; the ledger checks it against the commitment and orders the entries by
//!
//! ```text
//! score(entry) = SHA-256(seed || 0x00 || entry's order id, as UTF-8)
//! ```
//!
//! ascending (ties, which need a SHA-256 collision, by order id). Nobody could steer the order:
//! the seed was fixed before the entries were known, and the entries cannot be changed after
//! the seed is seen. The entries, the seed and the order are all readable (`GetRaffle`), so
//! `stockctl raffle verify`, or ten lines of any language, recomputes the draw.

use crate::campaign::{Person, people};
use crate::ids::HoldId;
use crate::waitlist::Waiting;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The draw order of entries by order id, for this seed (see the module doc).
pub fn draw_order<'a>(seed: &[u8], entries: impl IntoIterator<Item = &'a HoldId>) -> Vec<HoldId> {
    let mut scored: Vec<([u8; 32], &HoldId)> = entries.into_iter().map(|hold| (score(seed, hold), hold)).collect();
    scored.sort_unstable();
    scored.into_iter().map(|(_, hold)| hold.clone()).collect()
}

/// One entry's score: SHA-256(seed || 0x00 || order id).
pub fn score(seed: &[u8], hold: &HoldId) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(seed);
    hasher.update([0u8]);
    hasher.update(hold.as_str().as_bytes());
    hasher.finalize().into()
}

/// SHA-256 of a seed: the raffle's commitment.
pub fn commitment(seed: &[u8]) -> [u8; 32] {
    Sha256::digest(seed).into()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draw {
    pub seed: Vec<u8>,
    pub drawn_at_ms: u64,
    pub log_index: u64,
    /// Every entry's order id, in draw order: winners first as stock allows, the rest after, to
    /// whom unpaid and released holds pass.
    pub order: Vec<HoldId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raffle {
    pub entries_open_at_ms: u64,
    pub entries_close_at_ms: u64,
    pub seed_sha256: [u8; 32],
    pub created_at_ms: u64,
    /// Entries by order id (what the draw orders).
    pub(crate) entries: BTreeMap<HoldId, Waiting>,
    pub draw: Option<Draw>,
    /// Whose entry is whose (derived: rebuilt on restore).
    #[serde(skip)]
    pub(crate) people: BTreeMap<Person, HoldId>,
}

impl Raffle {
    pub(crate) fn new(entries_open_at_ms: u64, entries_close_at_ms: u64, seed_sha256: [u8; 32], now_ms: u64) -> Self {
        Raffle {
            entries_open_at_ms,
            entries_close_at_ms,
            seed_sha256,
            created_at_ms: now_ms,
            entries: BTreeMap::new(),
            draw: None,
            people: BTreeMap::new(),
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = &Waiting> {
        self.entries.values()
    }

    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn enter(&mut self, entry: Waiting) {
        for person in people(&entry.buyer, &entry.keys) {
            self.people.insert(person, entry.hold.clone());
        }
        self.entries.insert(entry.hold.clone(), entry);
    }

    pub(crate) fn rebuild_people(&mut self) {
        self.people.clear();
        for entry in self.entries.values() {
            for person in people(&entry.buyer, &entry.keys) {
                self.people.insert(person, entry.hold.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_a_function_of_the_seed_and_the_entries_alone() {
        let ids: Vec<HoldId> = (0..50).map(|n| HoldId::new(&format!("order-{n}")).unwrap()).collect();
        let one = draw_order(b"seed-1", &ids);
        assert_eq!(one, draw_order(b"seed-1", ids.iter().rev()), "entry order does not matter");
        assert_ne!(one, draw_order(b"seed-2", &ids), "another seed, another order");
        let mut sorted = one.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            {
                let mut all = ids.clone();
                all.sort();
                all
            },
            "everyone is drawn once"
        );
    }

    #[test]
    fn the_score_is_sha256_of_seed_zero_byte_and_order_id() {
        let hex = |bytes: [u8; 32]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        // printf 's\0o' | sha256sum
        assert_eq!(
            hex(score(b"s", &HoldId::new("o").unwrap())),
            "e13d902428e48946c016d72a7b61ff34fccd18cfe6f7af4982295b44b0a55e44"
        );
        // printf '' | sha256sum
        assert_eq!(hex(commitment(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
