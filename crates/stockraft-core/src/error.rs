//! Why a command was refused. Every variant is precise enough for a client to act on, and maps
//! to one gRPC status code and one machine-readable reason (`stockraft-api`'s `to_proto`).

use crate::campaign::Person;
use crate::hold::HoldState;
use crate::ids::{CampaignId, HoldId, IdentityKey, SkuId};
use serde::{Deserialize, Serialize};

/// Which kind of object an id named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntityKind {
    Warehouse,
    Item,
    Sku,
    Hold,
    Request,
    Shipment,
    StockLevel,
    /// (Appended: older encodings decode unchanged.)
    Campaign,
    /// A place on a SKU's waitlist.
    WaitlistPlace,
    /// A SKU's raffle, or an entry in it.
    Raffle,
    RaffleEntry,
}

impl std::fmt::Display for EntityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntityKind::Warehouse => "warehouse",
            EntityKind::Item => "item",
            EntityKind::Sku => "SKU",
            EntityKind::Hold => "hold",
            EntityKind::Request => "request id",
            EntityKind::Shipment => "inbound shipment",
            EntityKind::StockLevel => "stock level",
            EntityKind::Campaign => "campaign",
            EntityKind::WaitlistPlace => "waitlist place for",
            EntityKind::Raffle => "raffle of SKU",
            EntityKind::RaffleEntry => "raffle entry for",
        })
    }
}

/// Which per-buyer limit a reserve would break.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LimitKind {
    /// Units of the SKU across the buyer's open holds and confirmed orders.
    UnitsPerBuyer,
    /// Open holds on the SKU at once.
    OpenHoldsPerBuyer,
    /// A buyer-risk rule capped this buyer below the SKU's usual limit.
    RiskCap,
}

impl LimitKind {
    /// The limit as the API names it: the `SaleRules` (or `RiskRule`) field that sets it.
    pub fn field_name(self) -> &'static str {
        match self {
            LimitKind::UnitsPerBuyer => "units_per_buyer_max",
            LimitKind::OpenHoldsPerBuyer => "open_holds_per_buyer_max",
            LimitKind::RiskCap => "risk_rules.cap_units",
        }
    }
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.field_name())
    }
}

/// Why a buyer was turned away by the SKU's anti-scalper rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RiskReason {
    /// The buyer is on the SKU's blocklist.
    Blocklisted,
    /// Rule number `n` (zero-based, in the SKU's order) matched with a reject action.
    Rule(u16),
}

impl std::fmt::Display for RiskReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RiskReason::Blocklisted => f.write_str("blocklist"),
            RiskReason::Rule(n) => write!(f, "risk rule {n} (zero-based, in the order of risk_rules)"),
        }
    }
}

/// Why confirming a hold after its TTL did not take a fresh hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpiredReason {
    /// The SKU allows no (more) re-holds for this hold.
    ReholdLimitReached,
    /// The grace window after expiry has passed.
    GraceWindowPassed,
    /// A re-hold was allowed but there is no stock left for it.
    NoStockForRehold,
}

impl std::fmt::Display for ExpiredReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExpiredReason::ReholdLimitReached => "it has been re-held as often as the SKU's rehold_limit allows",
            ExpiredReason::GraceWindowPassed => "the SKU's rehold_grace_ms after its expiry has passed",
            ExpiredReason::NoStockForRehold => "no stock is left to hold for it again",
        })
    }
}

/// Why a raffle refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaffleRefusal {
    /// A reserve, deduct or waitlist place on a SKU whose raffle is not drawn yet: enter it.
    SoldByRaffle,
    /// A draw before the entries closed.
    EntriesOpen,
    /// The seed revealed is not the one committed to.
    SeedMismatch,
    /// The raffle was drawn already (an entry, a second draw).
    AlreadyDrawn,
    /// A new raffle on a SKU whose raffle is not drawn yet, or while buyers wait on its waitlist.
    InProgress,
}

fn raffle_message(sku: &SkuId, refusal: RaffleRefusal, entries_close_at_ms: u64) -> String {
    match refusal {
        RaffleRefusal::SoldByRaffle => format!(
            "SKU {sku} is sold by raffle: enter it until {entries_close_at_ms} ms (log time); winners are drawn after"
        ),
        RaffleRefusal::EntriesOpen => {
            format!("the raffle of SKU {sku} takes entries until {entries_close_at_ms} ms (log time): draw after")
        }
        RaffleRefusal::SeedMismatch => {
            format!("the seed is not the one the raffle of SKU {sku} committed to: its SHA-256 differs")
        }
        RaffleRefusal::AlreadyDrawn => format!("the raffle of SKU {sku} has been drawn"),
        RaffleRefusal::InProgress => {
            format!("SKU {sku} has a raffle not drawn yet, or buyers waiting on its waitlist: a new raffle must wait")
        }
    }
}

