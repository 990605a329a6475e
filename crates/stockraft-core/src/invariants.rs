//! The invariants of PRODUCT.md, checked against the whole state. Tests call this after every
//! command; a snapshot is refused if its state breaks them.
//!
//! What is checked here holds for every reachable state. Two rules depend on the sale rules in
//! force when a hold was taken (buyer caps and presale allowances, which the back office may
//! lower later without revoking holds), so the property tests check those with fixed rules.

use crate::campaign::{Person, people};
use crate::catalog::{ItemIndex, WarehouseIndex};
use crate::expire::is_scheduled_hold;
use crate::expiry_index::Scheduled;
use crate::hold::HoldState;
use crate::ids::HoldId;
use crate::limits::{CAMPAIGN_PEOPLE_MAX, RAFFLE_ENTRIES_MAX, WAITLIST_LENGTH_MAX};
use crate::maps::IdMap;
use crate::state::{BuyerUsage, State};
use smallvec::SmallVec;
use std::collections::{BTreeMap, BTreeSet};

/// Which family of invariants a state broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invariant {
    /// The catalog's index maps, stock levels per known warehouse, SKU components.
    Catalog,
    /// `held` and `committed` per (item, warehouse) against the open and confirmed holds.
    Stock,
    /// Each hold's state, lines, allocations, serial and expiry scheduling.
    Holds,
    /// Per-buyer usage against what the holds say.
    BuyerUsage,
    /// The audit ledger's sequence numbers.
    Ledger,
    /// Campaigns, what people counted against them, and the holds' extras.
    Campaigns,
    /// Waitlist places and their indexes.
    Waitlists,
    /// Raffle entries, commitments and draws.
    Raffles,
}

/// A broken invariant: which family, and what exactly was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{invariant:?} invariant broken: {detail}")]
pub struct InvariantViolation {
    pub invariant: Invariant,
    pub detail: String,
}

