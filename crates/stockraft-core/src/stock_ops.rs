//! Applying warehouse and ERP commands (receipts, counts, safety stock, inbound shipments), and
//! the one function through which every stock level changes.

use crate::catalog::{ItemIndex, WarehouseIndex};
use crate::command::{AddInbound, StockFigure};
use crate::error::{EntityKind, Rejection};
use crate::ids::{HoldId, ShipmentId};
use crate::ledger::{Deltas, LedgerEntry, LedgerOp};
use crate::limits::STOCK_QUANTITY_MAX;
use crate::reply::{Applied, Outcome, StockChange};
use crate::state::{Inbound, State};
use crate::stock::StockLevel;
use compact_str::CompactString;

impl State {
    /// Changes one stock level by `deltas` and writes the movement to the audit ledger.
    ///
    /// # Panics
    /// If a figure would go below zero or above `u32`: every caller checks its preconditions, so
    /// this is a bug that would otherwise corrupt stock on every replica.
    pub(crate) fn move_stock(
        &mut self,
        item: ItemIndex,
        warehouse: WarehouseIndex,
        op: LedgerOp,
        deltas: Deltas,
        hold: Option<&HoldId>,
        note: &str,
    ) -> StockLevel {
        let level = self.items[item as usize].level_mut(warehouse);
        let add = |figure: &mut u32, delta: i32, name: &str| {
            *figure = figure
                .checked_add_signed(delta)
                .unwrap_or_else(|| panic!("{name} {figure} {delta:+} out of range in {op:?}"));
        };
        add(&mut level.on_hand, deltas.on_hand, "on_hand");
        add(&mut level.safety_stock, deltas.safety_stock, "safety_stock");
        add(&mut level.held, deltas.held, "held");
        add(&mut level.committed, deltas.committed, "committed");
        add(&mut level.in_transit, deltas.in_transit, "in_transit");
        let after = *level;
        self.ledger.push(LedgerEntry {
            seq: 0,
            log_index: self.last_log_index,
            at_ms: self.clock_ms,
            op,
            item,
            warehouse,
            deltas,
            shortfall_after: after.shortfall(),
            hold: hold.cloned(),
            note: CompactString::new(note),
        });
        after
    }

    fn stock_change(&self, item: ItemIndex, warehouse: WarehouseIndex, level: StockLevel) -> Outcome {
        Ok(Applied::Stock(StockChange {
            item: self.items[item as usize].id.clone(),
            warehouse: self.warehouses[warehouse as usize].id.clone(),
            level,
            shortfall: level.shortfall(),
            log_index: self.last_log_index,
        }))
    }

    fn locate(&self, figure: &StockFigure) -> Result<(ItemIndex, WarehouseIndex, StockLevel), Rejection> {
        let item = self.item_at(&figure.item)?;
        let warehouse = self.warehouse_at(&figure.warehouse)?;
        Ok((item, warehouse, self.items[item as usize].level(warehouse)))
    }

    pub(crate) fn set_safety_stock(&mut self, figure: &StockFigure) -> Outcome {
        let (item, warehouse, level) = self.locate(figure)?;
        let deltas = Deltas { safety_stock: signed(figure.units) - signed(level.safety_stock), ..Deltas::default() };
        let level = self.move_stock(item, warehouse, LedgerOp::SetSafetyStock, deltas, None, &figure.note);
        self.stock_change(item, warehouse, level)
    }

    pub(crate) fn receive_stock(&mut self, figure: &StockFigure) -> Outcome {
        let (item, warehouse, level) = self.locate(figure)?;
        within_limit("on_hand", level.on_hand, figure.units)?;
        let deltas = Deltas { on_hand: signed(figure.units), ..Deltas::default() };
        let level = self.move_stock(item, warehouse, LedgerOp::ReceiveStock, deltas, None, &figure.note);
        self.stock_change(item, warehouse, level)
    }

