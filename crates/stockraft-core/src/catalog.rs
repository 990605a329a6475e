//! Warehouses, items and SKUs: what the platform sells and where it is kept.
//!
//! Catalog entries are never deleted (a warehouse is deactivated, a SKU has its rules changed),
//! so each gets a dense index at creation, in log order, that holds and stock levels use instead
//! of the string id. Same log, same indexes: the assignment is deterministic.

use crate::ids::{BuyerId, ItemId, SkuId, WarehouseId};
use crate::rules::SaleRules;
use crate::stock::StockLevel;
use crate::window::SaleWindow;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::BTreeSet;

/// Dense index of a warehouse (creation order).
pub type WarehouseIndex = u32;
/// Dense index of an item (creation order).
pub type ItemIndex = u32;
/// Dense index of a SKU (creation order).
pub type SkuIndex = u32;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warehouse {
    pub id: WarehouseId,
    pub name: CompactString,
    pub region: CompactString,
    /// Lower is preferred when allocating.
    pub priority: u32,
    /// Inactive warehouses keep their stock but are never allocated from.
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub name: CompactString,
    /// Stock per warehouse, indexed by [`WarehouseIndex`]; grown on first touch.
    pub levels: Vec<StockLevel>,
}

impl Item {
    pub(crate) fn level(&self, warehouse: WarehouseIndex) -> StockLevel {
        self.levels.get(warehouse as usize).copied().unwrap_or_default()
    }

    pub(crate) fn level_mut(&mut self, warehouse: WarehouseIndex) -> &mut StockLevel {
        let at = warehouse as usize;
        if self.levels.len() <= at {
            self.levels.resize(at + 1, StockLevel::default());
        }
        &mut self.levels[at]
    }
}

/// One component of a SKU: `quantity` units of `item` per unit of the SKU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub item: ItemIndex,
    pub quantity: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sku {
    pub id: SkuId,
    pub components: SmallVec<[Component; 2]>,
    pub rules: SaleRules,
    pub blocklist: BTreeSet<BuyerId>,
    /// SKU units currently allocated from in-transit stock by live (held, confirmed or shipped)
    /// holds; never above `rules.presale_units_max` when taken.
    pub presale_units_live: u32,
    /// When new demand is taken (`Op::SetSaleWindow`; none: always).
    pub window: SaleWindow,
}
