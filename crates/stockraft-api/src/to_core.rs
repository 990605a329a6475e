//! API requests into ledger requests. Everything a client sends is checked here or by the ledger
//! before it can reach the Raft log: ids, signed quantities, enum values. A refusal here is an
//! `INVALID_ARGUMENT` that changed nothing.

use compact_str::CompactString;
use stockraft_core::{
    self as core, BuyerId, CampaignId, DeductionMode, HoldId, IdentityKey, ItemId, Op, Rejection, Request, RequestId,
    RiskAction, RiskCondition, RiskRule, SaleRules, ShipmentId, SkuId, WarehouseId,
};
use stockraft_proto::v1;

type Checked<T> = Result<T, Rejection>;

fn invalid(message: String) -> Rejection {
    Rejection::InvalidArgument(message)
}

/// A signed API quantity as the ledger's `u32`, within `range` (the ledger's own bound for the
/// field, which the ledger checks again), with the real range in the refusal.
pub fn units(field: &str, value: i64, range: std::ops::RangeInclusive<u32>) -> Checked<u32> {
    match u32::try_from(value) {
        Ok(units) if range.contains(&units) => Ok(units),
        _ => Err(invalid(format!("{field} must be {} to {}, got {value}", range.start(), range.end()))),
    }
}

/// The ledger request: its id checked, its op checked for shape ([`Request::new`]), so that
/// nothing malformed is forwarded, proposed or logged.
fn request(request_id: &str, op: Op) -> Checked<Request> {
    Request::new(RequestId::new(request_id)?, op)
}

/// The fields a reserve and a deduction share (buf's rule of one request message per RPC gives
/// them two messages with the same fields).
pub struct ReserveFields<'a> {
    pub hold_id: &'a str,
    pub buyer_id: &'a str,
    pub region: &'a str,
    pub signals: Option<v1::BuyerSignals>,
    pub lines: &'a [v1::Line],
    pub identity_keys: &'a [String],
}

macro_rules! reserve_fields {
    ($($message:ty),*) => {$(
        impl<'a> From<&'a $message> for ReserveFields<'a> {
            fn from(r: &'a $message) -> Self {
                ReserveFields {
                    hold_id: &r.hold_id,
                    buyer_id: &r.buyer_id,
                    region: &r.region,
                    signals: r.signals,
                    lines: &r.lines,
                    identity_keys: &r.identity_keys,
                }
            }
        }
    )*};
}
reserve_fields!(v1::ReserveRequest, v1::DeductRequest, v1::EnterRaffleRequest);

pub fn reserve_op<'a>(r: impl Into<ReserveFields<'a>>) -> Checked<core::Reserve> {
    let r = r.into();
    let lines = r
        .lines
        .iter()
        .map(|line| {
            Ok(core::Line {
                sku: SkuId::new(&line.sku_id)?,
                quantity: units("line quantity", line.quantity, 1..=core::limits::LINE_QUANTITY_MAX)?,
            })
        })
        .collect::<Checked<Vec<_>>>()?;
    Ok(core::Reserve {
        hold: HoldId::new(r.hold_id)?,
        buyer: BuyerId::new(r.buyer_id)?,
        region: (!r.region.is_empty()).then(|| CompactString::from(r.region)),
        signals: r.signals.map(|s| core::BuyerSignals {
            account_age_days: s.account_age_days,
            membership_age_days: s.membership_age_days,
            orders_last_year: s.orders_last_year,
            days_since_last_activity: s.days_since_last_activity,
        }),
        lines,
    })
}

/// The request's identity keys, checked (none: a plain reserve, which logs nothing new).
pub fn identity_keys(keys: &[String]) -> Checked<Vec<IdentityKey>> {
    keys.iter().map(|key| IdentityKey::new(key)).collect()
}

pub fn reserve(r: &v1::ReserveRequest) -> Checked<Request> {
    let keys = identity_keys(&r.identity_keys)?;
    let reserve = reserve_op(r)?;
    let op = match (r.join_waitlist, keys.is_empty()) {
        (true, _) => Op::ReserveOrWait(core::KeyedReserve { reserve, keys }),
        (false, true) => Op::Reserve(reserve),
        (false, false) => Op::ReserveKeyed(core::KeyedReserve { reserve, keys }),
    };
    request(&r.request_id, op)
}

