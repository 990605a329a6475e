//! The table of retained holds: a [`Slab`] of holds (4 bytes of index per hold) that also counts
//! the holds in HELD.

use crate::hold::{Hold, HoldState};
use crate::ids::HoldId;
use crate::slab::{Keyed, Slab, Slot};
use std::ops::Index;

/// A hold's place in the slab.
pub type HoldSlot = Slot;

impl Keyed for Hold {
    type Key = HoldId;
    fn key(&self) -> &HoldId {
        &self.id
    }
}

#[derive(Clone, Debug, Default)]
pub struct HoldTable {
    holds: Slab<Hold>,
    /// Holds in HELD, kept as holds come, go and change state (through [`HoldTable::set_state`]),
    /// so the open-hold gauge is not a walk over a million holds; checked against a recount by
    /// the invariants.
    held: usize,
}

impl HoldTable {
    pub fn slot_of(&self, id: &HoldId) -> Option<HoldSlot> {
        self.holds.slot_of(id)
    }

    pub fn get(&self, id: &HoldId) -> Option<&Hold> {
        self.holds.get(id)
    }

    pub fn get_mut(&mut self, id: &HoldId) -> Option<&mut Hold> {
        self.holds.get_mut(id)
    }

    pub fn at(&self, slot: HoldSlot) -> &Hold {
        self.holds.at(slot)
    }

    /// The hold in `slot`, if the slot is in use.
    pub fn get_at(&self, slot: HoldSlot) -> Option<&Hold> {
        self.holds.get_at(slot)
    }

    pub fn contains_key(&self, id: &HoldId) -> bool {
        self.holds.slot_of(id).is_some()
    }

    /// Adds a hold whose id is not in the table; returns its slot.
    pub fn insert(&mut self, hold: Hold) -> HoldSlot {
        self.held += usize::from(hold.state == HoldState::Held);
        self.holds.insert(hold)
    }

    pub fn remove(&mut self, id: &HoldId) -> Option<Hold> {
        let hold = self.holds.remove(id)?;
        self.held -= usize::from(hold.state == HoldState::Held);
        Some(hold)
    }

    /// Moves a hold to `state` (the only way a hold's state changes once it is in the table),
    /// and returns it.
    pub fn set_state(&mut self, id: &HoldId, state: HoldState) -> &mut Hold {
        let hold = self.holds.get_mut(id).expect("hold exists");
        self.held = self.held + usize::from(state == HoldState::Held) - usize::from(hold.state == HoldState::Held);
        hold.state = state;
        hold
    }

    /// Holds in HELD.
    pub fn held(&self) -> usize {
        self.held
    }

    pub fn len(&self) -> usize {
        self.holds.len()
    }

    /// Holds in slot order (not a canonical order: sort by id where order matters).
    pub fn values(&self) -> impl Iterator<Item = &Hold> {
        self.holds.values()
    }
}

impl Index<&HoldId> for HoldTable {
    type Output = Hold;

    fn index(&self, id: &HoldId) -> &Hold {
        self.get(id).unwrap_or_else(|| panic!("hold {id} is not in the table"))
    }
}
