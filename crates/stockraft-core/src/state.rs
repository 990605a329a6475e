//! The state machine: everything the ledger knows, and the one entry point that changes it.

use crate::buyers::{BuyerTable, KeyTable};
use crate::campaign::{Campaign, CampaignIndex};
use crate::catalog::*;
use crate::command::{Command, CommandBody, Op, Request};
use crate::error::{EntityKind, Rejection};
use crate::expiry_index::ExpiryIndex;
use crate::hold_table::HoldTable;
use crate::idempotency::{Remembered, RequestKey, RequestTable, Seen};
use crate::ids::*;
use crate::ledger::Ledger;
use crate::limits::{IMPORT_BATCH_MAX, RESERVE_BATCH_MAX};
use crate::maps::IdMap;
use crate::raffle::Raffle;
use crate::reply::{Applied, Outcome};
use crate::validate::validate_op;
use crate::waitlist::Waitlist;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::{BTreeMap, VecDeque};

/// What an all-or-nothing batch does with one of its requests, decided before any is applied.
enum Decision {
    /// New: execute it (it passed on the catalog copy) and remember it.
    Execute,
    /// Seen before the batch: its first outcome.
    Replay(Outcome),
    /// A repeat of the request at this position in the batch: that one's outcome.
    SameAs(usize),
}

/// An inbound shipment: units on their way to a warehouse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    pub item: ItemIndex,
    pub warehouse: WarehouseIndex,
    pub units: u32,
    pub expected_arrival_ms: u64,
}

/// What a hold carries besides the hold itself, when it carries anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldExtras {
    /// The identity keys of the reserve that took it.
    pub keys: SmallVec<[IdentityKey; 1]>,
    /// The campaigns it counts in now (empty once it was released, expired or cancelled).
    pub campaigns: SmallVec<[CampaignIndex; 1]>,
}

impl HoldExtras {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.campaigns.is_empty()
    }
}

/// One buyer's footprint on one SKU, derived from the retained holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuyerUsage {
    /// Units in held, confirmed and (retained) shipped holds. (A `u64`: without a cap, one
    /// buyer's units are bounded only by all the stock there is.)
    pub units: u64,
    /// Holds currently HELD.
    pub open_holds: u32,
}

/// The replicated stock ledger.
///
/// Deterministic: no clock, no randomness, no hash-order iteration. Applying the same commands
/// at the same log indexes to two empty states gives byte-identical snapshots.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// The ledger's clock: the highest leader stamp applied so far.
    pub(crate) clock_ms: u64,
    pub(crate) last_log_index: u64,

    pub(crate) warehouses: Vec<Warehouse>,
    pub(crate) warehouse_index: IdMap<WarehouseId, WarehouseIndex>,
    /// Active warehouses by (priority, id): the allocation order before region preference.
    pub(crate) allocation_order: Vec<WarehouseIndex>,
    pub(crate) items: Vec<Item>,
    pub(crate) item_index: IdMap<ItemId, ItemIndex>,
    pub(crate) skus: Vec<Sku>,
    pub(crate) sku_index: IdMap<SkuId, SkuIndex>,
    pub(crate) inbound: BTreeMap<ShipmentId, Inbound>,

    pub(crate) holds: HoldTable,
    /// When HELD holds with a TTL expire.
    pub(crate) expiry: ExpiryIndex,
    /// The serial the next hold gets: creation order, which breaks ties between equal expiry
    /// times with one integer comparison.
    pub(crate) next_hold_serial: u64,
    /// Closed holds in the order they closed (log order, so time order). An entry whose hold
    /// was re-held since is stale and skipped when pruning.
    pub(crate) closed: VecDeque<(u64, HoldId)>,
    /// Per buyer, usage per SKU.
    pub(crate) buyers: BuyerTable,
    /// Per identity key, usage per SKU (derived from the holds and their keys).
    pub(crate) key_usage: KeyTable,
    /// What only some holds carry: identity keys, and the campaigns they count in. A side
    /// table, so a plain hold pays no memory for it; dropped when the hold is pruned.
    pub(crate) hold_extras: BTreeMap<HoldId, HoldExtras>,
    pub(crate) campaigns: Vec<Campaign>,
    pub(crate) campaign_index: IdMap<CampaignId, CampaignIndex>,
    /// The campaigns each SKU is in (derived from the campaigns).
    pub(crate) sku_campaigns: BTreeMap<SkuIndex, SmallVec<[CampaignIndex; 1]>>,
    /// SKUs' waitlists, opened by `SetWaitlist`.
    pub(crate) waitlists: BTreeMap<SkuIndex, Waitlist>,
    /// Every waiting place by the order id it keeps: its SKU and ticket (derived).
    pub(crate) waiting_holds: BTreeMap<HoldId, (SkuIndex, u64)>,
    /// SKUs' raffles (the last one each, drawn or not).
    pub(crate) raffles: BTreeMap<SkuIndex, Raffle>,
    /// The entries of raffles not drawn yet, by order id (derived).
    pub(crate) raffle_holds: BTreeMap<HoldId, SkuIndex>,

    pub(crate) requests: RequestTable,
    pub(crate) ledger: Ledger,
    /// Set while an entry is applied when one of its requests took effect, or a hold expired
    /// (which a refused late confirm or re-hold does first). Always false between entries.
    pub(crate) changed_this_entry: bool,
}

