//! Commands: the only way the ledger changes. Each is stamped by the Raft leader with its clock
//! (`now_ms`) before it is proposed, so every replica applies it at the same time.

use crate::error::Rejection;
use crate::idempotency::fingerprint;
use crate::ids::*;
use crate::rules::{BuyerSignals, SaleRules};
use crate::validate::validate_op;
use crate::window::SaleWindow;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One entry's worth of work for the state machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// The leader's clock when it proposed the command. The ledger's clock never goes back:
    /// an earlier stamp (a new leader with a slower clock) is treated as the ledger's current time.
    pub now_ms: u64,
    pub body: CommandBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandBody {
    /// One client mutation.
    Request(Request),
    /// Several independent client mutations in one entry (the leader packs concurrent calls, and
    /// the batch reserve RPC, into one); each is applied in order and succeeds or fails on its
    /// own. At most [`crate::limits::RESERVE_BATCH_MAX`].
    Batch(Vec<Request>),
    /// Expire due holds and forget old request ids and closed holds, at `now_ms`. Proposed by
    /// the leader on a timer.
    Expire,
    /// Catalog and stock-figure requests applied all together or not at all (bulk import): if
    /// any would be refused, none is applied. At most [`crate::limits::IMPORT_BATCH_MAX`].
    /// (Last in the enum: entries logged before it existed decode unchanged.)
    AllOrNothing(Vec<Request>),
}

/// A client mutation with its idempotency key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub request_id: RequestId,
    pub op: Op,
    /// [`fingerprint`] of `op`, computed once by whoever builds the request (the node that
    /// receives it from the client), so the serial apply loop compares integers instead of
    /// encoding payloads. It travels in the log, so every replica compares the same value.
    pub fingerprint: u64,
}

impl Request {
    /// A request checked for shape (sizes, quantities, duplicates, sale rules: everything that
    /// needs no state) and fingerprinted. The node that receives a call builds its request here,
    /// so bad input is refused before it is proposed, and never reaches the log.
    ///
    /// The ledger runs the same checks again when it applies a request (every replica's
    /// deterministic guard against whatever a faulty leader might propose).
    pub fn new(request_id: RequestId, op: Op) -> Result<Self, Rejection> {
        validate_op(&op)?;
        Ok(Request::unchecked(request_id, op))
    }