/// A bounded table that is full. Each is one limit of `limits.rs`, refused with
/// RESOURCE_EXHAUSTED naming it rather than let something go uncounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Capacity {
    /// The cluster's campaigns.
    Campaigns,
    /// The people (buyer ids and identity keys) one campaign tracks.
    CampaignPeople,
    /// The places on one SKU's waitlist (its own length_max, or the ledger's bound).
    WaitlistLength,
    /// The entries in one raffle.
    RaffleEntries,
}

impl Capacity {
    /// The limit's name in `limits.rs`, which the API reports.
    pub fn limit_name(self) -> &'static str {
        match self {
            Capacity::Campaigns => "CAMPAIGNS_MAX",
            Capacity::CampaignPeople => "CAMPAIGN_PEOPLE_MAX",
            Capacity::WaitlistLength => "waitlist_length_max",
            Capacity::RaffleEntries => "RAFFLE_ENTRIES_MAX",
        }
    }
}

/// A length of log time for people: whole days, hours or minutes when it is one, else ms.
fn log_time_span(ms: u64) -> String {
    const MINUTE: u64 = 60_000;
    for (unit, name) in [(24 * 60 * MINUTE, "day"), (60 * MINUTE, "hour"), (MINUTE, "minute")] {
        if ms.is_multiple_of(unit) {
            let n = ms / unit;
            return format!("{n} {name}{}", if n == 1 { "" } else { "s" });
        }
    }
    format!("{ms} ms")
}

fn capacity_message(capacity: Capacity, of: &str, limit: u64) -> String {
    let name = capacity.limit_name();
    match capacity {
        Capacity::Campaigns => format!("the cluster already has {limit} campaigns, the most it may have ({name})"),
        Capacity::CampaignPeople => format!(
            "campaign {of} already tracks {limit} people (buyer ids and identity keys), the most it may ({name})"
        ),
        Capacity::WaitlistLength => format!("the waitlist of SKU {of} is full: its {limit} places ({name}) are taken"),
        Capacity::RaffleEntries => {
            format!("the raffle of SKU {of} is full: it has {limit} entries, the most a raffle takes ({name})")
        }
    }
}

/// A refused command. A rejected command changes no stock, hold or catalog entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    #[error("{kind} {id:?} not found")]
    NotFound { kind: EntityKind, id: String },

    #[error("{kind} {id:?} already exists{}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    AlreadyExists { kind: EntityKind, id: String, detail: String },

    #[error("out of stock: SKU {sku} needs {requested} units, {available} can be allocated")]
    OutOfStock { sku: SkuId, requested: u32, available: u32 },

    #[error("hold {hold} has expired and cannot be re-held: {reason}")]
    HoldExpired { hold: HoldId, reason: ExpiredReason },

    #[error(
        "limit exceeded on SKU {sku}: {limit} is {allowed} for this buyer, and this request would bring it to {requested}"
    )]
    LimitExceeded { sku: SkuId, limit: LimitKind, allowed: u32, requested: u64 },

    #[error("the buyer is refused by SKU {sku}'s {reason}")]
    RiskRejected { sku: SkuId, reason: RiskReason },

    #[error("{}", transition_message(hold, *from, *to))]
    InvalidTransition { hold: HoldId, from: HoldState, to: HoldState },

    #[error("hold {hold} cannot ship yet: presold units have not arrived at the warehouse")]
    NotYetArrived { hold: HoldId },

    /// The answer to each request of a refused all-or-nothing batch but the one that was
    /// refused (`refused_at`, zero-based). (Last in the enum: older encodings decode unchanged.)
    #[error("not applied: request {} of this all-or-nothing batch was refused", refused_at + 1)]
    NotApplied { refused_at: u32 },

    /// A reserve or deduct before the SKU's sale window opens (log time `now_ms`).
    #[error("SKU {sku} is not on sale yet: the sale opens at {opens_at_ms} ms (log time), in {} ms", opens_at_ms.saturating_sub(*now_ms))]
    NotYetOnSale { sku: SkuId, opens_at_ms: u64, now_ms: u64 },

    /// A reserve or deduct from the close of the SKU's sale window on.
    #[error("the sale of SKU {sku} closed at {closed_at_ms} ms (log time)")]
    SaleClosed { sku: SkuId, closed_at_ms: u64 },

    /// A SKU's per-buyer cap, counted for one of the request's identity keys: every account
    /// that sends the key shares it. (Appended, as the ones after it.)
    #[error(
        "limit exceeded on SKU {sku}: {limit} is {allowed} for identity key {key}, shared by every account that sends it, and this request would bring it to {requested}"
    )]
    KeyLimitExceeded { sku: SkuId, key: IdentityKey, limit: LimitKind, allowed: u32, requested: u64 },

    /// A campaign's per-person cap, for the buyer or one of the request's identity keys.
    #[error(
        "limit exceeded in campaign {campaign}: units_per_person_max is {allowed} for {person}{}, and this request would bring it to {requested}",
        window_ms.map_or(String::new(), |window| format!(" per {}", log_time_span(window))))]
    CampaignLimitExceeded { campaign: CampaignId, person: Person, allowed: u32, requested: u64, window_ms: Option<u64> },

    /// A bounded table is full (`of`: whose, when it is one campaign's or SKU's).
    #[error("{}", capacity_message(*capacity, of, *max))]
    CapacityReached { capacity: Capacity, of: String, max: u64 },

    /// Open sale of the SKU is closed because buyers wait on its waitlist: sold out for
    /// everyone not in line (the API's reason is OUT_OF_STOCK, with nothing available).
    #[error(
        "out of stock for open sale: {waiting} buyers wait on the waitlist of SKU {sku}, and units that come back go to them first; reserve with join_waitlist to take a place"
    )]
    OthersWaiting { sku: SkuId, requested: u32, waiting: u32 },

    /// A raffle refused the call (`entries_close_at_ms`: when its entries close).
    #[error("{}", raffle_message(sku, *refusal, *entries_close_at_ms))]
    Raffle { sku: SkuId, refusal: RaffleRefusal, entries_close_at_ms: u64 },
}