impl State {
    pub fn new() -> Self {
        State::default()
    }

    /// Applies one committed command. `log_index` is its Raft log index; commands of one entry
    /// share it, so it may repeat but never decrease.
    ///
    /// # Panics
    /// If `log_index` goes backwards: the log is being applied out of order, and continuing
    /// would corrupt every replica that trusts this one.
    pub fn apply(&mut self, log_index: u64, command: &Command) -> Outcome {
        assert!(log_index >= self.last_log_index, "log index {log_index} applied after {}", self.last_log_index);
        self.last_log_index = log_index;
        self.clock_ms = self.clock_ms.max(command.now_ms);
        let outcome = match &command.body {
            CommandBody::Request(request) => self.apply_request(request),
            CommandBody::Batch(requests) => self.apply_batch(requests),
            CommandBody::Expire => Ok(Applied::Expired(self.expire())),
            CommandBody::AllOrNothing(requests) => self.apply_all_or_nothing(requests),
        };
        // Units this entry freed go to waiting buyers first, in this same entry. Only an entry
        // that changed something serves: a refusal or a retry changes nothing, so it freed
        // nothing, and must not be the one that serves a list (an `Expire` does that).
        if std::mem::take(&mut self.changed_this_entry) || matches!(command.body, CommandBody::Expire) {
            self.serve_waitlists();
        }
        outcome
    }

    /// Applies every request or none. They are first tried on a copy of the catalog (warehouses,
    /// items with their stock levels, SKUs): the only state catalog and stock-figure requests
    /// read or change. If every one passes there, they are applied here and pass the same way
    /// (the ledger is deterministic). Otherwise nothing changes (not even the idempotency
    /// table), and the answer is one outcome per request: the refusal for the first that
    /// failed, and [`Rejection::NotApplied`] for the rest.
    fn apply_all_or_nothing(&mut self, requests: &[Request]) -> Outcome {
        if requests.is_empty() || requests.len() > IMPORT_BATCH_MAX {
            return Err(Rejection::invalid(format!(
                "an all-or-nothing batch holds 1 to {IMPORT_BATCH_MAX} requests, not {}",
                requests.len()
            )));
        }
        if let Some(other) = requests.iter().find(|r| !r.op.is_catalog()) {
            return Err(Rejection::invalid(format!(
                "an all-or-nothing batch takes catalog and stock-figure requests only, not {}",
                other.op.name()
            )));
        }
        // Phase 1: decide each request against the idempotency table as it is now and try the
        // new ones on a copy of the catalog. Phase 2 carries out exactly these decisions, never
        // looking the table up again (remembering a request may evict an old id, which would
        // turn a replay decided here into an execution there).
        let mut trial = self.catalog_copy();
        let mut decisions: Vec<Decision> = Vec::with_capacity(requests.len());
        let mut in_batch: BTreeMap<&RequestId, usize> = BTreeMap::new();
        let mut failed = None;
        for (at, request) in requests.iter().enumerate() {
            let conflict = || Rejection::AlreadyExists {
                kind: EntityKind::Request,
                id: request.request_id.to_string(),
                detail: "the request id was used with a different payload".into(),
            };
            let decided = match in_batch.get(&request.request_id) {
                // A repeat of an earlier request of this batch: answered as it was.
                Some(&first) if requests[first].fingerprint == request.fingerprint => Ok(Decision::SameAs(first)),
                Some(_) => Err(conflict()),
                None => match self.requests.seen(RequestKey::of(&request.request_id), request.fingerprint) {
                    Seen::Replay(Ok(first)) => Ok(Decision::Replay(Ok(first))),
                    Seen::Replay(Err(first)) => Err(first),
                    Seen::Conflict => Err(conflict()),
                    Seen::New => {
                        validate_op(&request.op).and_then(|()| trial.execute(&request.op)).map(|_| Decision::Execute)
                    }
                },
            };
            in_batch.entry(&request.request_id).or_insert(at);
            match decided {
                Ok(decision) => decisions.push(decision),
                Err(rejection) => {
                    failed = Some((at, rejection));
                    break;
                }
            }
        }
        if let Some((at, rejection)) = failed {
            let outcomes = (0..requests.len())
                .map(|n| match n == at {
                    true => Err(rejection.clone()),
                    false => Err(Rejection::NotApplied { refused_at: at as u32 }),
                })
                .collect();
            return Ok(Applied::Batch(outcomes));
        }
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(requests.len());
        for (request, decision) in requests.iter().zip(decisions) {
            let outcome = match decision {
                Decision::Replay(first) => first,
                Decision::SameAs(first) => outcomes[first].clone(),
                Decision::Execute => {
                    self.changed_this_entry = true;
                    let outcome = self.execute(&request.op);
                    self.remember(RequestKey::of(&request.request_id), request, &outcome);
                    outcome
                }
            };
            outcomes.push(outcome);
        }
        // The copy held the same catalog, and the ledger is deterministic.
        assert!(
            outcomes.iter().all(Result::is_ok),
            "an all-or-nothing batch passed on the catalog copy but not on the ledger: {outcomes:?}"
        );
        Ok(Applied::Batch(outcomes))
    }

