//! Read-only questions about the ledger, answered with the ids clients use.

use crate::campaign::Person;
use crate::catalog::{Sku, SkuIndex, Warehouse};
use crate::error::{EntityKind, Rejection};
use crate::hold::{Hold, HoldState};
use crate::ids::*;
use crate::ledger::{Deltas, LedgerOp};
use crate::limits::LEDGER_QUERY_MAX;
use crate::reply::AllocationView;
use crate::state::{BuyerUsage, State};
use crate::stock::StockLevel;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldView {
    pub hold: HoldId,
    pub buyer: BuyerId,
    pub state: HoldState,
    pub lines: Vec<LineView>,
    pub allocations: Vec<AllocationView>,
    pub created_at_ms: u64,
    pub expires_at_ms: Option<u64>,
    pub closed_at_ms: Option<u64>,
    pub rehold_count: u32,
    /// The identity keys it was reserved with.
    pub identity_keys: Vec<IdentityKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineView {
    pub sku: SkuId,
    pub quantity: u32,
    pub presale_units: u32,
}

/// A campaign as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignView {
    pub id: CampaignId,
    pub skus: Vec<SkuId>,
    pub units_per_person_max: u32,
    pub window_ms: Option<u64>,
    /// Buyer ids and identity keys with something counted now.
    pub people_tracked: u64,
}

/// How many units of a SKU can be sold now, in all and per warehouse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuAvailability {
    pub sku: SkuId,
    /// Units sellable from on-hand stock (whole SKU units, one warehouse per unit).
    pub sellable_units: u32,
    /// Further units sellable ahead of inbound stock, within the SKU's presale allowance.
    pub presale_units: u32,
    pub warehouses: Vec<WarehouseAvailability>,
    /// When the SKU is on sale (the units above are sellable only inside it).
    pub window: crate::window::SaleWindow,
    /// Buyers waiting on the SKU's waitlist. While any wait, open sale is closed: the units
    /// above are held back for them, and go to them first-fit in order.
    pub waiting_buyers: u32,
}

/// A SKU's waitlist as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistView {
    pub length_max: u32,
    pub waiting: u32,
}

/// A raffle as clients see it: what anyone needs to verify the draw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaffleView {
    pub sku: SkuId,
    pub entries_open_at_ms: u64,
    pub entries_close_at_ms: u64,
    pub seed_sha256: [u8; 32],
    /// In the order they were taken.
    pub entries: Vec<RaffleEntryView>,
    pub draw: Option<crate::raffle::Draw>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaffleEntryView {
    pub hold: HoldId,
    pub buyer: BuyerId,
    pub quantity: u32,
}

/// A waiting order: which SKU, and its place (1: next in line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingView {
    pub sku: SkuId,
    pub hold: HoldId,
    pub buyer: BuyerId,
    pub quantity: u32,
    pub position: u32,
    pub joined_at_ms: u64,
    pub identity_keys: Vec<IdentityKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarehouseAvailability {
    pub warehouse: WarehouseId,
    pub sellable_units: u32,
    pub with_transit_units: u32,
}

/// A filter over the audit ledger; every field that is set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerQuery {
    pub item: Option<ItemId>,
    pub warehouse: Option<WarehouseId>,
    pub hold: Option<HoldId>,
    pub op: Option<LedgerOp>,
    /// Only entries applied at or after this log time.
    pub from_ms: Option<u64>,
    /// Only entries applied before this log time.
    pub until_ms: Option<u64>,
    /// Only entries with `seq >= from_seq`.
    pub from_seq: u64,
    /// At most this many entries (and never more than [`LEDGER_QUERY_MAX`]); 0 means the maximum.
    pub limit: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntryView {
    pub seq: u64,
    pub log_index: u64,
    pub at_ms: u64,
    pub op: LedgerOp,
    pub item: ItemId,
    pub warehouse: WarehouseId,
    pub deltas: Deltas,
    pub shortfall_after: u32,
    pub hold: Option<HoldId>,
    pub note: CompactString,
}

/// A stock level whose held and committed units exceed all stock on hand and inbound.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortfall {
    pub item: ItemId,
    pub warehouse: WarehouseId,
    pub units: u32,
    pub level: StockLevel,
}