impl Rejection {
    pub fn invalid(message: impl Into<String>) -> Self {
        Rejection::InvalidArgument(message.into())
    }

    pub fn not_found(kind: EntityKind, id: impl ToString) -> Self {
        Rejection::NotFound { kind, id: id.to_string() }
    }

    /// The refusal's kind in a word, for logs and tallies. (The API's reason for it is
    /// `stockraft-api`'s mapping, a `match` on the variant.)
    pub fn name(&self) -> &'static str {
        match self {
            Rejection::InvalidArgument(_) => "INVALID_ARGUMENT",
            Rejection::NotFound { .. } => "NOT_FOUND",
            Rejection::AlreadyExists { .. } => "ALREADY_EXISTS",
            Rejection::OutOfStock { .. } => "OUT_OF_STOCK",
            Rejection::HoldExpired { .. } => "HOLD_EXPIRED",
            Rejection::LimitExceeded { .. } => "LIMIT_EXCEEDED",
            Rejection::RiskRejected { .. } => "RISK_REJECTED",
            Rejection::InvalidTransition { .. } => "INVALID_TRANSITION",
            Rejection::NotYetArrived { .. } => "NOT_YET_ARRIVED",
            Rejection::NotApplied { .. } => "NOT_APPLIED",
            Rejection::NotYetOnSale { .. } => "NOT_YET_ON_SALE",
            Rejection::SaleClosed { .. } => "SALE_CLOSED",
            Rejection::KeyLimitExceeded { .. } | Rejection::CampaignLimitExceeded { .. } => "LIMIT_EXCEEDED",
            Rejection::CapacityReached { .. } => "CAPACITY_REACHED",
            Rejection::Raffle { .. } => "RAFFLE",
            Rejection::OthersWaiting { .. } => "OUT_OF_STOCK",
        }
    }

    /// Whether this refusal is not remembered: such requests change nothing, not even the
    /// idempotency table, so a corrected request may reuse the request id. Bad input, a request
    /// of a refused all-or-nothing batch, and a reserve outside the sale window (retried with
    /// the same id once the sale opens, it must be taken, not answered with a stale refusal).
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            Rejection::InvalidArgument(_)
                | Rejection::NotFound { .. }
                | Rejection::NotApplied { .. }
                | Rejection::NotYetOnSale { .. }
                | Rejection::SaleClosed { .. }
                | Rejection::Raffle { .. }
        )
    }
}

fn transition_message(hold: &HoldId, from: HoldState, to: HoldState) -> String {
    match (from, to) {
        (HoldState::Held, HoldState::Held) => {
            format!("hold {hold} is HELD and its TTL has not passed: there is nothing to re-hold, confirm it")
        }
        _ => format!("hold {hold} cannot go from {} to {}", from.name(), to.name()),
    }
}
