//! Stock of one item in one warehouse, and the arithmetic that keeps it honest.
//!
//! ```text
//! base      = on_hand - safety_stock - held - committed      (signed)
//! available = max(base, 0)                                  units for sale now
//! presold   = max(-base, 0) covered by in_transit          units promised from inbound stock
//! shortfall = max(-(base + in_transit), 0)                  commitments no stock explains
//! ```
//!
//! `held` and `committed` count every allocation, whether it was taken from on-hand or from
//! in-transit stock (presale). When inbound stock arrives, `on_hand` rises and `in_transit`
//! falls by the same amount, so presold units become on-hand units with no bookkeeping.
//! Allocation never creates a shortfall; only a stock count, a short receipt, a cancelled
//! shipment or a raised safety stock can, and each is reported in the ledger.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    /// Units physically in the warehouse.
    pub on_hand: u32,
    /// Units never offered for sale.
    pub safety_stock: u32,
    /// Units under open holds.
    pub held: u32,
    /// Units deducted for paid orders, not yet shipped.
    pub committed: u32,
    /// Units on open inbound shipments.
    pub in_transit: u32,
}

impl StockLevel {
    fn base(&self) -> i64 {
        i64::from(self.on_hand) - i64::from(self.safety_stock) - i64::from(self.held) - i64::from(self.committed)
    }

    /// Units that can be sold from on-hand stock now.
    pub fn available(&self) -> u32 {
        clamp_u32(self.base())
    }

    /// Units that can be sold, on-hand and in-transit together (for presale SKUs).
    pub fn available_with_transit(&self) -> u32 {
        clamp_u32(self.base() + i64::from(self.in_transit))
    }

    /// Units already promised from in-transit stock.
    pub fn presold(&self) -> u32 {
        clamp_u32(-self.base()).min(self.in_transit)
    }

    /// Units held or committed beyond everything on hand and inbound: a shortfall to report.
    pub fn shortfall(&self) -> u32 {
        clamp_u32(-(self.base() + i64::from(self.in_transit)))
    }
}

fn clamp_u32(value: i64) -> u32 {
    value.clamp(0, i64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_never_goes_below_zero() {
        let level = StockLevel { on_hand: 5, safety_stock: 2, held: 4, committed: 0, in_transit: 0 };
        assert_eq!(level.available(), 0);
        assert_eq!(level.shortfall(), 1);
    }

    #[test]
    fn presold_units_are_covered_by_transit_then_by_arrival() {
        let mut level = StockLevel { on_hand: 2, safety_stock: 0, held: 5, committed: 0, in_transit: 10 };
        assert_eq!((level.available(), level.presold(), level.shortfall()), (0, 3, 0));
        assert_eq!(level.available_with_transit(), 7);
        // The shipment arrives: presold units are now on-hand units.
        level.in_transit -= 10;
        level.on_hand += 10;
        assert_eq!((level.available(), level.presold(), level.shortfall()), (7, 0, 0));
    }
}