    /// A physical count sets `on_hand`. A count below what is held and committed is recorded as
    /// a shortfall (in the ledger entry and the reply), never hidden and never negative stock.
    pub(crate) fn count_stock(&mut self, figure: &StockFigure) -> Outcome {
        let (item, warehouse, level) = self.locate(figure)?;
        let deltas = Deltas { on_hand: signed(figure.units) - signed(level.on_hand), ..Deltas::default() };
        let level = self.move_stock(item, warehouse, LedgerOp::CountStock, deltas, None, &figure.note);
        self.stock_change(item, warehouse, level)
    }

    pub(crate) fn add_inbound(&mut self, add: &AddInbound) -> Outcome {
        let item = self.item_at(&add.item)?;
        let warehouse = self.warehouse_at(&add.warehouse)?;
        if self.inbound.contains_key(&add.shipment) {
            return Err(Rejection::AlreadyExists {
                kind: EntityKind::Shipment,
                id: add.shipment.to_string(),
                detail: String::new(),
            });
        }
        within_limit("in_transit", self.items[item as usize].level(warehouse).in_transit, add.units)?;
        let inbound = Inbound { item, warehouse, units: add.units, expected_arrival_ms: add.expected_arrival_ms };
        self.inbound.insert(add.shipment.clone(), inbound);
        let deltas = Deltas { in_transit: signed(add.units), ..Deltas::default() };
        let level = self.move_stock(item, warehouse, LedgerOp::InboundAdded, deltas, None, add.shipment.as_str());
        self.stock_change(item, warehouse, level)
    }

    /// The shipment arrives: its units leave `in_transit`, and what was actually received joins
    /// `on_hand`. Presold units are thereby backed by on-hand stock; a short delivery shows up
    /// as a shortfall.
    pub(crate) fn receive_inbound(&mut self, shipment: &ShipmentId, received: u32, note: &str) -> Outcome {
        let inbound = self.open_inbound(shipment)?;
        within_limit("on_hand", self.items[inbound.item as usize].level(inbound.warehouse).on_hand, received)?;
        self.inbound.remove(shipment);
        let deltas = Deltas { on_hand: signed(received), in_transit: -signed(inbound.units), ..Deltas::default() };
        let note = format!("{shipment} {note}");
        let level =
            self.move_stock(inbound.item, inbound.warehouse, LedgerOp::InboundReceived, deltas, None, note.trim_end());
        self.stock_change(inbound.item, inbound.warehouse, level)
    }

    pub(crate) fn cancel_inbound(&mut self, shipment: &ShipmentId, note: &str) -> Outcome {
        let inbound = self.open_inbound(shipment)?;
        self.inbound.remove(shipment);
        let deltas = Deltas { in_transit: -signed(inbound.units), ..Deltas::default() };
        let note = format!("{shipment} {note}");
        let level =
            self.move_stock(inbound.item, inbound.warehouse, LedgerOp::InboundCancelled, deltas, None, note.trim_end());
        self.stock_change(inbound.item, inbound.warehouse, level)
    }

    fn open_inbound(&self, shipment: &ShipmentId) -> Result<Inbound, Rejection> {
        self.inbound.get(shipment).cloned().ok_or_else(|| Rejection::not_found(EntityKind::Shipment, shipment))
    }
}

/// Quantities are bounded by [`STOCK_QUANTITY_MAX`] (below `i32::MAX`), so this never wraps.
pub(crate) fn signed(units: u32) -> i32 {
    debug_assert!(units <= STOCK_QUANTITY_MAX);
    units as i32
}

fn within_limit(figure: &str, current: u32, adding: u32) -> Result<(), Rejection> {
    if u64::from(current) + u64::from(adding) > u64::from(STOCK_QUANTITY_MAX) {
        return Err(Rejection::invalid(format!(
            "{figure} would reach {} units, above the limit of {STOCK_QUANTITY_MAX}",
            u64::from(current) + u64::from(adding)
        )));
    }
    Ok(())
}