pub fn enter_raffle(r: &v1::EnterRaffleRequest) -> Checked<Request> {
    let keys = identity_keys(&r.identity_keys)?;
    request(&r.request_id, Op::EnterRaffle(core::KeyedReserve { reserve: reserve_op(r)?, keys }))
}

pub fn create_raffle(r: &v1::CreateRaffleRequest) -> Checked<Request> {
    let seed_sha256: [u8; 32] = r.seed_sha256.as_slice().try_into().map_err(|_| {
        invalid(format!("seed_sha256 is {} bytes; a SHA-256 is 32 (hex: 64 digits)", r.seed_sha256.len()))
    })?;
    let create = core::CreateRaffle {
        sku: SkuId::new(&r.sku_id)?,
        entries_open_at_ms: r.entries_open_at_ms,
        entries_close_at_ms: r.entries_close_at_ms,
        seed_sha256,
    };
    request(&r.request_id, Op::CreateRaffle(create))
}

pub fn draw_raffle(r: &v1::DrawRaffleRequest) -> Checked<Request> {
    request(&r.request_id, Op::DrawRaffle { sku: SkuId::new(&r.sku_id)?, seed: r.seed.clone() })
}

pub fn set_waitlist(r: &v1::SetWaitlistRequest) -> Checked<Request> {
    request(&r.request_id, Op::SetWaitlist { sku: SkuId::new(&r.sku_id)?, length_max: r.length_max })
}

pub fn leave_waitlist(r: &v1::LeaveWaitlistRequest) -> Checked<Request> {
    request(&r.request_id, Op::LeaveWaitlist { sku: SkuId::new(&r.sku_id)?, hold: HoldId::new(&r.hold_id)? })
}

pub fn deduct(r: &v1::DeductRequest) -> Checked<Request> {
    let keys = identity_keys(&r.identity_keys)?;
    let deduct = reserve_op(r)?;
    let op = match keys.is_empty() {
        true => Op::Deduct(deduct),
        false => Op::DeductKeyed(core::KeyedReserve { reserve: deduct, keys }),
    };
    request(&r.request_id, op)
}

pub fn upsert_campaign(r: &v1::UpsertCampaignRequest) -> Checked<Request> {
    let c = r.campaign.as_ref().ok_or_else(|| invalid("campaign is missing".into()))?;
    let upsert = core::UpsertCampaign {
        id: CampaignId::new(&c.campaign_id)?,
        skus: c.sku_ids.iter().map(|sku| SkuId::new(sku)).collect::<Checked<_>>()?,
        units_per_person_max: c.units_per_person_max,
        window_ms: c.window_ms,
    };
    request(&r.request_id, Op::UpsertCampaign(upsert))
}

/// Whom a GetCampaign asks about, if anyone.
pub fn campaign_person(r: &v1::GetCampaignRequest) -> Checked<Option<core::Person>> {
    match (r.buyer_id.is_empty(), r.identity_key.is_empty()) {
        (true, true) => Ok(None),
        (false, true) => Ok(Some(core::Person::Buyer(BuyerId::new(&r.buyer_id)?))),
        (true, false) => Ok(Some(core::Person::Key(IdentityKey::new(&r.identity_key)?))),
        (false, false) => Err(invalid("ask about a buyer_id or an identity_key, not both".into())),
    }
}

/// A hold transition: the request's id and hold id, and the op it asks for.
pub trait HoldAction {
    fn ids(&self) -> (&str, &str);
    fn op(hold: HoldId) -> Op;
}

macro_rules! hold_action {
    ($($message:ty => $op:ident),*) => {$(
        impl HoldAction for $message {
            fn ids(&self) -> (&str, &str) {
                (&self.request_id, &self.hold_id)
            }
            fn op(hold: HoldId) -> Op {
                Op::$op { hold }
            }
        }
    )*};
}
hold_action!(
    v1::ConfirmRequest => Confirm,
    v1::ReholdRequest => Rehold,
    v1::ReleaseRequest => Release,
    v1::CancelRequest => Cancel,
    v1::ShipRequest => Ship
);

pub fn hold_action<R: HoldAction>(r: &R) -> Checked<Request> {
    let (request_id, hold_id) = r.ids();
    request(request_id, R::op(HoldId::new(hold_id)?))
}

