//! Why a command was refused. Every variant is precise enough for a client to act on, and maps
//! to one gRPC status code and one machine-readable reason (`stockraft-api`'s `to_proto`).

use crate::hold::HoldState;
use crate::ids::{HoldId, SkuId};
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

/// Why a buyer was turned away by the SKU's anti-scalper rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RiskReason {
    /// The buyer is on the SKU's blocklist.
    Blocklisted,
    /// Rule number `n` (zero-based, in the SKU's order) matched with a reject action.
    Rule(u16),
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

/// A refused command. A rejected command changes no stock, hold or catalog entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    #[error("{kind:?} {id:?} not found")]
    NotFound { kind: EntityKind, id: String },

    #[error("{kind:?} {id:?} already exists{}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    AlreadyExists { kind: EntityKind, id: String, detail: String },

    #[error("out of stock: sku {sku} needs {requested} units, {available} can be allocated")]
    OutOfStock { sku: SkuId, requested: u32, available: u32 },

    #[error("hold {hold} expired ({reason:?})")]
    HoldExpired { hold: HoldId, reason: ExpiredReason },

    #[error("limit exceeded on sku {sku}: {limit:?} allows {allowed}, the request would reach {requested}")]
    LimitExceeded { sku: SkuId, limit: LimitKind, allowed: u32, requested: u64 },

    #[error("buyer rejected by the risk rules of sku {sku} ({reason:?})")]
    RiskRejected { sku: SkuId, reason: RiskReason },

    #[error("hold {hold} cannot go from {from:?} to {to:?}")]
    InvalidTransition { hold: HoldId, from: HoldState, to: HoldState },

    #[error("hold {hold} cannot ship yet: presold units have not arrived at the warehouse")]
    NotYetArrived { hold: HoldId },

    /// The answer to each request of a refused all-or-nothing batch but the one that was
    /// refused (`refused_at`, zero-based). (Last in the enum: older encodings decode unchanged.)
    #[error("not applied: request {} of this all-or-nothing batch was refused", refused_at + 1)]
    NotApplied { refused_at: u32 },
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
        }
    }

    /// Whether this is an input error: such requests change nothing, not even the idempotency
    /// table, so a corrected request may reuse the request id. (A request of a refused
    /// all-or-nothing batch changed nothing either.)
    pub fn is_input_error(&self) -> bool {
        matches!(self, Rejection::InvalidArgument(_) | Rejection::NotFound { .. } | Rejection::NotApplied { .. })
    }
}
