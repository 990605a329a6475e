//! A compact, versioned, checksummed binary image of the whole state, for Raft snapshots.
//!
//! ```text
//! "STKR" | format version (u16 LE) | postcard body | xxh3-64 of everything before (u64 LE)
//! ```
//!
//! The body is canonical: maps are written in key order (holds by id), queues in their own
//! order, and derived indexes (id maps, allocation order, expiry index, buyer usage) are not
//! written but rebuilt. So equal states give equal bytes, which is how the tests compare
//! replicas. A restored state must pass [`State::check_invariants`] or it is refused.

use crate::campaign::Campaign;
use crate::catalog::{Item, Sku, SkuIndex, Warehouse};
use crate::expiry_index::Scheduled;
use crate::hold::{Hold, HoldState};
use crate::idempotency::{Remembered, RequestKey, RequestTable};
use crate::ids::{HoldId, ShipmentId};
use crate::ledger::{Ledger, LedgerEntry};
use crate::limits::LINE_QUANTITY_MAX;
use crate::raffle::Raffle;
use crate::state::{HoldExtras, Inbound, State};
use crate::waitlist::Waitlist;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use xxhash_rust::xxh3::xxh3_64;

const MAGIC: &[u8; 4] = b"STKR";
/// Bump when the body's layout changes; [`State::restore`] reads this version and the ones
/// before it that [`State::restore`] lists, and refuses any other.
///
/// 2: remembered requests keep a hash of the id and the encoded outcome ([`Remembered`]).
/// 3: each SKU carries its sale window.
/// 4: the body is followed by the fair-sales tail ([`Tail`]): campaigns with what people have
///    counted against them, the holds' extras (identity keys, campaigns counted in), the SKUs'
///    waitlists and raffles.
pub const SNAPSHOT_FORMAT_VERSION: u16 = 4;

/// What version 4 writes after the body, borrowed from the live state ...
#[derive(Serialize)]
struct TailRef<'a> {
    campaigns: &'a [Campaign],
    hold_extras: Vec<(&'a HoldId, &'a HoldExtras)>,
    waitlists: Vec<(&'a SkuIndex, &'a Waitlist)>,
    raffles: Vec<(&'a SkuIndex, &'a Raffle)>,
}

/// ... and as read. Versions before 4 had none: no campaigns, no keyed holds.
#[derive(Deserialize, Default)]
struct Tail {
    campaigns: Vec<Campaign>,
    hold_extras: Vec<(HoldId, HoldExtras)>,
    waitlists: Vec<(SkuIndex, Waitlist)>,
    raffles: Vec<(SkuIndex, Raffle)>,
}

/// A SKU as versions 1 and 2 wrote it: no sale window (always on sale).
#[derive(Deserialize)]
struct SkuV2 {
    id: crate::ids::SkuId,
    components: smallvec::SmallVec<[crate::catalog::Component; 2]>,
    rules: crate::rules::SaleRules,
    blocklist: std::collections::BTreeSet<crate::ids::BuyerId>,
    presale_units_live: u32,
}

impl SkuV2 {
    fn upgrade(self) -> Sku {
        let SkuV2 { id, components, rules, blocklist, presale_units_live } = self;
        Sku { id, components, rules, blocklist, presale_units_live, window: crate::window::SaleWindow::default() }
    }
}

/// A remembered request as version 1 wrote it: the id itself and the decoded outcome.
#[derive(Deserialize)]
struct RememberedV1 {
    request_id: crate::ids::RequestId,
    fingerprint: u64,
    at_ms: u64,
    outcome: crate::reply::Outcome,
}
const HEADER_LEN: usize = MAGIC.len() + 2;
const CHECKSUM_LEN: usize = 8;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    #[error("not a stockraft snapshot (bad magic or too short)")]
    NotASnapshot,
    #[error("snapshot format version {0} is not supported (this build reads {SNAPSHOT_FORMAT_VERSION})")]
    UnsupportedVersion(u16),
    #[error("snapshot checksum mismatch: the file is damaged")]
    Checksum,
    #[error("snapshot body cannot be decoded: {0}")]
    Decode(String),
    #[error("snapshot state is inconsistent: {0}")]
    Inconsistent(String),
    #[error("snapshot state is inconsistent: {0}")]
    Invariant(#[from] crate::invariants::InvariantViolation),
}