    /// The request an all-or-nothing batch's answer says was refused (its position and why),
    /// when the batch was not applied.
    pub fn refused_in_batch(outcomes: &[Outcome]) -> Option<(usize, &Rejection)> {
        outcomes.iter().enumerate().find_map(|(at, outcome)| match outcome {
            Err(Rejection::NotApplied { .. }) => None,
            Err(rejection) => Some((at, rejection)),
            Ok(_) => None,
        })
    }

    /// A state holding only this one's catalog (and clock, and what a catalog request reads of
    /// the fair-sale state), to try catalog requests on.
    fn catalog_copy(&self) -> State {
        State {
            clock_ms: self.clock_ms,
            last_log_index: self.last_log_index,
            warehouses: self.warehouses.clone(),
            warehouse_index: self.warehouse_index.clone(),
            allocation_order: self.allocation_order.clone(),
            items: self.items.clone(),
            item_index: self.item_index.clone(),
            skus: self.skus.clone(),
            sku_index: self.sku_index.clone(),
            // Upserting a SKU reads whether it keeps waitlist places or a raffle (its mode must
            // then stay PRE_DEDUCT). Imports are rare back-office batches: the copy's cost is
            // the lists', bounded by WAITLIST_LENGTH_MAX and RAFFLE_ENTRIES_MAX.
            waitlists: self.waitlists.clone(),
            raffles: self.raffles.clone(),
            ..State::default()
        }
    }

    fn apply_batch(&mut self, requests: &[Request]) -> Outcome {
        if requests.is_empty() {
            return Err(Rejection::invalid("a batch needs at least one request"));
        }
        if requests.len() > RESERVE_BATCH_MAX {
            return Err(Rejection::invalid(format!(
                "a batch of {} requests is over the limit of {RESERVE_BATCH_MAX}",
                requests.len()
            )));
        }
        let outcomes = requests.iter().map(|request| self.apply_request(request)).collect();
        Ok(Applied::Batch(outcomes))
    }

    fn apply_request(&mut self, request: &Request) -> Outcome {
        validate_op(&request.op)?;
        let fingerprint = request.fingerprint;
        // Hashed once: the lookup and, for a new request, the entry remembered.
        let key = RequestKey::of(&request.request_id);
        match self.requests.seen(key, fingerprint) {
            Seen::Replay(first) => return first,
            Seen::Conflict => {
                return Err(Rejection::AlreadyExists {
                    kind: EntityKind::Request,
                    id: request.request_id.to_string(),
                    detail: "the request id was used with a different payload".into(),
                });
            }
            Seen::New => {}
        }
        let outcome = self.execute(&request.op);
        self.changed_this_entry |= outcome.is_ok();
        self.remember(key, request, &outcome);
        outcome
    }