pub fn upsert_warehouse(r: &v1::UpsertWarehouseRequest) -> Checked<Request> {
    let w = r.warehouse.as_ref().ok_or_else(|| invalid("warehouse is missing".into()))?;
    let op = Op::UpsertWarehouse(core::UpsertWarehouse {
        id: WarehouseId::new(&w.id)?,
        name: CompactString::from(w.name.as_str()),
        region: CompactString::from(w.region.as_str()),
        priority: w.priority,
        // Absent means active (the proto says why).
        active: w.active.unwrap_or(true),
    });
    request(&r.request_id, op)
}

pub fn upsert_item(r: &v1::UpsertItemRequest) -> Checked<Request> {
    let item = r.item.as_ref().ok_or_else(|| invalid("item is missing".into()))?;
    request(
        &r.request_id,
        Op::UpsertItem(core::UpsertItem { id: ItemId::new(&item.id)?, name: CompactString::from(item.name.as_str()) }),
    )
}

pub fn upsert_sku(r: &v1::UpsertSkuRequest) -> Checked<Request> {
    let components = r
        .components
        .iter()
        .map(|c| {
            Ok((
                ItemId::new(&c.item_id)?,
                units("component quantity", c.quantity, 1..=core::limits::COMPONENT_QUANTITY_MAX)?,
            ))
        })
        .collect::<Checked<Vec<_>>>()?;
    let rules = sale_rules(r.rules.as_ref().cloned().unwrap_or_default())?;
    request(&r.request_id, Op::UpsertSku(core::UpsertSku { id: SkuId::new(&r.sku_id)?, components, rules }))
}

fn sale_rules(r: v1::SaleRules) -> Checked<SaleRules> {
    let defaults = SaleRules::default();
    let mode = match v1::DeductionMode::try_from(r.mode) {
        Ok(v1::DeductionMode::Unspecified | v1::DeductionMode::PreDeduct) => DeductionMode::PreDeduct,
        Ok(v1::DeductionMode::OnOrder) => DeductionMode::OnOrder,
        Ok(v1::DeductionMode::OnPayment) => DeductionMode::OnPayment,
        Err(_) => return Err(invalid(format!("unknown deduction mode {}", r.mode))),
    };
    let risk_rules = r.risk_rules.iter().enumerate().map(|(n, rule)| risk_rule(n, rule)).collect::<Checked<_>>()?;
    Ok(SaleRules {
        mode,
        hold_ttl_ms: if r.hold_ttl_ms == 0 { defaults.hold_ttl_ms } else { r.hold_ttl_ms },
        units_per_buyer_max: r.units_per_buyer_max,
        open_holds_per_buyer_max: r.open_holds_per_buyer_max,
        rehold_limit: r.rehold_limit.unwrap_or(defaults.rehold_limit),
        rehold_grace_ms: r.rehold_grace_ms.unwrap_or(defaults.rehold_grace_ms),
        risk_rules,
        allow_split: r.allow_split,
        presale_units_max: r.presale_units_max,
    })
}

fn risk_rule(n: usize, r: &v1::RiskRule) -> Checked<RiskRule> {
    use v1::risk_rule::Action;
    let action = match r.action {
        Some(Action::Allow(true)) => RiskAction::Allow,
        Some(Action::Reject(true)) => RiskAction::Reject,
        Some(Action::CapUnits(cap)) => RiskAction::Cap(cap),
        Some(Action::Allow(false) | Action::Reject(false)) | None => {
            return Err(invalid(format!("risk rule {n} has no action (allow, cap_units or reject)")));
        }
    };
    Ok(RiskRule {
        when: RiskCondition {
            account_age_days_below: r.account_age_days_below,
            membership_age_days_below: r.membership_age_days_below,
            orders_last_year_below: r.orders_last_year_below,
            days_since_last_activity_at_least: r.days_since_last_activity_at_least,
        },
        action,
    })
}

pub fn block_buyer(r: &v1::BlockBuyerRequest) -> Checked<Request> {
    let (sku, buyer) = (SkuId::new(&r.sku_id)?, BuyerId::new(&r.buyer_id)?);
    request(&r.request_id, Op::BlockBuyer { sku, buyer })
}

