//! Allocation: which warehouses a reserve's units come from. Pure planning over the current
//! stock; nothing changes until the whole plan is committed, which makes multi-line reserves
//! all-or-nothing.
//!
//! The order, for each line:
//! 1. candidate warehouses: active ones in the buyer's region first, then the rest, each group
//!    by (priority, id);
//! 2. the whole line from the first warehouse that has it on hand;
//! 3. if the SKU allows splitting, units from on-hand stock across warehouses in that order;
//! 4. if the SKU sells presale units, the same two steps again counting in-transit stock, up to
//!    the SKU's remaining presale allowance.
//!
//! One unit of a SKU (all its components) always comes from one warehouse.

use crate::catalog::{ItemIndex, Sku, SkuIndex, WarehouseIndex};
use crate::error::Rejection;
use crate::hold::{Allocation, HoldLine};
use crate::limits::LINE_QUANTITY_MAX;
use crate::state::State;
use smallvec::SmallVec;

/// What a reserve would take, ready to commit.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub lines: SmallVec<[HoldLine; 1]>,
    pub allocations: SmallVec<[Allocation; 1]>,
}

impl Plan {
    /// Units of `item` at `warehouse` this plan already takes.
    fn taken(&self, item: ItemIndex, warehouse: WarehouseIndex) -> u32 {
        self.allocations
            .iter()
            .filter(|taken| taken.item == item && taken.warehouse == warehouse)
            .map(|taken| taken.quantity)
            .sum()
    }

    fn take(&mut self, sku: &Sku, warehouse: WarehouseIndex, units: u32) {
        for component in &sku.components {
            let quantity = units * component.quantity;
            match self.allocations.iter_mut().find(|taken| taken.item == component.item && taken.warehouse == warehouse)
            {
                Some(taken) => taken.quantity += quantity,
                None => self.allocations.push(Allocation { item: component.item, warehouse, quantity }),
            }
        }
    }
}

/// How many units of a SKU one warehouse can supply, counted up to [`LINE_QUANTITY_MAX`] (no
/// line needs more), so that sums over every warehouse cannot overflow.
#[derive(Clone, Copy)]
struct Capacity {
    on_hand: u32,
    with_transit: u32,
}

impl Capacity {
    /// Units available to a line allowed `presale_left` units from transit.
    fn with_presale(self, presale_left: u32) -> u32 {
        self.with_transit.min(self.on_hand.saturating_add(presale_left))
    }
}

impl State {
    /// Plans `lines` for a buyer in `region`; `Err(OutOfStock)` names the first line that
    /// cannot be filled.
    pub(crate) fn plan(&self, region: Option<&str>, lines: &[(SkuIndex, u32)]) -> Result<Plan, Rejection> {
        let mut plan = Plan::default();
        for &(sku_at, quantity) in lines {
            let presale_units = self.plan_line(&mut plan, region, sku_at, quantity)?;
            plan.lines.push(HoldLine { sku: sku_at, quantity, presale_units });
        }
        Ok(plan)
    }

    /// Adds one line to `plan`; returns how many of its units are presold from transit.
    fn plan_line(
        &self,
        plan: &mut Plan,
        region: Option<&str>,
        sku_at: SkuIndex,
        quantity: u32,
    ) -> Result<u32, Rejection> {
        let sku = &self.skus[sku_at as usize];
        if let Some(presold) = self.fill(plan, region, sku, quantity, 0) {
            return Ok(presold);
        }
        let presale_left =
            sku.rules.presale_units_max.saturating_sub(sku.presale_units_live + plan_presale(plan, sku_at));
        if presale_left > 0
            && let Some(presold) = self.fill(plan, region, sku, quantity, presale_left)
        {
            return Ok(presold);
        }
        let available = self.best_effort(plan, region, sku, presale_left);
        debug_assert!(available < quantity, "fill would have taken it");
        Err(Rejection::OutOfStock { sku: sku.id.clone(), requested: quantity, available })
    }