    /// Remembers a request's outcome for replays (not refusals of bad input, which changed
    /// nothing and may be corrected and sent again under the same id).
    fn remember(&mut self, key: RequestKey, request: &Request, outcome: &Outcome) {
        let input_error = matches!(outcome, Err(rejection) if rejection.is_input_error());
        if !input_error {
            self.requests.remember(Remembered::new(key, request.fingerprint, self.clock_ms, outcome));
        }
    }

    fn execute(&mut self, op: &Op) -> Outcome {
        match op {
            Op::UpsertWarehouse(upsert) => self.upsert_warehouse(upsert),
            Op::UpsertItem(upsert) => self.upsert_item(upsert),
            Op::UpsertSku(upsert) => self.upsert_sku(upsert),
            Op::BlockBuyer { sku, buyer } => self.set_blocked(sku, buyer, true),
            Op::UnblockBuyer { sku, buyer } => self.set_blocked(sku, buyer, false),
            Op::SetSafetyStock(figure) => self.set_safety_stock(figure),
            Op::ReceiveStock(figure) => self.receive_stock(figure),
            Op::CountStock(figure) => self.count_stock(figure),
            Op::AddInbound(inbound) => self.add_inbound(inbound),
            Op::ReceiveInbound { shipment, received_units, note } => {
                self.receive_inbound(shipment, *received_units, note)
            }
            Op::CancelInbound { shipment, note } => self.cancel_inbound(shipment, note),
            Op::Reserve(reserve) => self.reserve(reserve, &[]),
            Op::Deduct(deduct) => self.deduct(deduct, &[]),
            Op::ReserveKeyed(keyed) => self.reserve(&keyed.reserve, &keyed.keys),
            Op::DeductKeyed(keyed) => self.deduct(&keyed.reserve, &keyed.keys),
            Op::UpsertCampaign(upsert) => self.upsert_campaign(upsert),
            Op::ReserveOrWait(waiting) => self.reserve_or_wait(waiting),
            Op::SetWaitlist { sku, length_max } => self.set_waitlist(sku, *length_max),
            Op::LeaveWaitlist { sku, hold } => self.leave_waitlist(sku, hold),
            Op::CreateRaffle(create) => self.create_raffle(create),
            Op::EnterRaffle(entry) => self.enter_raffle(entry),
            Op::DrawRaffle { sku, seed } => self.draw_raffle(sku, seed),
            Op::Confirm { hold } => self.confirm(hold),
            Op::Release { hold } => self.release(hold),
            Op::Ship { hold } => self.ship(hold),
            Op::Cancel { hold } => self.cancel(hold),
            Op::Rehold { hold } => self.rehold(hold),
            Op::SetSaleWindow { sku, window } => self.set_sale_window(sku, *window),
        }
    }

    pub(crate) fn warehouse_at(&self, id: &WarehouseId) -> Result<WarehouseIndex, Rejection> {
        self.warehouse_index.get(id).copied().ok_or_else(|| Rejection::not_found(EntityKind::Warehouse, id))
    }

    pub(crate) fn item_at(&self, id: &ItemId) -> Result<ItemIndex, Rejection> {
        self.item_index.get(id).copied().ok_or_else(|| Rejection::not_found(EntityKind::Item, id))
    }

    pub(crate) fn sku_at(&self, id: &SkuId) -> Result<SkuIndex, Rejection> {
        self.sku_index.get(id).copied().ok_or_else(|| Rejection::not_found(EntityKind::Sku, id))
    }

    /// The ledger's clock: the highest leader timestamp applied.
    pub fn clock_ms(&self) -> u64 {
        self.clock_ms
    }

    /// Adds signed amounts to a buyer's usage of a SKU, dropping entries that reach zero.
    pub(crate) fn add_usage(&mut self, sku: SkuIndex, buyer: &BuyerId, units: i32, open_holds: i32) {
        self.buyers.add(sku, buyer, units, open_holds);
    }

    /// The log index of the last command applied.
    pub fn last_log_index(&self) -> u64 {
        self.last_log_index
    }
}
