//! # stockraft-core: the stock ledger
//!
//! The pure, deterministic state machine that stockraft replicates with Raft. It knows
//! warehouses, items, SKUs, stock levels, inbound shipments, holds, buyers' caps and the audit
//! ledger, and changes only through [`State::apply`]:
//!
//! ```text
//! Command { now_ms (the leader's stamp), body } --apply(log_index)--> Outcome
//! ```
//!
//! No clock, no randomness, no I/O, no threads: time arrives inside commands, and applying the
//! same log to two empty states gives byte-identical [`State::snapshot`]s. See `DESIGN.md` for
//! the model, the rules and what each promises.
//!
//! ```
//! use stockraft_core::*;
//!
//! let mut state = State::new();
//! let mut log = 0;
//! let mut apply = |state: &mut State, request: &str, op: Op| {
//!     log += 1;
//!     let request_id = RequestId::new(request).unwrap();
//!     state.apply(log, &Command { now_ms: 1_000, body: CommandBody::Request(Request::new(request_id, op)?) })
//! };
//! let wh = WarehouseId::new("sh-01").unwrap();
//! let item = ItemId::new("moutai-500ml").unwrap();
//! let sku = SkuId::new("moutai-1").unwrap();
//! apply(&mut state, "r1", Op::UpsertWarehouse(UpsertWarehouse {
//!     id: wh.clone(), name: "Shanghai".into(), region: "east".into(), priority: 0, active: true,
//! })).unwrap();
//! apply(&mut state, "r2", Op::UpsertItem(UpsertItem { id: item.clone(), name: "Moutai 500ml".into() })).unwrap();
//! apply(&mut state, "r3", Op::UpsertSku(UpsertSku {
//!     id: sku.clone(), components: vec![(item.clone(), 1)], rules: SaleRules::default(),
//! })).unwrap();
//! apply(&mut state, "r4", Op::ReceiveStock(StockFigure {
//!     item: item.clone(), warehouse: wh.clone(), units: 1, note: "".into(),
//! })).unwrap();
//! let reserve = |hold: &str| Op::Reserve(Reserve {
//!     hold: HoldId::new(hold).unwrap(), buyer: BuyerId::new("alice").unwrap(),
//!     region: None, signals: None, lines: vec![Line { sku: sku.clone(), quantity: 1 }],
//! });
//! assert!(apply(&mut state, "r5", reserve("order-1")).is_ok());
//! assert!(matches!(apply(&mut state, "r6", reserve("order-2")), Err(Rejection::OutOfStock { .. })));
//! state.check_invariants().unwrap();
//! ```

mod allocate;
mod buyers;
mod campaign;
mod campaign_ops;
mod catalog;
mod catalog_ops;
mod chunked_queue;
mod command;
mod error;
mod expire;
mod expiry_index;
mod hold;
mod hold_ops;
mod hold_table;
mod idempotency;
mod ids;
mod invariants;
mod ledger;
pub mod limits;
mod maps;
mod query;
pub mod raffle;
mod raffle_ops;
mod reply;
mod rules;
mod slab;
mod snapshot;
mod state;
mod stock;
mod stock_ops;
mod validate;
mod waitlist;
mod waitlist_ops;
mod window;

pub use campaign::{Campaign, CampaignIndex, Counted, Person};
pub use catalog::{Component, ItemIndex, Sku, SkuIndex, Warehouse, WarehouseIndex};
pub use command::*;
pub use error::{Capacity, EntityKind, ExpiredReason, LimitKind, RaffleRefusal, Rejection, RiskReason};
pub use hold::{Allocation, HoldState};
pub use idempotency::fingerprint;
pub use ids::*;
pub use invariants::{Invariant, InvariantViolation};
pub use ledger::{Deltas, LedgerOp};
pub use query::*;
pub use reply::*;
pub use rules::*;
pub use snapshot::{SNAPSHOT_FORMAT_VERSION, SnapshotError};
pub use state::{BuyerUsage, HoldExtras, State};
pub use stock::StockLevel;
pub use waitlist::{Waiting, Waitlist};
pub use window::SaleWindow;