    /// A request without the shape checks of [`Request::new`]: what a faulty or hostile leader
    /// could still put in the log. For tests of the apply-time guard and for fuzzing.
    pub fn unchecked(request_id: RequestId, op: Op) -> Self {
        let fingerprint = fingerprint(&op);
        Request { request_id, op, fingerprint }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    UpsertWarehouse(UpsertWarehouse),
    UpsertItem(UpsertItem),
    UpsertSku(UpsertSku),
    BlockBuyer {
        sku: SkuId,
        buyer: BuyerId,
    },
    UnblockBuyer {
        sku: SkuId,
        buyer: BuyerId,
    },
    SetSafetyStock(StockFigure),
    /// Units arrived outside any inbound shipment (a return to stock, a found pallet).
    ReceiveStock(StockFigure),
    /// A physical count: `on_hand` becomes `units`.
    CountStock(StockFigure),
    AddInbound(AddInbound),
    ReceiveInbound {
        shipment: ShipmentId,
        received_units: u32,
        note: CompactString,
    },
    CancelInbound {
        shipment: ShipmentId,
        note: CompactString,
    },
    /// Take a hold (ON_ORDER and PRE_DEDUCT SKUs). All lines or none.
    Reserve(Reserve),
    /// Allocate and commit at payment in one step (ON_PAYMENT SKUs). All lines or none.
    Deduct(Reserve),
    Confirm {
        hold: HoldId,
    },
    Release {
        hold: HoldId,
    },
    Ship {
        hold: HoldId,
    },
    /// Refund a confirmed order before it ships; its units go back on sale.
    Cancel {
        hold: HoldId,
    },
    /// Hold an expired PRE_DEDUCT hold again, with a fresh TTL, under the re-hold rule (the
    /// buyer back on the payment page). (Last in the enum: entries logged before it existed
    /// decode unchanged.)
    Rehold {
        hold: HoldId,
    },
    /// Schedule the SKU's sale: reserves and deducts are taken in `window` only (log time). An
    /// empty window puts the SKU on sale at all times. (Last in the enum: entries logged before
    /// it existed decode unchanged.)
    SetSaleWindow {
        sku: SkuId,
        window: SaleWindow,
    },
    /// A reserve that also names the person behind the buyer account (identity keys): the
    /// SKUs' per-buyer caps and the campaigns' caps apply to each key as well. A plain
    /// `Reserve` stays the shape of an unkeyed one, so sales without keys log and pay nothing
    /// new. (Appended, as the next three: entries logged before them decode unchanged.)
    ReserveKeyed(KeyedReserve),
    /// A deduct with identity keys (see `ReserveKeyed`).
    DeductKeyed(KeyedReserve),
    /// Create a campaign or replace its SKUs and caps.
    UpsertCampaign(UpsertCampaign),
    /// A one-line reserve that, if refused for stock, takes a place on the SKU's waitlist
    /// instead (keys: 0 to [`crate::limits::IDENTITY_KEYS_PER_REQUEST_MAX`]). The place keeps
    /// the order id: when units come back, the hold is granted under it.
    ReserveOrWait(KeyedReserve),
    /// Open (or resize, or with 0 close to new buyers) a PRE_DEDUCT SKU's waitlist.
    SetWaitlist {
        sku: SkuId,
        length_max: u32,
    },
    /// Give up a place on a SKU's waitlist (the place kept for order `hold`).
    LeaveWaitlist {
        sku: SkuId,
        hold: HoldId,
    },
    /// Put a PRE_DEDUCT SKU up for a raffle, committing to the draw's seed by its SHA-256.
    CreateRaffle(CreateRaffle),
    /// A one-line entry in the SKU's raffle (keys: 0 to 4), judged by every rule but stock.
    EnterRaffle(KeyedReserve),
    /// Reveal the seed and draw, once the entries have closed.
    DrawRaffle {
        sku: SkuId,
        seed: Vec<u8>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRaffle {
    pub sku: SkuId,
    /// Entries are taken from `entries_open_at_ms` until `entries_close_at_ms` (log time).
    pub entries_open_at_ms: u64,
    pub entries_close_at_ms: u64,
    /// SHA-256 of the seed `DrawRaffle` will reveal.
    pub seed_sha256: [u8; 32],
}

/// A reserve or deduct with the identity keys of the person behind the buyer account (or a
/// reserve that may wait: `ReserveOrWait`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedReserve {
    pub reserve: Reserve,
    /// Distinct keys: 1 to [`crate::limits::IDENTITY_KEYS_PER_REQUEST_MAX`] (0 allowed for
    /// `ReserveOrWait`).
    pub keys: Vec<IdentityKey>,
}

/// SKUs sold under shared per-person caps: "at most 2 bottles of any Moutai per person, per
/// 30 days". A person is the buyer id and each identity key a reserve carries; the cap holds for
/// each of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertCampaign {
    pub id: CampaignId,
    /// 1 to [`crate::limits::CAMPAIGN_SKUS_MAX`] distinct SKUs.
    pub skus: Vec<SkuId>,
    /// Units of the campaign's SKUs (all together) one person may hold or buy.
    pub units_per_person_max: u32,
    /// Count only what was taken in the last `window_ms` of log time; none: for as long as the
    /// campaign exists.
    pub window_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertWarehouse {
    pub id: WarehouseId,
    pub name: CompactString,
    pub region: CompactString,
    pub priority: u32,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertItem {
    pub id: ItemId,
    pub name: CompactString,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertSku {
    pub id: SkuId,
    /// `(item, units of the item per unit of the SKU)`; a 2-bottle gift box is `[(bottle, 2)]`.
    pub components: Vec<(ItemId, u32)>,
    pub rules: SaleRules,
}

/// A quantity for one (item, warehouse), with a note for the audit ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockFigure {
    pub item: ItemId,
    pub warehouse: WarehouseId,
    pub units: u32,
    pub note: CompactString,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddInbound {
    pub shipment: ShipmentId,
    pub item: ItemId,
    pub warehouse: WarehouseId,
    pub units: u32,
    pub expected_arrival_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reserve {
    /// The order id; names the hold from now on.
    pub hold: HoldId,
    pub buyer: BuyerId,
    /// Warehouses in this region are preferred.
    pub region: Option<CompactString>,
    /// Required when any line's SKU has risk rules.
    pub signals: Option<BuyerSignals>,
    pub lines: Vec<Line>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub sku: SkuId,
    pub quantity: u32,
}

/// A one-line summary for logs: what, under which request id, at what time.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.body {
            CommandBody::Request(request) => write!(f, "{} {}", request.op.name(), request.request_id)?,
            CommandBody::Batch(requests) => write!(f, "batch of {}", requests.len())?,
            CommandBody::Expire => f.write_str("expire")?,
            CommandBody::AllOrNothing(requests) => write!(f, "all-or-nothing batch of {}", requests.len())?,
        }
        write!(f, " @{}", self.now_ms)
    }
}

impl Op {
    /// The reserve or deduct this op carries, with its identity keys (none for a plain one).
    pub fn taking(&self) -> Option<(&Reserve, &[IdentityKey])> {
        match self {
            Op::Reserve(reserve) | Op::Deduct(reserve) => Some((reserve, &[])),
            Op::ReserveKeyed(keyed) | Op::DeductKeyed(keyed) | Op::ReserveOrWait(keyed) => {
                Some((&keyed.reserve, &keyed.keys))
            }
            _ => None,
        }
    }

    /// Catalog and stock-figure requests: the ones an all-or-nothing import batch may carry.
    /// They read and change the catalog (warehouses, items and their stock levels, SKUs) only.
    pub fn is_catalog(&self) -> bool {
        matches!(
            self,
            Op::UpsertWarehouse(_)
                | Op::UpsertItem(_)
                | Op::UpsertSku(_)
                | Op::SetSaleWindow { .. }
                | Op::SetSafetyStock(_)
                | Op::ReceiveStock(_)
                | Op::CountStock(_)
        )
    }

    /// The name used in logs and the audit ledger.
    pub fn name(&self) -> &'static str {
        match self {
            Op::UpsertWarehouse(_) => "upsert_warehouse",
            Op::UpsertItem(_) => "upsert_item",
            Op::UpsertSku(_) => "upsert_sku",
            Op::BlockBuyer { .. } => "block_buyer",
            Op::UnblockBuyer { .. } => "unblock_buyer",
            Op::SetSafetyStock(_) => "set_safety_stock",
            Op::ReceiveStock(_) => "receive_stock",
            Op::CountStock(_) => "count_stock",
            Op::AddInbound(_) => "add_inbound",
            Op::ReceiveInbound { .. } => "receive_inbound",
            Op::CancelInbound { .. } => "cancel_inbound",
            Op::Reserve(_) => "reserve",
            Op::Deduct(_) => "deduct",
            Op::Confirm { .. } => "confirm",
            Op::Release { .. } => "release",
            Op::Ship { .. } => "ship",
            Op::Cancel { .. } => "cancel",
            Op::Rehold { .. } => "rehold",
            Op::SetSaleWindow { .. } => "set_sale_window",
            Op::ReserveKeyed(_) => "reserve",
            Op::DeductKeyed(_) => "deduct",
            Op::UpsertCampaign(_) => "upsert_campaign",
            Op::ReserveOrWait(_) => "reserve_or_wait",
            Op::SetWaitlist { .. } => "set_waitlist",
            Op::LeaveWaitlist { .. } => "leave_waitlist",
            Op::CreateRaffle(_) => "create_raffle",
            Op::EnterRaffle(_) => "enter_raffle",
            Op::DrawRaffle { .. } => "draw_raffle",
        }
    }
}
