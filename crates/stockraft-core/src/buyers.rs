//! What each buyer (and each identity key) holds and bought, per SKU: the figures the per-buyer
//! caps read.
//!
//! Derived from the retained holds (rebuilt on restore, checked by the invariants), kept in a
//! [`Slab`] because a flash sale brings one new buyer per hold: 48 bytes a buyer plus 4 of
//! index, where a map from id to a list of (SKU, usage) took 57 a bucket. Identity keys use a
//! second table of the same shape ([`KeyTable`]), so a key and a buyer id that happen to be
//! spelled alike are never one person.

use crate::catalog::SkuIndex;
use crate::ids::{BuyerId, IdentityKey};
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

/// One buyer's (or identity key's) usage of the SKUs it touched.
#[derive(Clone, Debug)]
pub(crate) struct Buyer<K = BuyerId> {
    pub id: K,
    /// A buyer touches a handful of SKUs (one, in a flash sale), so a short list.
    pub skus: SmallVec<[SkuUsage; 1]>,
}

impl<K: std::hash::Hash + Eq> Keyed for Buyer<K> {
    type Key = K;
    fn key(&self) -> &K {
        &self.id
    }
}

#[derive(Clone, Debug)]
pub(crate) struct BuyerTable<K = BuyerId> {
    buyers: Slab<Buyer<K>>,
}

/// Usage per identity key: what the caps read for the person behind several accounts.
pub(crate) type KeyTable = BuyerTable<IdentityKey>;

impl<K> Default for BuyerTable<K> {
    fn default() -> Self {
        BuyerTable { buyers: Slab::default() }
    }
}

impl<K: std::hash::Hash + Eq + Clone> BuyerTable<K> {
    pub fn usage(&self, sku: SkuIndex, buyer: &K) -> BuyerUsage {
        let skus = self.buyers.get(buyer).map_or(&[][..], |buyer| &buyer.skus[..]);
        skus.iter().find(|entry| entry.sku == sku).map_or(BuyerUsage::default(), SkuUsage::usage)
    }

    /// Adds signed amounts to a buyer's usage of a SKU, dropping entries that reach zero.
    ///
    /// # Panics
    /// If a figure would go below zero: the holds and this table disagree.
    pub fn add(&mut self, sku: SkuIndex, buyer: &K, units: i32, open_holds: i32) {
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
    pub fn iter(&self) -> impl Iterator<Item = &Buyer<K>> {
        self.buyers.values()
    }
}
