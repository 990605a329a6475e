//! Applying catalog commands: warehouses, items, SKUs and blocklists.

use crate::catalog::*;
use crate::command::{UpsertItem, UpsertSku, UpsertWarehouse};
use crate::error::Rejection;
use crate::ids::{BuyerId, SkuId};
use crate::limits::*;
use crate::reply::{Applied, Outcome};
use crate::state::State;
use crate::window::SaleWindow;
use smallvec::SmallVec;
use std::collections::BTreeSet;

impl State {
    pub(crate) fn upsert_warehouse(&mut self, upsert: &UpsertWarehouse) -> Outcome {
        let warehouse = Warehouse {
            id: upsert.id.clone(),
            name: upsert.name.clone(),
            region: upsert.region.clone(),
            priority: upsert.priority,
            active: upsert.active,
        };
        match self.warehouse_index.get(&upsert.id) {
            Some(&at) => self.warehouses[at as usize] = warehouse,
            None => {
                if self.warehouses.len() >= WAREHOUSES_MAX {
                    return Err(Rejection::invalid(format!("the cluster already has {WAREHOUSES_MAX} warehouses")));
                }
                self.warehouse_index.insert(upsert.id.clone(), self.warehouses.len() as WarehouseIndex);
                self.warehouses.push(warehouse);
            }
        }
        self.rebuild_allocation_order();
        Ok(Applied::Updated)
    }

    /// Active warehouses by (priority, id). Region preference is applied per reserve.
    pub(crate) fn rebuild_allocation_order(&mut self) {
        let warehouses = &self.warehouses;
        let mut order: Vec<WarehouseIndex> =
            (0..warehouses.len() as WarehouseIndex).filter(|&at| warehouses[at as usize].active).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&warehouses[a as usize], &warehouses[b as usize]);
            (a.priority, &a.id).cmp(&(b.priority, &b.id))
        });
        self.allocation_order = order;
    }

    pub(crate) fn upsert_item(&mut self, upsert: &UpsertItem) -> Outcome {
        match self.item_index.get(&upsert.id) {
            Some(&at) => self.items[at as usize].name = upsert.name.clone(),
            None => {
                if self.items.len() >= ITEMS_MAX {
                    return Err(Rejection::invalid(format!("the cluster already has {ITEMS_MAX} items")));
                }
                self.item_index.insert(upsert.id.clone(), self.items.len() as ItemIndex);
                self.items.push(Item { id: upsert.id.clone(), name: upsert.name.clone(), levels: Vec::new() });
            }
        }
        Ok(Applied::Updated)
    }

    /// Creates a SKU or replaces its components and rules. Live holds keep the allocations they
    /// took, so changing a bundle's recipe never corrupts stock already held.
    pub(crate) fn upsert_sku(&mut self, upsert: &UpsertSku) -> Outcome {
        let mut components = SmallVec::new();
        for (item, quantity) in &upsert.components {
            components.push(Component { item: self.item_at(item)?, quantity: *quantity });
        }
        match self.sku_index.get(&upsert.id) {
            Some(&at) => {
                // Waitlist places and raffle winners are granted holds with the SKU's TTL.
                let keeps_places = self.waitlists.get(&at).is_some_and(|list| list.length_max > 0 || !list.is_empty())
                    || self.raffles.get(&at).is_some_and(|raffle| raffle.draw.is_none());
                if keeps_places && upsert.rules.mode != crate::rules::DeductionMode::PreDeduct {
                    return Err(Rejection::invalid(format!(
                        "sku {} has an open waitlist, buyers waiting or a raffle not drawn: it stays PRE_DEDUCT until they are served and the waitlist is closed",
                        upsert.id
                    )));
                }
                let sku = &mut self.skus[at as usize];
                sku.components = components;
                sku.rules = upsert.rules.clone();
            }
            None => {
                if self.skus.len() >= SKUS_MAX {
                    return Err(Rejection::invalid(format!("the cluster already has {SKUS_MAX} skus")));
                }
                self.sku_index.insert(upsert.id.clone(), self.skus.len() as SkuIndex);
                self.skus.push(Sku {
                    id: upsert.id.clone(),
                    components,
                    rules: upsert.rules.clone(),
                    blocklist: BTreeSet::new(),
                    presale_units_live: 0,
                    window: SaleWindow::default(),
                });
            }
        }
        Ok(Applied::Updated)
    }

    /// Schedules (or clears) the SKU's sale window. Holds already taken are not touched.
    pub(crate) fn set_sale_window(&mut self, sku: &SkuId, window: SaleWindow) -> Outcome {
        let at = self.sku_at(sku)?;
        self.skus[at as usize].window = window;
        Ok(Applied::Updated)
    }

    pub(crate) fn set_blocked(&mut self, sku: &SkuId, buyer: &BuyerId, blocked: bool) -> Outcome {
        let at = self.sku_at(sku)?;
        let blocklist = &mut self.skus[at as usize].blocklist;
        if blocked {
            if blocklist.len() >= BLOCKLIST_MAX && !blocklist.contains(buyer) {
                return Err(Rejection::invalid(format!("sku {sku} already blocks {BLOCKLIST_MAX} buyers")));
            }
            blocklist.insert(buyer.clone());
        } else {
            blocklist.remove(buyer);
        }
        Ok(Applied::Updated)
    }
}