/// The body as written (borrowing the live state) ...
#[derive(Serialize)]
struct BodyRef<'a> {
    clock_ms: u64,
    last_log_index: u64,
    next_hold_serial: u64,
    warehouses: &'a [Warehouse],
    items: &'a [Item],
    skus: &'a [Sku],
    inbound: Vec<(&'a ShipmentId, &'a Inbound)>,
    holds: Vec<&'a Hold>,
    closed: &'a VecDeque<(u64, HoldId)>,
    requests: Vec<&'a Remembered>,
    ledger_entries: Vec<&'a LedgerEntry>,
    ledger_next_seq: u64,
}

/// ... and as read (`R`: a remembered request, `S`: a SKU, as the version wrote them). The two
/// must list the same fields in the same order.
#[derive(Deserialize)]
struct Body<R, S = Sku> {
    clock_ms: u64,
    last_log_index: u64,
    next_hold_serial: u64,
    warehouses: Vec<Warehouse>,
    items: Vec<Item>,
    skus: Vec<S>,
    inbound: Vec<(ShipmentId, Inbound)>,
    holds: Vec<Hold>,
    closed: VecDeque<(u64, HoldId)>,
    requests: Vec<R>,
    ledger_entries: VecDeque<LedgerEntry>,
    ledger_next_seq: u64,
}

impl<R> Body<R, SkuV2> {
    /// The same body with other requests and SKUs (a struct update cannot change a type
    /// parameter).
    fn upgraded<T>(self, requests: Vec<T>) -> Body<T> {
        Body {
            clock_ms: self.clock_ms,
            last_log_index: self.last_log_index,
            next_hold_serial: self.next_hold_serial,
            warehouses: self.warehouses,
            items: self.items,
            skus: self.skus.into_iter().map(SkuV2::upgrade).collect(),
            inbound: self.inbound,
            holds: self.holds,
            closed: self.closed,
            requests,
            ledger_entries: self.ledger_entries,
            ledger_next_seq: self.ledger_next_seq,
        }
    }
}

impl State {
    /// A digest of the whole state: equal states (as [`State::snapshot`] writes them) give
    /// equal digests, so replicas at the same log index can be compared cheaply over the wire.
    pub fn digest(&self) -> u64 {
        xxh3_64(&self.snapshot())
    }

    /// Serialises the whole state. Equal states give equal bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut holds: Vec<&Hold> = self.holds.values().collect();
        holds.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let body = BodyRef {
            clock_ms: self.clock_ms,
            last_log_index: self.last_log_index,
            next_hold_serial: self.next_hold_serial,
            warehouses: &self.warehouses,
            items: &self.items,
            skus: &self.skus,
            inbound: self.inbound.iter().collect(),
            holds,
            closed: &self.closed,
            requests: self.requests.iter().collect(),
            ledger_entries: self.ledger.entries().collect(),
            ledger_next_seq: self.ledger.next_seq(),
        };
        let mut bytes = Vec::with_capacity(1024);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
        let bytes = postcard::to_extend(&body, bytes).expect("encoding to memory cannot fail");
        let tail = TailRef {
            campaigns: &self.campaigns,
            hold_extras: self.hold_extras.iter().collect(),
            waitlists: self.waitlists.iter().collect(),
            raffles: self.raffles.iter().collect(),
        };
        let mut bytes = postcard::to_extend(&tail, bytes).expect("encoding to memory cannot fail");
        let checksum = xxh3_64(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        bytes
    }

