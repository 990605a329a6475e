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

    /// Changes a hold's other fields (a re-hold's fresh allocations). Its state changes only
    /// through [`HoldTable::set_state`], which keeps the HELD count: asserted here.
    pub fn update<R>(&mut self, id: &HoldId, change: impl FnOnce(&mut Hold) -> R) -> R {
        let hold = self.holds.get_mut(id).expect("hold exists");
        let state = hold.state;
        let changed = change(hold);
        assert_eq!(hold.state, state, "hold {id}: a state change bypassed set_state");
        changed
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::BuyerId;
    use smallvec::SmallVec;

    fn held(id: &str) -> Hold {
        Hold {
            id: HoldId::new(id).unwrap(),
            buyer: BuyerId::new("alice").unwrap(),
            region: None,
            state: HoldState::Held,
            lines: SmallVec::new(),
            allocations: SmallVec::new(),
            created_at_ms: 1,
            expires_at_ms: Some(1_001),
            closed_at_ms: None,
            rehold_count: 0,
            serial: 0,
        }
    }

    #[test]
    fn the_held_count_follows_inserts_state_changes_and_removals() {
        let mut table = HoldTable::default();
        let (a, b) = (HoldId::new("a").unwrap(), HoldId::new("b").unwrap());
        table.insert(held("a"));
        table.insert(held("b"));
        assert_eq!(table.held(), 2);
        table.set_state(&a, HoldState::Confirmed);
        assert_eq!(table.held(), 1);
        table.update(&a, |hold| hold.rehold_count += 1);
        assert_eq!((table.held(), table[&a].rehold_count), (1, 1));
        table.remove(&b);
        assert_eq!((table.held(), table.len()), (0, 1));
    }

    #[test]
    #[should_panic(expected = "a state change bypassed set_state")]
    fn a_state_change_outside_set_state_is_caught() {
        let mut table = HoldTable::default();
        table.insert(held("a"));
        table.update(&HoldId::new("a").unwrap(), |hold| hold.state = HoldState::Released);
    }
}