impl State {
    pub fn hold(&self, id: &HoldId) -> Option<HoldView> {
        self.holds.get(id).map(|hold| self.hold_view(hold))
    }

    fn hold_view(&self, hold: &Hold) -> HoldView {
        HoldView {
            hold: hold.id.clone(),
            buyer: hold.buyer.clone(),
            state: hold.state,
            lines: hold
                .lines
                .iter()
                .map(|line| LineView {
                    sku: self.skus[line.sku as usize].id.clone(),
                    quantity: line.quantity,
                    presale_units: line.presale_units,
                })
                .collect(),
            allocations: hold.allocations.iter().map(|taken| self.allocation_view(taken)).collect(),
            created_at_ms: hold.created_at_ms,
            expires_at_ms: hold.expires_at_ms,
            closed_at_ms: hold.closed_at_ms,
            rehold_count: hold.rehold_count,
            identity_keys: self.hold_keys(&hold.id).to_vec(),
        }
    }

    /// Holds retained (open, confirmed, and closed ones within retention), in id order.
    pub fn holds(&self) -> Vec<HoldView> {
        let mut holds: Vec<&Hold> = self.holds.values().collect();
        holds.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        holds.into_iter().map(|hold| self.hold_view(hold)).collect()
    }

    pub fn stock(&self, item: &ItemId, warehouse: &WarehouseId) -> Result<StockLevel, Rejection> {
        Ok(self.items[self.item_at(item)? as usize].level(self.warehouse_at(warehouse)?))
    }

    pub fn availability(&self, sku: &SkuId) -> Result<SkuAvailability, Rejection> {
        let at = self.sku_at(sku)?;
        Ok(self.availability_at(at))
    }

    pub(crate) fn availability_at(&self, at: SkuIndex) -> SkuAvailability {
        let sku = &self.skus[at as usize];
        let warehouses: Vec<WarehouseAvailability> = self
            .allocation_order
            .iter()
            .map(|&warehouse| {
                let (sellable_units, with_transit_units) = self.sellable_units(sku, warehouse);
                WarehouseAvailability {
                    warehouse: self.warehouses[warehouse as usize].id.clone(),
                    sellable_units,
                    with_transit_units,
                }
            })
            .collect();
        let sellable_units = warehouses.iter().fold(0u32, |sum, w| sum.saturating_add(w.sellable_units));
        let transit_units =
            warehouses.iter().fold(0u32, |sum, w| sum.saturating_add(w.with_transit_units - w.sellable_units));
        let presale_left = sku.rules.presale_units_max.saturating_sub(sku.presale_units_live);
        SkuAvailability {
            sku: sku.id.clone(),
            sellable_units,
            presale_units: transit_units.min(presale_left),
            warehouses,
            window: sku.window,
            waiting_buyers: self.waitlists.get(&at).map_or(0, |list| list.len() as u32),
        }
    }

    /// A SKU's waitlist, if it ever had one opened.
    pub fn waitlist(&self, sku: &SkuId) -> Result<Option<WaitlistView>, Rejection> {
        let at = self.sku_at(sku)?;
        Ok(self.waitlists.get(&at).map(|list| WaitlistView { length_max: list.length_max, waiting: list.len() as u32 }))
    }

    /// A SKU's raffle (the last one created), with its entries in the order they came.
    pub fn raffle(&self, sku: &SkuId) -> Result<Option<RaffleView>, Rejection> {
        let at = self.sku_at(sku)?;
        Ok(self.raffles.get(&at).map(|raffle| {
            let mut entries: Vec<&crate::waitlist::Waiting> = raffle.entries().collect();
            entries.sort_by(|a, b| (a.joined_at_ms, &a.hold).cmp(&(b.joined_at_ms, &b.hold)));
            RaffleView {
                sku: sku.clone(),
                entries_open_at_ms: raffle.entries_open_at_ms,
                entries_close_at_ms: raffle.entries_close_at_ms,
                seed_sha256: raffle.seed_sha256,
                entries: entries
                    .into_iter()
                    .map(|e| RaffleEntryView { hold: e.hold.clone(), buyer: e.buyer.clone(), quantity: e.quantity })
                    .collect(),
                draw: raffle.draw.clone(),
            }
        }))
    }