pub fn set_sale_window(r: &v1::SetSaleWindowRequest) -> Checked<Request> {
    let sku = SkuId::new(&r.sku_id)?;
    let window = r.window.as_ref().map_or(core::SaleWindow::default(), |w| core::SaleWindow {
        opens_at_ms: w.opens_at_ms,
        closes_at_ms: w.closes_at_ms,
    });
    request(&r.request_id, Op::SetSaleWindow { sku, window })
}

pub fn unblock_buyer(r: &v1::UnblockBuyerRequest) -> Checked<Request> {
    let (sku, buyer) = (SkuId::new(&r.sku_id)?, BuyerId::new(&r.buyer_id)?);
    request(&r.request_id, Op::UnblockBuyer { sku, buyer })
}

/// A stock-figure request (receive, count, safety stock: one message each, with the same
/// fields): the op it asks for.
pub trait StockFigureRequest {
    fn request_id(&self) -> &str;
    fn figure(&self) -> Checked<core::StockFigure>;
    fn op(figure: core::StockFigure) -> Op;
}

macro_rules! stock_figure {
    ($($message:ty => $op:ident, from $min:literal),*) => {$(
        impl StockFigureRequest for $message {
            fn request_id(&self) -> &str {
                &self.request_id
            }
            fn figure(&self) -> Checked<core::StockFigure> {
                Ok(core::StockFigure {
                    item: ItemId::new(&self.item_id)?,
                    warehouse: WarehouseId::new(&self.warehouse_id)?,
                    units: units("units", self.units, $min..=core::limits::STOCK_QUANTITY_MAX)?,
                    note: CompactString::from(self.note.as_str()),
                })
            }
            fn op(figure: core::StockFigure) -> Op {
                Op::$op(figure)
            }
        }
    )*};
}
// A receipt moves at least one unit; a count or a safety stock may be 0.
stock_figure!(
    v1::ReceiveStockRequest => ReceiveStock, from 1,
    v1::CountStockRequest => CountStock, from 0,
    v1::SetSafetyStockRequest => SetSafetyStock, from 0
);

pub fn stock_figure<R: StockFigureRequest>(r: &R) -> Checked<Request> {
    request(r.request_id(), R::op(r.figure()?))
}

pub fn add_inbound(r: &v1::AddInboundRequest) -> Checked<Request> {
    let s = r.shipment.as_ref().ok_or_else(|| invalid("shipment is missing".into()))?;
    let op = Op::AddInbound(core::AddInbound {
        shipment: ShipmentId::new(&s.shipment_id)?,
        item: ItemId::new(&s.item_id)?,
        warehouse: WarehouseId::new(&s.warehouse_id)?,
        units: s.units,
        expected_arrival_ms: s.expected_arrival_ms,
    });
    request(&r.request_id, op)
}

pub fn receive_inbound(r: &v1::ReceiveInboundRequest) -> Checked<Request> {
    let op = Op::ReceiveInbound {
        shipment: ShipmentId::new(&r.shipment_id)?,
        received_units: units("received_units", r.received_units, 0..=core::limits::STOCK_QUANTITY_MAX)?,
        note: CompactString::from(r.note.as_str()),
    };
    request(&r.request_id, op)
}

pub fn cancel_inbound(r: &v1::CancelInboundRequest) -> Checked<Request> {
    request(
        &r.request_id,
        Op::CancelInbound { shipment: ShipmentId::new(&r.shipment_id)?, note: CompactString::from(r.note.as_str()) },
    )
}

pub fn ledger_query(q: &v1::QueryLedgerRequest) -> Checked<core::LedgerQuery> {
    let op = match v1::LedgerOp::try_from(q.op) {
        Ok(v1::LedgerOp::Unspecified) => None,
        Ok(op) => Some(ledger_op(op)),
        Err(_) => return Err(invalid(format!("unknown ledger op {}", q.op))),
    };
    fn optional(s: &str) -> Option<&str> {
        (!s.is_empty()).then_some(s)
    }
    Ok(core::LedgerQuery {
        item: optional(&q.item_id).map(ItemId::new).transpose()?,
        warehouse: optional(&q.warehouse_id).map(WarehouseId::new).transpose()?,
        hold: optional(&q.hold_id).map(HoldId::new).transpose()?,
        op,
        from_ms: q.from_ms,
        until_ms: q.until_ms,
        from_seq: q.from_seq,
        limit: match q.limit as usize {
            0 => 1000,
            n @ 1..=core::limits::LEDGER_QUERY_MAX => n,
            n => {
                let max = core::limits::LEDGER_QUERY_MAX;
                return Err(invalid(format!("limit must be 1 to {max} (0 for 1000), got {n}")));
            }
        },
    })
}

