//! The table of retained holds: a dense slab of holds plus a small id-to-slot map.
//!
//! Holds are the most numerous objects in a sale. Keeping them in a `Vec` (which grows by
//! reallocating in place) and only a 32-byte entry per hold in the hash map keeps the memory a
//! sale touches, and so the page faults it pays for, low. Slots are internal: nothing
//! observable or serialised depends on them, so a restored state may number them differently.

use crate::hold::{Hold, HoldState};
use crate::ids::HoldId;
use crate::maps::IdMap;
use std::ops::Index;

/// A hold's place in the slab.
pub type HoldSlot = u32;

#[derive(Clone, Debug, Default)]
pub struct HoldTable {
    slots: Vec<Option<Hold>>,
    by_id: IdMap<HoldId, HoldSlot>,
    /// Emptied slots, reused last-freed first.
    free: Vec<HoldSlot>,
    /// Holds in HELD, kept as holds come, go and change state (through [`HoldTable::set_state`]),
    /// so the open-hold gauge is not a walk over a million holds; checked against a recount by
    /// the invariants.
    held: usize,
}

impl HoldTable {
    pub fn slot_of(&self, id: &HoldId) -> Option<HoldSlot> {
        self.by_id.get(id).copied()
    }

    pub fn get(&self, id: &HoldId) -> Option<&Hold> {
        self.slot_of(id).map(|slot| self.at(slot))
    }

    pub fn get_mut(&mut self, id: &HoldId) -> Option<&mut Hold> {
        let slot = self.slot_of(id)?;
        self.slots[slot as usize].as_mut()
    }

    pub fn at(&self, slot: HoldSlot) -> &Hold {
        self.slots[slot as usize].as_ref().expect("slot in use")
    }

    /// The hold in `slot`, if the slot is in use.
    pub fn get_at(&self, slot: HoldSlot) -> Option<&Hold> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    pub fn contains_key(&self, id: &HoldId) -> bool {
        self.by_id.contains_key(id)
    }

    /// Adds a hold whose id is not in the table; returns its slot.
    pub fn insert(&mut self, hold: Hold) -> HoldSlot {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                HoldSlot::try_from(self.slots.len() - 1).expect("fewer than 2^32 holds")
            }
        };
        self.held += usize::from(hold.state == HoldState::Held);
        let previous = self.by_id.insert(hold.id.clone(), slot);
        assert!(previous.is_none(), "hold {} inserted twice", hold.id);
        self.slots[slot as usize] = Some(hold);
        slot
    }

    pub fn remove(&mut self, id: &HoldId) -> Option<Hold> {
        let slot = self.by_id.remove(id)?;
        self.free.push(slot);
        let hold = self.slots[slot as usize].take();
        self.held -= usize::from(hold.as_ref().is_some_and(|hold| hold.state == HoldState::Held));
        hold
    }

    /// Moves a hold to `state` (the only way a hold's state changes once it is in the table),
    /// and returns it.
    pub fn set_state(&mut self, id: &HoldId, state: HoldState) -> &mut Hold {
        let slot = self.slot_of(id).expect("hold exists");
        let hold = self.slots[slot as usize].as_mut().expect("a filed slot holds a hold");
        self.held = self.held + usize::from(state == HoldState::Held) - usize::from(hold.state == HoldState::Held);
        hold.state = state;
        hold
    }

    /// Holds in HELD.
    pub fn held(&self) -> usize {
        self.held
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Holds in slot order (not a canonical order: sort by id where order matters).
    pub fn values(&self) -> impl Iterator<Item = &Hold> {
        self.slots.iter().flatten()
    }
}

impl Index<&HoldId> for HoldTable {
    type Output = Hold;

    fn index(&self, id: &HoldId) -> &Hold {
        self.get(id).unwrap_or_else(|| panic!("hold {id} is not in the table"))
    }
}