    /// The raffle an order id is entered in, while the raffle is not drawn.
    pub fn raffle_entry(&self, hold: &HoldId) -> Option<(SkuId, RaffleEntryView)> {
        let &at = self.raffle_holds.get(hold)?;
        let entry = &self.raffles[&at].entries[hold];
        let view = RaffleEntryView { hold: hold.clone(), buyer: entry.buyer.clone(), quantity: entry.quantity };
        Some((self.skus[at as usize].id.clone(), view))
    }

    /// The waitlist place an order id keeps, if it waits.
    pub fn waiting(&self, hold: &HoldId) -> Option<WaitingView> {
        let &(at, ticket) = self.waiting_holds.get(hold)?;
        let list = &self.waitlists[&at];
        let waiting = &list.queue[&ticket];
        Some(WaitingView {
            sku: self.skus[at as usize].id.clone(),
            hold: hold.clone(),
            buyer: waiting.buyer.clone(),
            quantity: waiting.quantity,
            position: list.position(ticket),
            joined_at_ms: waiting.joined_at_ms,
            identity_keys: waiting.keys.to_vec(),
        })
    }

    /// Whole units of `sku` one warehouse can supply: (on hand, on hand plus in transit).
    fn sellable_units(&self, sku: &Sku, warehouse: u32) -> (u32, u32) {
        sku.components.iter().fold((u32::MAX, u32::MAX), |(on_hand, with_transit), component| {
            let level = self.items[component.item as usize].level(warehouse);
            (
                on_hand.min(level.available() / component.quantity),
                with_transit.min(level.available_with_transit() / component.quantity),
            )
        })
    }

    /// A campaign's SKUs and cap, and how many people it tracks now.
    pub fn campaign(&self, id: &CampaignId) -> Result<CampaignView, Rejection> {
        let campaign = self.campaign_at(id)?;
        Ok(CampaignView {
            id: campaign.id.clone(),
            skus: campaign.skus.iter().map(|&sku| self.skus[sku as usize].id.clone()).collect(),
            units_per_person_max: campaign.units_per_person_max,
            window_ms: campaign.window_ms,
            people_tracked: campaign.people.len() as u64,
        })
    }

    /// Every campaign, in creation order.
    pub fn campaign_ids(&self) -> impl Iterator<Item = &CampaignId> {
        self.campaigns.iter().map(|campaign| &campaign.id)
    }

    /// The units a person (a buyer id or an identity key) has counted against a campaign's cap
    /// now, at the ledger's clock.
    pub fn campaign_usage(&self, id: &CampaignId, person: &Person) -> Result<u64, Rejection> {
        Ok(self.campaign_at(id)?.counted_units(person, self.clock_ms))
    }

    fn campaign_at(&self, id: &CampaignId) -> Result<&crate::campaign::Campaign, Rejection> {
        let at = self.campaign_index.get(id).ok_or_else(|| Rejection::not_found(EntityKind::Campaign, id))?;
        Ok(&self.campaigns[*at as usize])
    }

    /// The identity keys a hold was taken with (none for a plain reserve).
    pub fn hold_keys(&self, id: &HoldId) -> &[IdentityKey] {
        self.hold_extras.get(id).map_or(&[][..], |extras| &extras.keys[..])
    }

    /// One identity key's footprint on one SKU: what the SKU's per-buyer caps read for it.
    pub fn key_usage(&self, sku: &SkuId, key: &IdentityKey) -> Result<BuyerUsage, Rejection> {
        Ok(self.key_usage.usage(self.sku_at(sku)?, key))
    }

    pub fn buyer_usage(&self, sku: &SkuId, buyer: &BuyerId) -> Result<BuyerUsage, Rejection> {
        Ok(self.usage(self.sku_at(sku)?, buyer))
    }

    pub(crate) fn usage(&self, sku: SkuIndex, buyer: &BuyerId) -> BuyerUsage {
        self.buyers.usage(sku, buyer)
    }