    /// Rebuilds a state from [`State::snapshot`] bytes, refusing anything damaged, from an
    /// unknown version, or inconsistent.
    pub fn restore(bytes: &[u8]) -> Result<State, SnapshotError> {
        if bytes.len() < HEADER_LEN + CHECKSUM_LEN || &bytes[..MAGIC.len()] != MAGIC {
            return Err(SnapshotError::NotASnapshot);
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if !(1..=SNAPSHOT_FORMAT_VERSION).contains(&version) {
            return Err(SnapshotError::UnsupportedVersion(version));
        }
        let (covered, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if xxh3_64(covered).to_le_bytes() != checksum {
            return Err(SnapshotError::Checksum);
        }
        let decode_error = |e: postcard::Error| SnapshotError::Decode(e.to_string());
        let mut tail = Tail::default();
        let body: Body<Remembered> = match version {
            // A node upgraded in place restores the image its previous version saved.
            1 => {
                let old: Body<RememberedV1, SkuV2> =
                    postcard::from_bytes(&covered[HEADER_LEN..]).map_err(decode_error)?;
                let requests = old
                    .requests
                    .iter()
                    .map(|r| Remembered::new(RequestKey::of(&r.request_id), r.fingerprint, r.at_ms, &r.outcome));
                let requests = requests.collect();
                old.upgraded(requests)
            }
            2 => {
                let mut old: Body<Remembered, SkuV2> =
                    postcard::from_bytes(&covered[HEADER_LEN..]).map_err(decode_error)?;
                let requests = std::mem::take(&mut old.requests);
                old.upgraded(requests)
            }
            3 => postcard::from_bytes(&covered[HEADER_LEN..]).map_err(decode_error)?,
            _ => {
                let (body, rest) = postcard::take_from_bytes(&covered[HEADER_LEN..]).map_err(decode_error)?;
                tail = postcard::from_bytes(rest).map_err(decode_error)?;
                body
            }
        };
        let mut state = State::from_body(body)?;
        state.restore_tail(tail)?;
        state.check_invariants()?;
        Ok(state)
    }

    fn from_body(body: Body<Remembered>) -> Result<State, SnapshotError> {
        let inconsistent = |what: String| Err(SnapshotError::Inconsistent(what));
        let mut state = State {
            clock_ms: body.clock_ms,
            last_log_index: body.last_log_index,
            next_hold_serial: body.next_hold_serial,
            warehouses: body.warehouses,
            items: body.items,
            skus: body.skus,
            inbound: body.inbound.into_iter().collect(),
            closed: body.closed,
            ledger: Ledger::from_parts(body.ledger_entries, body.ledger_next_seq),
            ..State::default()
        };
        for (at, warehouse) in state.warehouses.iter().enumerate() {
            if state.warehouse_index.insert(warehouse.id.clone(), at as u32).is_some() {
                return inconsistent(format!("warehouse {} appears twice", warehouse.id));
            }
        }
        for (at, item) in state.items.iter().enumerate() {
            if state.item_index.insert(item.id.clone(), at as u32).is_some() {
                return inconsistent(format!("item {} appears twice", item.id));
            }
        }
        for (at, sku) in state.skus.iter().enumerate() {
            if state.sku_index.insert(sku.id.clone(), at as u32).is_some() {
                return inconsistent(format!("sku {} appears twice", sku.id));
            }
        }
        state.check_catalog_references(&body.holds)?;
        state.rebuild_allocation_order();
        let Some(requests) = RequestTable::from_ordered(body.requests) else {
            return inconsistent("a request id appears twice, or a remembered outcome does not decode".into());
        };
        state.requests = requests;
        for hold in body.holds {
            if hold.state.counts_for_buyer() {
                let open = i32::from(hold.state == HoldState::Held);
                for line in &hold.lines {
                    let units =
                        i32::try_from(line.quantity).map_err(|_| SnapshotError::Inconsistent("bad quantity".into()))?;
                    state.add_usage(line.sku, &hold.buyer, units, open);
                }
            }
            if state.holds.contains_key(&hold.id) {
                return inconsistent("a hold appears twice".into());
            }
            let schedule = match (hold.state, hold.expires_at_ms) {
                (HoldState::Held, Some(expires_at_ms)) => Some((expires_at_ms, hold.serial)),
                _ => None,
            };
            let slot = state.holds.insert(hold);
            if let Some((expires_at_ms, serial)) = schedule {
                state.expiry.schedule(Scheduled { expires_at_ms, serial, slot });
            }
        }
        Ok(state)
    }

    /// Campaigns and hold extras, with what derives from them: the campaign index, each SKU's
    /// campaigns, the ageing queues, and the identity keys' usage.
    fn restore_tail(&mut self, tail: Tail) -> Result<(), SnapshotError> {
        let inconsistent = |what: &str| Err(SnapshotError::Inconsistent(what.into()));
        let (skus, campaigns) = (self.skus.len(), tail.campaigns.len());
        if tail.campaigns.iter().any(|c| c.skus.iter().any(|&sku| sku as usize >= skus)) {
            return inconsistent("a campaign names a SKU outside the catalog");
        }
        for (at, campaign) in tail.campaigns.iter().enumerate() {
            if self.campaign_index.insert(campaign.id.clone(), at as u32).is_some() {
                return inconsistent("a campaign appears twice");
            }
        }
        self.campaigns = tail.campaigns;
        self.campaigns.iter_mut().for_each(Campaign::rebuild_ageing);
        self.rebuild_sku_campaigns();
        for (hold, extras) in tail.hold_extras {
            if extras.campaigns.iter().any(|&c| c as usize >= campaigns) {
                return inconsistent("a hold counts in a campaign that does not exist");
            }
            let Some(held) = self.holds.get(&hold) else {
                return inconsistent("extras for a hold that is not retained");
            };
            if held.state.counts_for_buyer() {
                let open = i32::from(held.state == HoldState::Held);
                for line in &held.lines {
                    for key in &extras.keys {
                        self.key_usage.add(line.sku, key, line.quantity as i32, open);
                    }
                }
            }
            if self.hold_extras.insert(hold, extras).is_some() {
                return inconsistent("a hold's extras appear twice");
            }
        }
        for (at, mut waitlist) in tail.waitlists {
            if at as usize >= skus {
                return inconsistent("a waitlist for a SKU outside the catalog");
            }
            waitlist.rebuild_people();
            for (&ticket, waiting) in &waitlist.queue {
                if ticket >= waitlist.next_ticket
                    || self.waiting_holds.insert(waiting.hold.clone(), (at, ticket)).is_some()
                {
                    return inconsistent("a waitlist place with a future ticket, or two places for one order");
                }
            }
            if self.waitlists.insert(at, waitlist).is_some() {
                return inconsistent("a SKU's waitlist appears twice");
            }
        }
        for (at, mut raffle) in tail.raffles {
            if at as usize >= skus {
                return inconsistent("a raffle for a SKU outside the catalog");
            }
            raffle.rebuild_people();
            if raffle.draw.is_none() {
                for hold in raffle.entries.keys() {
                    if self.raffle_holds.insert(hold.clone(), at).is_some() {
                        return inconsistent("an order entered in two raffles");
                    }
                }
            }
            if self.raffles.insert(at, raffle).is_some() {
                return inconsistent("a SKU's raffle appears twice");
            }
        }
        Ok(())
    }

    /// Indexes inside holds must point into the catalog before anything dereferences them.
    fn check_catalog_references(&self, holds: &[Hold]) -> Result<(), SnapshotError> {
        let (items, warehouses, skus) = (self.items.len(), self.warehouses.len(), self.skus.len());
        let holds_ok = holds.iter().all(|hold| {
            hold.lines.iter().all(|line| {
                (line.sku as usize) < skus && line.quantity <= LINE_QUANTITY_MAX && line.presale_units <= line.quantity
            }) && hold.allocations.iter().all(|a| (a.item as usize) < items && (a.warehouse as usize) < warehouses)
        });
        let skus_ok = self.skus.iter().all(|sku| sku.components.iter().all(|c| (c.item as usize) < items));
        let levels_ok = self.items.iter().all(|item| item.levels.len() <= warehouses);
        let inbound_ok =
            self.inbound.values().all(|i| (i.item as usize) < items && (i.warehouse as usize) < warehouses);
        let ledger_ok = self.ledger.entries().all(|e| (e.item as usize) < items && (e.warehouse as usize) < warehouses);
        if holds_ok && skus_ok && levels_ok && inbound_ok && ledger_ok {
            Ok(())
        } else {
            Err(SnapshotError::Inconsistent("an index points outside the catalog".into()))
        }
    }
}