    /// Takes `quantity` units of `sku` into `plan`, at most `presale_left` of them from transit:
    /// the whole line from one warehouse if one can supply it, else (if the SKU allows) on-hand
    /// units across warehouses, then transit units. Returns the presold units, or `None` (and
    /// leaves `plan` untouched) if the line cannot be filled.
    fn fill(&self, plan: &mut Plan, region: Option<&str>, sku: &Sku, quantity: u32, presale_left: u32) -> Option<u32> {
        let capacity = |plan: &Plan, warehouse| self.capacity(plan, sku, warehouse);
        let whole = self.candidates(region).find(|&w| capacity(plan, w).with_presale(presale_left) >= quantity);
        if let Some(warehouse) = whole {
            let presold = quantity.saturating_sub(capacity(plan, warehouse).on_hand);
            plan.take(sku, warehouse, quantity);
            return Some(presold);
        }
        if !sku.rules.allow_split || self.best_effort(plan, region, sku, presale_left) < quantity {
            return None;
        }
        // On-hand units everywhere first, so presale is the last resort.
        let mut missing = quantity;
        for warehouse in self.candidates(region) {
            let units = capacity(plan, warehouse).on_hand.min(missing);
            if units > 0 {
                plan.take(sku, warehouse, units);
                missing -= units;
            }
        }
        let presold = missing;
        for warehouse in self.candidates(region) {
            let units = capacity(plan, warehouse).with_transit.min(missing);
            if units > 0 {
                plan.take(sku, warehouse, units);
                missing -= units;
            }
        }
        debug_assert_eq!(missing, 0, "best_effort promised the whole line");
        debug_assert!(presold <= presale_left);
        Some(presold)
    }

    /// The most units of `sku` one line could get now: across warehouses if the SKU allows
    /// splitting, else from the best single warehouse; at most `presale_left` from transit.
    fn best_effort(&self, plan: &Plan, region: Option<&str>, sku: &Sku, presale_left: u32) -> u32 {
        let capacities = self.candidates(region).map(|w| self.capacity(plan, sku, w));
        if sku.rules.allow_split {
            let (on_hand, with_transit) =
                capacities.fold((0u32, 0u32), |(a, b), c| (a + c.on_hand, b + c.with_transit));
            with_transit.min(on_hand.saturating_add(presale_left))
        } else {
            capacities.map(|c| c.with_presale(presale_left)).max().unwrap_or(0)
        }
    }

    /// Active warehouses, the buyer's region first, each group by (priority, id).
    fn candidates<'a>(&'a self, region: Option<&'a str>) -> impl Iterator<Item = WarehouseIndex> + 'a {
        let in_region = move |w: &WarehouseIndex| region.is_some_and(|r| self.warehouses[*w as usize].region == r);
        let order = &self.allocation_order;
        order.iter().copied().filter(in_region).chain(order.iter().copied().filter(move |w| !in_region(w)))
    }

    /// Units of `sku` that `warehouse` can still supply after what `plan` already takes.
    fn capacity(&self, plan: &Plan, sku: &Sku, warehouse: WarehouseIndex) -> Capacity {
        let mut capacity = Capacity { on_hand: LINE_QUANTITY_MAX, with_transit: LINE_QUANTITY_MAX };
        for component in &sku.components {
            let level = self.items[component.item as usize].level(warehouse);
            let taken = plan.taken(component.item, warehouse);
            capacity.on_hand = capacity.on_hand.min(level.available().saturating_sub(taken) / component.quantity);
            capacity.with_transit =
                capacity.with_transit.min(level.available_with_transit().saturating_sub(taken) / component.quantity);
        }
        capacity
    }
}

fn plan_presale(plan: &Plan, sku: SkuIndex) -> u32 {
    plan.lines.iter().filter(|line| line.sku == sku).map(|line| line.presale_units).sum()
}
