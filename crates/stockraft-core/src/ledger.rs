//! The audit ledger: one entry per stock movement, in log order.
//!
//! The state machine keeps the newest [`LEDGER_RETENTION_ENTRIES`]; entries carry a gapless
//! sequence number so a consumer (the server's persistent ledger, an export) can tell exactly
//! what it has missed.

use crate::catalog::{ItemIndex, WarehouseIndex};
use crate::ids::HoldId;
use crate::limits::LEDGER_RETENTION_ENTRIES;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LedgerOp {
    ReceiveStock,
    CountStock,
    SetSafetyStock,
    InboundAdded,
    InboundReceived,
    InboundCancelled,
    Reserve,
    Deduct,
    Confirm,
    Rehold,
    Release,
    Expire,
    Ship,
    Cancel,
}

/// Signed changes to one (item, warehouse) stock level. Quantities are bounded by
/// [`crate::limits::STOCK_QUANTITY_MAX`], so every delta fits an `i32`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deltas {
    pub on_hand: i32,
    pub safety_stock: i32,
    pub held: i32,
    pub committed: i32,
    pub in_transit: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Gapless, starting at 1.
    pub seq: u64,
    /// The Raft log index of the command that made the movement.
    pub log_index: u64,
    /// The ledger's clock when it was applied.
    pub at_ms: u64,
    pub op: LedgerOp,
    pub item: ItemIndex,
    pub warehouse: WarehouseIndex,
    pub deltas: Deltas,
    /// The level's shortfall after the movement; non-zero means commitments exceed stock.
    pub shortfall_after: u32,
    pub hold: Option<HoldId>,
    /// Why: the client's note, or the shipment id for inbound movements.
    pub note: CompactString,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    entries: VecDeque<LedgerEntry>,
    next_seq: u64,
}

impl Ledger {
    pub(crate) fn from_parts(entries: VecDeque<LedgerEntry>, next_seq: u64) -> Self {
        Ledger { entries, next_seq }
    }

    /// Appends an entry, assigning its sequence number, and forgets the oldest past retention.
    pub(crate) fn push(&mut self, mut entry: LedgerEntry) {
        self.next_seq = self.next_seq.max(1);
        entry.seq = self.next_seq;
        self.next_seq += 1;
        self.entries.push_back(entry);
        if self.entries.len() > LEDGER_RETENTION_ENTRIES {
            self.entries.pop_front();
        }
    }

    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &LedgerEntry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The sequence number the next entry will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.max(1)
    }

    /// Entries with `seq >= from_seq`, oldest first.
    pub fn since(&self, from_seq: u64) -> impl Iterator<Item = &LedgerEntry> {
        let first = self.entries.front().map_or(0, |entry| entry.seq);
        let skip = from_seq.saturating_sub(first) as usize;
        self.entries.iter().skip(skip)
    }
}
