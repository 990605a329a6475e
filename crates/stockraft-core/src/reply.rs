//! What applying a command returns to the client that proposed it.

use crate::error::Rejection;
use crate::hold::{Allocation, HoldState};
use crate::ids::{HoldId, ItemId, SkuId, WarehouseId};
use crate::stock::StockLevel;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// The result of one request: what changed, or why nothing did.
pub type Outcome = Result<Applied, Rejection>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Applied {
    /// A catalog or rules change took effect.
    Updated,
    /// A stock figure changed; `level` is the new figure for the (item, warehouse).
    Stock(StockChange),
    /// A hold was taken, confirmed, released, shipped or cancelled.
    Hold(HoldReceipt),
    /// The result of an `Expire` command.
    Expired(ExpireReport),
    /// One outcome per request of a batch, in order.
    Batch(Vec<Outcome>),
    /// A reserve refused for stock took a place on the SKU's waitlist. (Appended: older
    /// encodings decode unchanged.)
    Waitlisted(WaitlistReceipt),
    /// An entry was taken into a raffle.
    RaffleEntered(WaitlistReceipt),
    /// A raffle was drawn: `granted` winners got holds at once.
    RaffleDrawn { entries: u32, granted: u32, log_index: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistReceipt {
    pub sku: SkuId,
    /// The order id the hold will have when it is granted.
    pub hold: HoldId,
    /// 1: next in line, when the place was taken (for a raffle entry: the entries so far).
    pub position: u32,
    pub log_index: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockChange {
    pub item: ItemId,
    pub warehouse: WarehouseId,
    pub level: StockLevel,
    /// Units held or committed that the stock no longer explains (reported, never hidden).
    pub shortfall: u32,
    /// The log index the change took effect at. A retried request id is answered with the first
    /// application's outcome, so this stays the index of the change, not of the retry.
    pub log_index: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldReceipt {
    pub hold: HoldId,
    pub state: HoldState,
    pub expires_at_ms: Option<u64>,
    /// What the hold took, by catalog index (cheap to return and to remember for retries);
    /// [`crate::State::allocation_view`] names them.
    pub allocations: SmallVec<[Allocation; 1]>,
    /// Set when a late confirm took a fresh hold under the re-hold rule.
    pub reheld: bool,
    /// The log index the transition took effect at (for a retried request id, the first
    /// application's, like the rest of the receipt).
    pub log_index: u64,
}

/// An allocation with the ids a client understands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationView {
    pub item: ItemId,
    pub warehouse: WarehouseId,
    pub quantity: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireReport {
    pub holds_expired: u32,
    pub closed_holds_pruned: u32,
    pub request_ids_forgotten: u32,
    /// Campaign counts forgotten because their rolling window passed.
    pub campaign_counts_aged: u32,
    /// More work was due than one command may do; the leader should propose another `Expire`.
    pub more_due: bool,
}
