//! A slab of keyed values with a hash index of bare slots: the shape of the ledger's most
//! numerous tables (holds, buyers).
//!
//! Values live in fixed chunks of [`CHUNK_SLOTS`] that never move, and the index keeps only a
//! 4-byte slot per value, found by hashing the key and comparing it with the value's own: a map
//! from key to value would store every key twice and move whole entries as it grows. (One `Vec`
//! of values was tried first: each doubling copied the whole table into fresh pages, and that
//! copy, with the kernel zeroing the pages it landed on, was 10% of all CPU in a million-unit
//! sale.) Slots are internal: nothing observable or serialised depends on them, so a restored
//! state may number them differently.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use std::hash::{BuildHasher, Hash};

/// A value's place in its slab.
pub type Slot = u32;

/// Slots per chunk: 176 KiB of holds, 48 KiB of buyers; small against a sale, large enough that
/// the list of chunks stays a few thousand pointers.
const CHUNK_SLOTS: usize = 1_024;

/// A value that carries its own key.
pub trait Keyed {
    type Key: Hash + Eq;
    fn key(&self) -> &Self::Key;
}

#[derive(Clone, Debug)]
pub struct Slab<T> {
    /// Chunks of exactly [`CHUNK_SLOTS`] slots; slots at and past `slots_used` are empty.
    chunks: Vec<Box<[Option<T>]>>,
    /// Slots handed out so far (in use or in `free`).
    slots_used: usize,
    index: HashTable<Slot>,
    /// Emptied slots, reused last-freed first.
    free: Vec<Slot>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { chunks: Vec::new(), slots_used: 0, index: HashTable::new(), free: Vec::new() }
    }
}

/// The same fixed hasher as every id map (`maps.rs`): deterministic, fast on short ids.
fn hash<K: Hash>(key: &K) -> u64 {
    foldhash::fast::FixedState::default().hash_one(key)
}

impl<T> Slab<T> {
    fn cell(&self, slot: Slot) -> Option<&Option<T>> {
        let slot = slot as usize;
        self.chunks.get(slot / CHUNK_SLOTS).map(|chunk| &chunk[slot % CHUNK_SLOTS])
    }

    fn cell_mut(&mut self, slot: Slot) -> &mut Option<T> {
        let slot = slot as usize;
        &mut self.chunks[slot / CHUNK_SLOTS][slot % CHUNK_SLOTS]
    }

    /// A slot no value is in: the last freed, else the next new one (a new chunk when needed).
    fn vacant(&mut self) -> Slot {
        if let Some(slot) = self.free.pop() {
            return slot;
        }
        if self.slots_used == self.chunks.len() * CHUNK_SLOTS {
            self.chunks.push((0..CHUNK_SLOTS).map(|_| None).collect());
        }
        self.slots_used += 1;
        Slot::try_from(self.slots_used - 1).expect("fewer than 2^32 values")
    }
}

impl<T: Keyed> Slab<T> {
    pub fn slot_of(&self, key: &T::Key) -> Option<Slot> {
        self.index.find(hash(key), |&slot| self.at(slot).key() == key).copied()
    }

    pub fn get(&self, key: &T::Key) -> Option<&T> {
        self.slot_of(key).map(|slot| self.at(slot))
    }

    pub fn get_mut(&mut self, key: &T::Key) -> Option<&mut T> {
        let slot = self.slot_of(key)?;
        Some(self.at_mut(slot))
    }

    /// The value in `slot`, which must be in use.
    pub fn at(&self, slot: Slot) -> &T {
        self.get_at(slot).expect("slot in use")
    }

    pub fn at_mut(&mut self, slot: Slot) -> &mut T {
        self.cell_mut(slot).as_mut().expect("slot in use")
    }

    /// The value in `slot`, if the slot is in use.
    pub fn get_at(&self, slot: Slot) -> Option<&T> {
        self.cell(slot).and_then(Option::as_ref)
    }

    /// Adds a value whose key is not in the slab; returns its slot.
    ///
    /// # Panics
    /// If the key is already there: two values under one key would corrupt the table.
    pub fn insert(&mut self, value: T) -> Slot {
        let key_hash = hash(value.key());
        let slot = self.vacant();
        let chunks = &self.chunks;
        let at = |slot: Slot| chunks[slot as usize / CHUNK_SLOTS][slot as usize % CHUNK_SLOTS].as_ref();
        // One probe both checks the key is new and finds where its slot goes.
        let entry = self.index.entry(
            key_hash,
            |&indexed| at(indexed).is_some_and(|v| v.key() == value.key()),
            |&indexed| hash(at(indexed).expect("indexed slot in use").key()),
        );
        let Entry::Vacant(vacant) = entry else { panic!("a key inserted twice") };
        vacant.insert(slot);
        self.chunks[slot as usize / CHUNK_SLOTS][slot as usize % CHUNK_SLOTS] = Some(value);
        slot
    }

    pub fn remove(&mut self, key: &T::Key) -> Option<T> {
        let slot = self.slot_of(key)?;
        Some(self.remove_at(slot))
    }

    /// Removes the value in `slot`, which must be in use.
    pub fn remove_at(&mut self, slot: Slot) -> T {
        let key_hash = hash(self.at(slot).key());
        let entry = self.index.find_entry(key_hash, |&indexed| indexed == slot);
        entry.expect("every value is indexed").remove();
        self.free.push(slot);
        self.cell_mut(slot).take().expect("slot in use")
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Values in slot order (not a canonical order: sort by key where order matters).
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flat_map(|chunk| chunk.iter()).take(self.slots_used).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Named(String, u32);

    impl Keyed for Named {
        type Key = String;
        fn key(&self) -> &String {
            &self.0
        }
    }

    #[test]
    fn values_are_found_by_key_through_growth_removal_and_slot_reuse() {
        let mut slab = Slab::default();
        for n in 0..10_000 {
            slab.insert(Named(format!("hold-{n}"), n));
        }
        for n in (0..10_000).step_by(3) {
            assert_eq!(slab.remove(&format!("hold-{n}")), Some(Named(format!("hold-{n}"), n)));
        }
        for n in 0..1_000 {
            slab.insert(Named(format!("again-{n}"), n));
        }
        assert_eq!(slab.len(), 10_000 - 3_334 + 1_000);
        assert_eq!(slab.values().count(), slab.len());
        for n in 0..10_000 {
            let found = slab.get(&format!("hold-{n}")).map(|named| named.1);
            assert_eq!(found, (n % 3 != 0).then_some(n), "hold-{n}");
        }
        assert!((0..1_000).all(|n| slab.get(&format!("again-{n}")).is_some_and(|named| named.1 == n)));
        assert_eq!(slab.slots_used, 10_000, "freed slots were reused before the slab grew");
        assert_eq!(slab.chunks.len(), 10_000usize.div_ceil(CHUNK_SLOTS));
    }

    #[test]
    #[should_panic(expected = "a key inserted twice")]
    fn a_key_cannot_be_inserted_twice() {
        let mut slab = Slab::default();
        slab.insert(Named("a".into(), 1));
        slab.insert(Named("a".into(), 2));
    }
}