fn ledger_op(op: v1::LedgerOp) -> core::LedgerOp {
    use core::LedgerOp as L;
    use v1::LedgerOp as P;
    match op {
        P::Unspecified | P::ReceiveStock => L::ReceiveStock,
        P::CountStock => L::CountStock,
        P::SetSafetyStock => L::SetSafetyStock,
        P::InboundAdded => L::InboundAdded,
        P::InboundReceived => L::InboundReceived,
        P::InboundCancelled => L::InboundCancelled,
        P::Reserve => L::Reserve,
        P::Deduct => L::Deduct,
        P::Confirm => L::Confirm,
        P::Rehold => L::Rehold,
        P::Release => L::Release,
        P::Expire => L::Expire,
        P::Ship => L::Ship,
        P::Cancel => L::Cancel,
    }
}

/// A page request: entries after `after`, at most `limit` (1 to 1000; 0 means 100).
pub struct Page<'a> {
    pub after: &'a str,
    pub limit: usize,
}

/// A List request's page (`after`, `limit`: the same fields in every List call's message).
pub fn page(after: &str, limit: u32) -> Checked<Page<'_>> {
    let limit = match limit {
        0 => 100,
        n @ 1..=1000 => n as usize,
        n => return Err(invalid(format!("limit must be 1 to 1000 (0 for 100), got {n}"))),
    };
    Ok(Page { after, limit })
}

/// One operation of a bulk import.
pub fn import_op(op: &v1::ImportOp) -> Checked<Request> {
    use v1::import_op::Op as Import;
    match &op.op {
        Some(Import::Warehouse(r)) => upsert_warehouse(r),
        Some(Import::Item(r)) => upsert_item(r),
        Some(Import::Sku(r)) => upsert_sku(r),
        Some(Import::CountStock(r)) => stock_figure(r),
        Some(Import::ReceiveStock(r)) => stock_figure(r),
        Some(Import::SafetyStock(r)) => stock_figure(r),
        None => Err(Rejection::invalid("an import operation needs one of its fields set")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warehouse_sent_without_active_is_active() {
        let request = |active| v1::UpsertWarehouseRequest {
            request_id: "r-1".into(),
            warehouse: Some(v1::Warehouse { id: "sh-01".into(), active, ..v1::Warehouse::default() }),
        };
        let active_of = |active| match upsert_warehouse(&request(active)).expect("a valid warehouse").op {
            Op::UpsertWarehouse(w) => w.active,
            other => panic!("{other:?}"),
        };
        assert!(active_of(None), "an absent field must not disable the warehouse's stock");
        assert!(active_of(Some(true)));
        assert!(!active_of(Some(false)));
    }

    #[test]
    fn a_ledger_query_over_the_stated_limit_is_refused() {
        let query = |limit| v1::QueryLedgerRequest { limit, ..v1::QueryLedgerRequest::default() };
        assert_eq!(ledger_query(&query(0)).unwrap().limit, 1000);
        assert_eq!(ledger_query(&query(10_000)).unwrap().limit, 10_000);
        let refused = ledger_query(&query(20_000)).expect_err("20,000 > 10,000");
        assert_eq!(refused.to_string(), "invalid argument: limit must be 1 to 10000 (0 for 1000), got 20000");
    }

    #[test]
    fn a_stock_figure_out_of_range_is_told_its_own_range() {
        let receive = |units| v1::ReceiveStockRequest {
            request_id: "r-1".into(),
            item_id: "moutai".into(),
            warehouse_id: "sh-01".into(),
            units,
            note: String::new(),
        };
        let refused = stock_figure(&receive(-1)).expect_err("a negative receipt");
        assert_eq!(refused.to_string(), "invalid argument: units must be 1 to 1000000000, got -1");
        let count = v1::CountStockRequest {
            request_id: "r-2".into(),
            item_id: "moutai".into(),
            warehouse_id: "sh-01".into(),
            units: -1,
            note: String::new(),
        };
        let refused = stock_figure(&count).expect_err("a negative count");
        assert_eq!(refused.to_string(), "invalid argument: units must be 0 to 1000000000, got -1");
    }
}
