//! Holds: a buyer's claim on stock, from checkout to shipping, and the only transitions it may
//! take.
//!
//! ```text
//! HELD ──confirm──▶ CONFIRMED ──ship──▶ SHIPPED
//!   │                   └──cancel──▶ CANCELLED   (refund before shipping)
//!   ├──release──▶ RELEASED
//!   └──expire───▶ EXPIRED ──late confirm, re-hold rule──▶ CONFIRMED
//!                    └────re-hold, re-hold rule─────▶ HELD (a fresh TTL)
//! ```
//!
//! The last two edges are the PRE_DEDUCT re-hold: a buyer back on the payment page after the
//! TTL may hold the goods again (`Rehold`: HELD with a fresh TTL), or pay at once (a late
//! `Confirm`: re-held and confirmed in one command), if the SKU's re-hold limit and grace window
//! allow it and stock is there. Either takes fresh allocations and counts one re-hold. They are
//! the only ways out of a final state.

use crate::catalog::{ItemIndex, SkuIndex, WarehouseIndex};
use crate::ids::{BuyerId, HoldId};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HoldState {
    Held,
    Confirmed,
    Shipped,
    Released,
    Expired,
    Cancelled,
}

impl HoldState {
    /// The state as the API names it (`HoldState` in the proto), for messages.
    pub fn name(self) -> &'static str {
        match self {
            HoldState::Held => "HELD",
            HoldState::Confirmed => "CONFIRMED",
            HoldState::Shipped => "SHIPPED",
            HoldState::Released => "RELEASED",
            HoldState::Expired => "EXPIRED",
            HoldState::Cancelled => "CANCELLED",
        }
    }

    /// Whether the hold's allocations are counted in `held`.
    pub fn is_open(self) -> bool {
        self == HoldState::Held
    }

    /// Whether the hold's units count against the buyer's cap (open or bought).
    pub fn counts_for_buyer(self) -> bool {
        matches!(self, HoldState::Held | HoldState::Confirmed | HoldState::Shipped)
    }

    /// Whether the hold is finished: it keeps no stock and will be pruned after retention.
    pub fn is_closed(self) -> bool {
        matches!(self, HoldState::Shipped | HoldState::Released | HoldState::Expired | HoldState::Cancelled)
    }

    /// The transition table. `Expired -> Confirmed` and `Expired -> Held` are allowed only
    /// through the re-hold rule.
    pub fn can_become(self, next: HoldState) -> bool {
        use HoldState::*;
        matches!(
            (self, next),
            (Held, Confirmed)
                | (Held, Released)
                | (Held, Expired)
                | (Confirmed, Shipped)
                | (Confirmed, Cancelled)
                | (Expired, Confirmed)
                | (Expired, Held)
        )
    }
}

/// One line of a hold: `quantity` units of a SKU, `presale_units` of them from in-transit stock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldLine {
    pub sku: SkuIndex,
    pub quantity: u32,
    pub presale_units: u32,
}

/// Units of one item taken from one warehouse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub item: ItemIndex,
    pub warehouse: WarehouseIndex,
    pub quantity: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: HoldId,
    pub buyer: BuyerId,
    /// The buyer's region at reserve time, used again for a re-hold.
    pub region: Option<CompactString>,
    pub state: HoldState,
    pub lines: SmallVec<[HoldLine; 1]>,
    /// What was taken from stock. Counted in `held` while HELD, in `committed` while CONFIRMED,
    /// and in neither once the hold is closed (kept for audits and `GetHold`).
    pub allocations: SmallVec<[Allocation; 1]>,
    pub created_at_ms: u64,
    /// When a PRE_DEDUCT hold expires; `None` for ON_ORDER holds and deductions.
    pub expires_at_ms: Option<u64>,
    /// When the hold reached a final state; drives retention.
    pub closed_at_ms: Option<u64>,
    pub rehold_count: u32,
    /// Creation order among all holds; unique.
    pub serial: u64,
}

#[cfg(test)]
mod tests {
    use super::HoldState::*;

    #[test]
    fn only_the_documented_transitions_exist() {
        let all = [Held, Confirmed, Shipped, Released, Expired, Cancelled];
        let allowed: Vec<_> = all
            .iter()
            .flat_map(|&from| all.iter().map(move |&to| (from, to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Held, Confirmed),
                (Held, Released),
                (Held, Expired),
                (Confirmed, Shipped),
                (Confirmed, Cancelled),
                (Expired, Held),
                (Expired, Confirmed),
            ]
        );
    }

    #[test]
    fn every_state_is_exactly_one_of_open_live_or_closed() {
        for state in [Held, Confirmed, Shipped, Released, Expired, Cancelled] {
            let open = state.is_open();
            let closed = state.is_closed();
            assert!(!(open && closed), "{state:?}");
            assert_eq!(state == Confirmed, !open && !closed, "{state:?}");
        }
    }
}
