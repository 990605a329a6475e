//! What each buyer holds and bought, per SKU: the figures the per-buyer caps read.
//!
//! Derived from the retained holds (rebuilt on restore, checked by the invariants), kept in a
//! [`Slab`] because a flash sale brings one new buyer per hold: 48 bytes a buyer plus 4 of
//! index, where a map from id to a list of (SKU, usage) took 57 a bucket.

use crate::catalog::SkuIndex;
use crate::ids::BuyerId;
use crate::slab::{Keyed, Slab};
use crate::state::BuyerUsage;
use smallvec::SmallVec;

/// One buyer's footprint on one SKU, flattened to 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SkuUsage {
    pub units: u64,
    pub sku: SkuIndex,
    pub open_holds: u32,
}

impl SkuUsage {
    pub fn usage(&self) -> BuyerUsage {
        BuyerUsage { units: self.units, open_holds: self.open_holds }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Buyer {
    pub id: BuyerId,
    /// A buyer touches a handful of SKUs (one, in a flash sale), so a short list.
    pub skus: SmallVec<[SkuUsage; 1]>,
}

impl Keyed for Buyer {
    type Key = BuyerId;
    fn key(&self) -> &BuyerId {
        &self.id
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct BuyerTable {
    buyers: Slab<Buyer>,
}

impl BuyerTable {
    pub fn usage(&self, sku: SkuIndex, buyer: &BuyerId) -> BuyerUsage {
        let skus = self.buyers.get(buyer).map_or(&[][..], |buyer| &buyer.skus[..]);
        skus.iter().find(|entry| entry.sku == sku).map_or(BuyerUsage::default(), SkuUsage::usage)
    }

    /// Adds signed amounts to a buyer's usage of a SKU, dropping entries that reach zero.
    ///
    /// # Panics
    /// If a figure would go below zero: the holds and this table disagree.
    pub fn add(&mut self, sku: SkuIndex, buyer: &BuyerId, units: i32, open_holds: i32) {
        let slot = match self.buyers.slot_of(buyer) {
            Some(slot) => slot,
            None => self.buyers.insert(Buyer { id: buyer.clone(), skus: SmallVec::new() }),
        };
        let skus = &mut self.buyers.at_mut(slot).skus;
        let at = match skus.iter().position(|entry| entry.sku == sku) {
            Some(at) => at,
            None => {
                skus.push(SkuUsage { units: 0, sku, open_holds: 0 });
                skus.len() - 1
            }
        };
        let entry = &mut skus[at];
        entry.units = entry.units.checked_add_signed(i64::from(units)).expect("buyer units underflow");
        entry.open_holds = entry.open_holds.checked_add_signed(open_holds).expect("buyer open holds underflow");
        if entry.units == 0 && entry.open_holds == 0 {
            skus.swap_remove(at);
            if skus.is_empty() {
                self.buyers.remove_at(slot);
            }
        }
    }

    /// Every buyer, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Buyer> {
        self.buyers.values()
    }
}