impl State {
    /// Checks every structural invariant; the error says which broke and where.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let family = |invariant: Invariant| move |detail: String| InvariantViolation { invariant, detail };
        self.check_catalog().map_err(family(Invariant::Catalog))?;
        self.check_stock().map_err(family(Invariant::Stock))?;
        self.check_holds().map_err(family(Invariant::Holds))?;
        self.check_buyers().map_err(family(Invariant::BuyerUsage))?;
        self.check_ledger().map_err(family(Invariant::Ledger))?;
        self.check_campaigns_and_extras().map_err(family(Invariant::Campaigns))?;
        self.check_waitlists().map_err(family(Invariant::Waitlists))?;
        self.check_raffles().map_err(family(Invariant::Raffles))
    }

    /// Entries are indexed; an undrawn raffle's order ids are nobody's hold or place, and nobody
    /// waits on its SKU; a drawn raffle's seed matches its commitment and its order is what the
    /// seed and the entries give.
    fn check_raffles(&self) -> Result<(), String> {
        let mut entered = BTreeMap::new();
        for (&at, raffle) in &self.raffles {
            let Some(sku) = self.skus.get(at as usize) else {
                return Err("a raffle for a SKU outside the catalog".into());
            };
            let mut rebuilt = raffle.clone();
            rebuilt.rebuild_people();
            let expected_people: usize = raffle.entries().map(|entry| 1 + entry.keys.len()).sum();
            if rebuilt.people != raffle.people
                || raffle.people.len() != expected_people
                || raffle.entry_count() > RAFFLE_ENTRIES_MAX
            {
                return Err(format!("sku {}: the raffle's people index drifted, or a person entered twice", sku.id));
            }
            match &raffle.draw {
                None => {
                    if self.has_waiting(at) {
                        return Err(format!("sku {}: buyers wait on a SKU whose raffle is not drawn", sku.id));
                    }
                    for hold in raffle.entries.keys() {
                        if self.holds.contains_key(hold) || self.waiting_holds.contains_key(hold) {
                            return Err(format!("sku {}: entry {hold} is also a hold or a place", sku.id));
                        }
                        entered.insert(hold.clone(), at);
                    }
                }
                Some(draw) => {
                    if crate::raffle::commitment(&draw.seed) != raffle.seed_sha256
                        || draw.order != crate::raffle::draw_order(&draw.seed, raffle.entries.keys())
                    {
                        return Err(format!("sku {}: the draw is not the one its seed and entries give", sku.id));
                    }
                }
            }
        }
        if entered != self.raffle_holds {
            return Err("the index of raffle entries drifted from the raffles".into());
        }
        Ok(())
    }

    /// Every place is indexed by its order id and its people, keeps an order id no retained
    /// hold has, and is on a PRE_DEDUCT SKU's list within the ledger's bound.
    fn check_waitlists(&self) -> Result<(), String> {
        let mut indexed = BTreeMap::new();
        for (&at, waitlist) in &self.waitlists {
            let Some(sku) = self.skus.get(at as usize) else {
                return Err("a waitlist for a SKU outside the catalog".into());
            };
            let open = waitlist.length_max > 0 || !waitlist.is_empty();
            if waitlist.len() > WAITLIST_LENGTH_MAX
                || (open && sku.rules.mode != crate::rules::DeductionMode::PreDeduct)
            {
                return Err(format!(
                    "sku {}: a waitlist of {} places, or on a SKU that is not PRE_DEDUCT",
                    sku.id,
                    waitlist.len()
                ));
            }
            let mut rebuilt = waitlist.clone();
            rebuilt.rebuild_people();
            let expected_people: usize = waitlist.queue.values().map(|waiting| 1 + waiting.keys.len()).sum();
            if rebuilt.people != waitlist.people || waitlist.people.len() != expected_people {
                return Err(format!("sku {}: the waitlist's people index drifted, or a person waits twice", sku.id));
            }
            for (&ticket, waiting) in &waitlist.queue {
                if ticket >= waitlist.next_ticket || self.holds.contains_key(&waiting.hold) || waiting.quantity == 0 {
                    return Err(format!("sku {}: place for order {} is stale or empty", sku.id, waiting.hold));
                }
                if indexed.insert(waiting.hold.clone(), (at, ticket)).is_some() {
                    return Err(format!("order {} waits twice", waiting.hold));
                }
            }
        }
        if indexed != self.waiting_holds {
            return Err("the index of waiting orders drifted from the waitlists".into());
        }
        Ok(())
    }

    fn check_catalog(&self) -> Result<(), String> {
        let consistent = self.warehouse_index.len() == self.warehouses.len()
            && self.warehouses.iter().enumerate().all(|(at, w)| self.warehouse_index.get(&w.id) == Some(&(at as u32)))
            && self.item_index.len() == self.items.len()
            && self.items.iter().enumerate().all(|(at, i)| self.item_index.get(&i.id) == Some(&(at as u32)))
            && self.sku_index.len() == self.skus.len()
            && self.skus.iter().enumerate().all(|(at, s)| self.sku_index.get(&s.id) == Some(&(at as u32)));
        if !consistent {
            return Err("catalog index maps disagree with the catalog".into());
        }
        for item in &self.items {
            if item.levels.len() > self.warehouses.len() {
                return Err(format!("item {} has stock in unknown warehouses", item.id));
            }
        }
        for sku in &self.skus {
            if sku.components.is_empty() || sku.components.iter().any(|c| c.item as usize >= self.items.len()) {
                return Err(format!("sku {} has missing or unknown components", sku.id));
            }
        }
        Ok(())
    }

    /// `held` and `committed` are exactly the sums of open and confirmed holds' allocations, and
    /// `in_transit` the sum of open inbound shipments. (That allocation never oversells, i.e.
    /// never creates a shortfall, is asserted where allocations are applied and checked by the
    /// property tests across every command.)
    fn check_stock(&self) -> Result<(), String> {
        let mut expected: IdMap<(ItemIndex, WarehouseIndex), (u64, u64, u64)> = IdMap::default();
        for hold in self.holds.values() {
            for taken in &hold.allocations {
                let sums = expected.entry((taken.item, taken.warehouse)).or_default();
                match hold.state {
                    HoldState::Held => sums.0 += u64::from(taken.quantity),
                    HoldState::Confirmed => sums.1 += u64::from(taken.quantity),
                    _ => {}
                }
            }
        }
        for inbound in self.inbound.values() {
            expected.entry((inbound.item, inbound.warehouse)).or_default().2 += u64::from(inbound.units);
        }
        for (item_at, item) in self.items.iter().enumerate() {
            for (warehouse_at, level) in item.levels.iter().enumerate() {
                let key = (item_at as ItemIndex, warehouse_at as WarehouseIndex);
                let (held, committed, in_transit) = expected.remove(&key).unwrap_or_default();
                let actual = (u64::from(level.held), u64::from(level.committed), u64::from(level.in_transit));
                if actual != (held, committed, in_transit) {
                    return Err(format!(
                        "item {} at warehouse {}: (held, committed, in_transit) is {actual:?}, holds and shipments say {:?}",
                        item.id,
                        self.warehouses[warehouse_at].id,
                        (held, committed, in_transit)
                    ));
                }
            }
        }
        let leftover: Vec<_> = expected.into_iter().filter(|(_, sums)| *sums != (0, 0, 0)).collect();
        if !leftover.is_empty() {
            return Err(format!("holds or shipments reference stock levels that do not exist: {leftover:?}"));
        }
        Ok(())
    }

    /// Every hold is in exactly one state and indexed accordingly.
    fn check_holds(&self) -> Result<(), String> {
        let held = self.holds.values().filter(|hold| hold.state == HoldState::Held).count();
        if held != self.holds.held() {
            return Err(format!("{held} holds are HELD but the table counts {}", self.holds.held()));
        }
        let mut due = BTreeSet::new();
        let mut serials = BTreeSet::new();
        for hold in self.holds.values() {
            let id = &hold.id;
            let Some(slot) = self.holds.slot_of(id).filter(|&slot| self.holds.at(slot) == hold) else {
                return Err(format!("hold {id} is not filed under its own id"));
            };
            if hold.lines.is_empty() || hold.allocations.is_empty() {
                return Err(format!("hold {id} has no lines or no allocations"));
            }
            for line in &hold.lines {
                if line.sku as usize >= self.skus.len() {
                    return Err(format!("hold {id}: unknown sku"));
                }
                if line.presale_units > line.quantity {
                    return Err(format!("hold {id}: more presale units than units"));
                }
            }
            for taken in &hold.allocations {
                if taken.item as usize >= self.items.len() || taken.warehouse as usize >= self.warehouses.len() {
                    return Err(format!("hold {id}: allocation outside the catalog"));
                }
            }
            if hold.state.is_closed() != hold.closed_at_ms.is_some() {
                return Err(format!("hold {id} is {:?} with closed_at {:?}", hold.state, hold.closed_at_ms));
            }
            if let (HoldState::Held, Some(at)) = (hold.state, hold.expires_at_ms) {
                due.insert(Scheduled { expires_at_ms: at, serial: hold.serial, slot });
            }
            if !serials.insert(hold.serial) || hold.serial >= self.next_hold_serial {
                return Err(format!("hold {id} has a duplicate or future serial {}", hold.serial));
            }
        }
        // Every HELD hold with a TTL is scheduled exactly once; other entries are stale.
        let mut scheduled = BTreeSet::new();
        for entry in self.expiry.entries().filter(|entry| is_scheduled_hold(&self.holds, entry)) {
            if !scheduled.insert(*entry) {
                return Err(format!("hold in slot {} is scheduled to expire twice", entry.slot));
            }
        }
        if due != scheduled {
            return Err(format!("{} held holds have a TTL but {} are scheduled to expire", due.len(), scheduled.len()));
        }
        let queued: BTreeSet<(u64, &HoldId)> = self.closed.iter().map(|(at, id)| (*at, id)).collect();
        for hold in self.holds.values().filter(|hold| hold.state.is_closed()) {
            if !hold.closed_at_ms.is_some_and(|at| queued.contains(&(at, &hold.id))) {
                return Err(format!("closed hold {} is not queued for pruning", hold.id));
            }
        }
        Ok(())
    }

    /// Buyer usage and presale units are exactly what the retained holds say.
    fn check_buyers(&self) -> Result<(), String> {
        let mut usage: IdMap<_, BuyerUsage> = IdMap::default();
        let mut tracked: IdMap<_, BuyerUsage> = IdMap::default();
        for buyer in self.buyers.iter() {
            for entry in &buyer.skus {
                let (sku, usage) = (entry.sku, entry.usage());
                if usage == BuyerUsage::default() || tracked.insert((sku, buyer.id.clone()), usage).is_some() {
                    return Err(format!("buyer {} has an empty or repeated entry for sku index {sku}", buyer.id));
                }
            }
        }
        let mut presale = vec![0u64; self.skus.len()];
        for hold in self.holds.values().filter(|hold| hold.state.counts_for_buyer()) {
            for line in &hold.lines {
                let entry = usage.entry((line.sku, hold.buyer.clone())).or_default();
                entry.units += u64::from(line.quantity);
                entry.open_holds += u32::from(hold.state == HoldState::Held);
                presale[line.sku as usize] += u64::from(line.presale_units);
            }
        }
        if usage != tracked {
            return Err(format!("buyer usage drifted: {} tracked, {} derived from holds", tracked.len(), usage.len()));
        }
        let mut key_usage: IdMap<_, BuyerUsage> = IdMap::default();
        for (id, extras) in &self.hold_extras {
            let Some(hold) = self.holds.get(id).filter(|hold| hold.state.counts_for_buyer()) else { continue };
            for key in &extras.keys {
                for line in &hold.lines {
                    let entry = key_usage.entry((line.sku, key.clone())).or_default();
                    entry.units += u64::from(line.quantity);
                    entry.open_holds += u32::from(hold.state == HoldState::Held);
                }
            }
        }
        let mut key_tracked: IdMap<_, BuyerUsage> = IdMap::default();
        for key in self.key_usage.iter() {
            for entry in &key.skus {
                if entry.usage() == BuyerUsage::default()
                    || key_tracked.insert((entry.sku, key.id.clone()), entry.usage()).is_some()
                {
                    return Err(format!("identity key {} has an empty or repeated entry", key.id));
                }
            }
        }
        if key_usage != key_tracked {
            return Err(format!(
                "identity key usage drifted: {} tracked, {} derived from holds",
                key_tracked.len(),
                key_usage.len()
            ));
        }
        for (sku, derived) in self.skus.iter().zip(presale) {
            if u64::from(sku.presale_units_live) != derived {
                return Err(format!(
                    "sku {}: presale units {} but holds say {derived}",
                    sku.id, sku.presale_units_live
                ));
            }
        }
        Ok(())
    }

    fn check_ledger(&self) -> Result<(), String> {
        let mut expected = self.ledger.entries().next().map_or(self.ledger.next_seq(), |first| first.seq);
        for entry in self.ledger.entries() {
            if entry.seq != expected {
                return Err(format!("ledger sequence jumps from {} to {}", expected - 1, entry.seq));
            }
            expected += 1;
        }
        if expected != self.ledger.next_seq() {
            return Err("ledger next sequence number disagrees with its entries".into());
        }
        Ok(())
    }

    /// Campaigns are indexed and reference the catalog; what a retained hold counted is counted
    /// for its buyer and its keys, while it counts, in the campaigns it notes; extras belong to
    /// retained holds.
    fn check_campaigns_and_extras(&self) -> Result<(), String> {
        if self.campaign_index.len() != self.campaigns.len() {
            return Err("the campaign index disagrees with the campaigns".into());
        }
        let mut sku_campaigns: BTreeMap<_, SmallVec<[u32; 1]>> = BTreeMap::new();
        for (at, campaign) in self.campaigns.iter().enumerate() {
            let id = &campaign.id;
            if self.campaign_index.get(id) != Some(&(at as u32)) {
                return Err(format!("campaign {id} is not indexed at its place"));
            }
            if campaign.skus.is_empty()
                || !campaign.skus.windows(2).all(|pair| pair[0] < pair[1])
                || campaign.skus.iter().any(|&sku| sku as usize >= self.skus.len())
            {
                return Err(format!("campaign {id} has no, repeated, unsorted or unknown SKUs"));
            }
            for &sku in &campaign.skus {
                sku_campaigns.entry(sku).or_default().push(at as u32);
            }
            if campaign.people.len() > CAMPAIGN_PEOPLE_MAX {
                return Err(format!("campaign {id} tracks {} people", campaign.people.len()));
            }
            for (person, counts) in &campaign.people {
                let serials: BTreeSet<u64> = counts.iter().map(|count| count.serial).collect();
                if counts.is_empty() || serials.len() != counts.len() || counts.iter().any(|count| count.units == 0) {
                    return Err(format!("campaign {id}: {person} has no, repeated or empty counts"));
                }
            }
        }
        if sku_campaigns != self.sku_campaigns {
            return Err("each SKU's campaigns disagree with the campaigns".into());
        }
        let by_serial: BTreeMap<u64, &crate::hold::Hold> =
            self.holds.values().map(|hold| (hold.serial, hold)).collect();
        for (at, campaign) in self.campaigns.iter().enumerate() {
            for (person, counts) in &campaign.people {
                for count in counts {
                    let Some(hold) = by_serial.get(&count.serial) else { continue };
                    let extras = self.hold_extras.get(&hold.id);
                    let noted = extras.is_some_and(|extras| extras.campaigns.contains(&(at as u32)));
                    let keys = extras.map_or(&[][..], |extras| &extras.keys[..]);
                    let belongs = match person {
                        Person::Buyer(buyer) => *buyer == hold.buyer,
                        Person::Key(key) => keys.contains(key),
                    };
                    if !hold.state.counts_for_buyer() || !noted || !belongs {
                        return Err(format!(
                            "campaign {}: {person} counts hold {}, which is {:?}, noted {noted}, theirs {belongs}",
                            campaign.id, hold.id, hold.state
                        ));
                    }
                }
            }
        }
        for (id, extras) in &self.hold_extras {
            let Some(hold) = self.holds.get(id) else {
                return Err(format!("extras for hold {id}, which is not retained"));
            };
            if extras.is_empty() {
                return Err(format!("hold {id} has empty extras"));
            }
            if !extras.campaigns.is_empty() && !hold.state.counts_for_buyer() {
                return Err(format!("hold {id} is {:?} but still notes campaigns", hold.state));
            }
            for &at in &extras.campaigns {
                let Some(campaign) = self.campaigns.get(at as usize) else {
                    return Err(format!("hold {id} notes an unknown campaign"));
                };
                if campaign.window_ms.is_some() {
                    continue; // its counts may have aged out already (a window is never removed)
                }
                for person in people(&hold.buyer, &extras.keys) {
                    let counted =
                        campaign.people.get(&person).is_some_and(|c| c.iter().any(|c| c.serial == hold.serial));
                    if !counted {
                        return Err(format!("hold {id} notes campaign {} but {person} has no count", campaign.id));
                    }
                }
            }
        }
        Ok(())
    }
}