    /// Audit-ledger entries matching `query`, oldest first.
    pub fn ledger(&self, query: &LedgerQuery) -> Result<Vec<LedgerEntryView>, Rejection> {
        let item = query.item.as_ref().map(|id| self.item_at(id)).transpose()?;
        let warehouse = query.warehouse.as_ref().map(|id| self.warehouse_at(id)).transpose()?;
        let limit = if query.limit == 0 { LEDGER_QUERY_MAX } else { query.limit.min(LEDGER_QUERY_MAX) };
        Ok(self
            .ledger
            .since(query.from_seq)
            .filter(|entry| {
                item.is_none_or(|item| entry.item == item)
                    && warehouse.is_none_or(|warehouse| entry.warehouse == warehouse)
                    && query.hold.as_ref().is_none_or(|hold| entry.hold.as_ref() == Some(hold))
                    && query.op.is_none_or(|op| entry.op == op)
                    && query.from_ms.is_none_or(|from| entry.at_ms >= from)
                    && query.until_ms.is_none_or(|until| entry.at_ms < until)
            })
            .take(limit)
            .map(|entry| LedgerEntryView {
                seq: entry.seq,
                log_index: entry.log_index,
                at_ms: entry.at_ms,
                op: entry.op,
                item: self.items[entry.item as usize].id.clone(),
                warehouse: self.warehouses[entry.warehouse as usize].id.clone(),
                deltas: entry.deltas,
                shortfall_after: entry.shortfall_after,
                hold: entry.hold.clone(),
                note: entry.note.clone(),
            })
            .collect())
    }

    /// Every (item, warehouse) whose commitments exceed its stock, in (item, warehouse) order.
    pub fn shortfalls(&self) -> Vec<Shortfall> {
        let mut found = Vec::new();
        for item in &self.items {
            for (warehouse, level) in item.levels.iter().enumerate() {
                if level.shortfall() > 0 {
                    found.push(Shortfall {
                        item: item.id.clone(),
                        warehouse: self.warehouses[warehouse].id.clone(),
                        units: level.shortfall(),
                        level: *level,
                    });
                }
            }
        }
        found
    }

    pub fn warehouses(&self) -> &[Warehouse] {
        &self.warehouses
    }

    pub fn warehouse(&self, id: &WarehouseId) -> Result<&Warehouse, Rejection> {
        Ok(&self.warehouses[self.warehouse_at(id)? as usize])
    }

    pub fn sku(&self, id: &SkuId) -> Result<&Sku, Rejection> {
        Ok(&self.skus[self.sku_at(id)? as usize])
    }

    pub fn sku_ids(&self) -> impl Iterator<Item = &SkuId> {
        self.skus.iter().map(|sku| &sku.id)
    }

    pub fn item_ids(&self) -> impl Iterator<Item = &ItemId> {
        self.items.iter().map(|item| &item.id)
    }

    /// Items as (id, name), in catalog order.
    pub fn items(&self) -> impl Iterator<Item = (&ItemId, &str)> {
        self.items.iter().map(|item| (&item.id, item.name.as_str()))
    }

    /// A SKU's components with the ids clients use: (item, units of it per SKU unit).
    pub fn components_of(&self, sku: &Sku) -> Vec<(ItemId, u32)> {
        sku.components.iter().map(|c| (self.items[c.item as usize].id.clone(), c.quantity)).collect()
    }

    /// Open inbound shipments: (shipment, item, warehouse, units, expected arrival).
    pub fn inbound(&self) -> Vec<(ShipmentId, ItemId, WarehouseId, u32, u64)> {
        self.inbound
            .iter()
            .map(|(id, inbound)| {
                (
                    id.clone(),
                    self.items[inbound.item as usize].id.clone(),
                    self.warehouses[inbound.warehouse as usize].id.clone(),
                    inbound.units,
                    inbound.expected_arrival_ms,
                )
            })
            .collect()
    }

    /// Whether a request id is still remembered for idempotent retries.
    pub fn remembers_request(&self, id: &RequestId) -> bool {
        self.requests.contains(id)
    }

    pub fn request_ids_remembered(&self) -> usize {
        self.requests.len()
    }

    pub fn ledger_len(&self) -> usize {
        self.ledger.len()
    }

    pub fn hold_count(&self) -> usize {
        self.holds.len()
    }

    /// Holds currently HELD.
    pub fn open_hold_count(&self) -> usize {
        self.holds.held()
    }

    /// Looks up a hold that must exist (for tests and tools).
    pub fn hold_state(&self, id: &HoldId) -> Result<HoldState, Rejection> {
        self.holds.get(id).map(|hold| hold.state).ok_or_else(|| Rejection::not_found(EntityKind::Hold, id))
    }
}
