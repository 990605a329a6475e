//! A slab of keyed values with a hash index of bare slots: the shape of the ledger's most
//! numerous tables (holds, buyers).
//!
//! Values live in a `Vec` (which grows by reallocating in place), and the index keeps only a
//! 4-byte slot per value, found by hashing the key and comparing it with the value's own: a map
//! from key to value would store every key twice and move whole entries as it grows. Slots are
//! internal: nothing observable or serialised depends on them, so a restored state may number
//! them differently.

use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash};

/// A value's place in its slab.
pub type Slot = u32;

/// A value that carries its own key.
pub trait Keyed {
    type Key: Hash + Eq;
    fn key(&self) -> &Self::Key;
}

#[derive(Clone, Debug)]
pub struct Slab<T> {
    slots: Vec<Option<T>>,
    index: HashTable<Slot>,
    /// Emptied slots, reused last-freed first.
    free: Vec<Slot>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { slots: Vec::new(), index: HashTable::new(), free: Vec::new() }
    }
}

/// The same fixed hasher as every id map (`maps.rs`): deterministic, fast on short ids.
fn hash<K: Hash>(key: &K) -> u64 {
    foldhash::fast::FixedState::default().hash_one(key)
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
        self.slots[slot as usize].as_ref().expect("slot in use")
    }

    pub fn at_mut(&mut self, slot: Slot) -> &mut T {
        self.slots[slot as usize].as_mut().expect("slot in use")
    }

    /// The value in `slot`, if the slot is in use.
    pub fn get_at(&self, slot: Slot) -> Option<&T> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// Adds a value whose key is not in the slab; returns its slot.
    ///
    /// # Panics
    /// If the key is already there: two values under one key would corrupt the table.
    pub fn insert(&mut self, value: T) -> Slot {
        assert!(self.slot_of(value.key()).is_none(), "a key inserted twice");
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                Slot::try_from(self.slots.len() - 1).expect("fewer than 2^32 values")
            }
        };
        let key_hash = hash(value.key());
        self.slots[slot as usize] = Some(value);
        let slots = &self.slots;
        let rehash = |&slot: &Slot| hash(slots[slot as usize].as_ref().expect("indexed slot in use").key());
        self.index.insert_unique(key_hash, slot, rehash);
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
        self.slots[slot as usize].take().expect("slot in use")
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Values in slot order (not a canonical order: sort by key where order matters).
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
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
        assert_eq!(slab.slots.len(), 10_000, "freed slots were reused before the slab grew");
    }

    #[test]
    #[should_panic(expected = "a key inserted twice")]
    fn a_key_cannot_be_inserted_twice() {
        let mut slab = Slab::default();
        slab.insert(Named("a".into(), 1));
        slab.insert(Named("a".into(), 2));
    }
}
