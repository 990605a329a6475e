//! Ledger answers into API messages, and ledger rejections into gRPC statuses.

use stockraft_core::{
    self as core, DeductionMode, ExpiredReason, HoldReceipt, HoldState, Rejection, RiskAction, RiskReason, State,
};
use stockraft_proto::errors::{code_for, status_with_detail};
use stockraft_proto::v1;
use tonic::Status;

/// The gRPC status for a ledger rejection, with its reason and figures in the details.
pub fn rejection(r: &Rejection) -> Status {
    rejection_at(r, 0)
}

const _: () = assert!(
    stockraft_proto::RESERVE_BATCH_MAX == core::limits::RESERVE_BATCH_MAX,
    "the API's batch limit is the ledger's"
);

/// The API's machine-readable reason for a ledger refusal.
pub fn reason(r: &Rejection) -> v1::Reason {
    match r {
        Rejection::InvalidArgument(_) | Rejection::NotApplied { .. } => v1::Reason::InvalidArgument,
        Rejection::NotFound { .. } => v1::Reason::NotFound,
        Rejection::AlreadyExists { .. } => v1::Reason::AlreadyExists,
        Rejection::OutOfStock { .. } | Rejection::OthersWaiting { .. } => v1::Reason::OutOfStock,
        Rejection::HoldExpired { .. } => v1::Reason::HoldExpired,
        Rejection::LimitExceeded { .. }
        | Rejection::KeyLimitExceeded { .. }
        | Rejection::CampaignLimitExceeded { .. }
        | Rejection::CapacityReached { .. } => v1::Reason::LimitExceeded,
        Rejection::Raffle { .. } => v1::Reason::Raffle,
        Rejection::RiskRejected { .. } => v1::Reason::RiskRejected,
        Rejection::InvalidTransition { .. } => v1::Reason::InvalidTransition,
        Rejection::NotYetArrived { .. } => v1::Reason::NotYetArrived,
        Rejection::NotYetOnSale { .. } => v1::Reason::NotYetOnSale,
        Rejection::SaleClosed { .. } => v1::Reason::SaleClosed,
    }
}

/// A refusal the ledger decided at log index `log_index`.
pub fn rejection_at(r: &Rejection, log_index: u64) -> Status {
    let detail = rejection_detail(r, log_index);
    status_with_detail(code_for(reason(r)), detail)
}

/// The `ErrorDetail` of a refusal the ledger decided at `log_index` (what a batch reply carries
/// per refused reserve; [`rejection_at`] sends it as a status). Counted by reason.
pub fn rejection_detail(r: &Rejection, log_index: u64) -> v1::ErrorDetail {
    let reason = reason(r);
    metrics::counter!(crate::REJECTIONS_METRIC, "reason" => stockraft_proto::errors::reason_name(reason)).increment(1);
    let mut detail =
        v1::ErrorDetail { reason: reason as i32, message: r.to_string(), log_index, ..v1::ErrorDetail::default() };
    match r {
        Rejection::OutOfStock { sku, requested, available } => {
            detail.sku_id = sku.to_string();
            detail.requested = i64::from(*requested);
            detail.available = i64::from(*available);
        }
        Rejection::OthersWaiting { sku, requested, .. } => {
            detail.sku_id = sku.to_string();
            detail.requested = i64::from(*requested);
        }
        Rejection::LimitExceeded { sku, limit, allowed, requested } => {
            detail.sku_id = sku.to_string();
            detail.limit = limit.field_name().to_string();
            detail.allowed = i64::from(*allowed);
            detail.requested = i64::try_from(*requested).unwrap_or(i64::MAX);
        }
        Rejection::KeyLimitExceeded { sku, key, limit, allowed, requested } => {
            detail.sku_id = sku.to_string();
            detail.identity_key = key.to_string();
            detail.limit = limit.field_name().to_string();
            detail.allowed = i64::from(*allowed);
            detail.requested = i64::try_from(*requested).unwrap_or(i64::MAX);
        }
        Rejection::CampaignLimitExceeded { campaign, person, allowed, requested, .. } => {
            detail.campaign_id = campaign.to_string();
            if let core::Person::Key(key) = person {
                detail.identity_key = key.to_string();
            }
            detail.limit = "Campaign.units_per_person_max".to_string();
            detail.allowed = i64::from(*allowed);
            detail.requested = i64::try_from(*requested).unwrap_or(i64::MAX);
        }
        Rejection::CapacityReached { capacity, of, max } => {
            detail.limit = capacity.limit_name().to_string();
            detail.allowed = i64::try_from(*max).unwrap_or(i64::MAX);
            match capacity {
                core::Capacity::CampaignPeople => detail.campaign_id = of.clone(),
                core::Capacity::WaitlistLength | core::Capacity::RaffleEntries => detail.sku_id = of.clone(),
                core::Capacity::Campaigns => {}
            }
        }
        Rejection::Raffle { sku, refusal, entries_close_at_ms } => {
            detail.sku_id = sku.to_string();
            detail.raffle_refusal = raffle_refusal(*refusal) as i32;
            detail.raffle_entries_close_at_ms = Some(*entries_close_at_ms).filter(|&at| at > 0);
        }
        Rejection::RiskRejected { sku, reason } => {
            detail.sku_id = sku.to_string();
            match reason {
                RiskReason::Blocklisted => detail.risk_refusal = v1::RiskRefusal::Blocklisted as i32,
                RiskReason::Rule(index) => {
                    detail.risk_refusal = v1::RiskRefusal::Rule as i32;
                    detail.risk_rule_index = Some(u32::from(*index));
                }
            }
        }
        Rejection::HoldExpired { hold, reason } => {
            detail.hold_id = hold.to_string();
            detail.rehold_refusal = rehold_refusal(*reason) as i32;
        }
        Rejection::InvalidTransition { hold, .. } | Rejection::NotYetArrived { hold } => {
            detail.hold_id = hold.to_string();
        }
        Rejection::NotYetOnSale { sku, opens_at_ms, .. } => {
            detail.sku_id = sku.to_string();
            detail.sale_opens_at_ms = Some(*opens_at_ms);
        }
        Rejection::SaleClosed { sku, closed_at_ms } => {
            detail.sku_id = sku.to_string();
            detail.sale_closes_at_ms = Some(*closed_at_ms);
        }
        Rejection::InvalidArgument(_)
        | Rejection::NotApplied { .. }
        | Rejection::NotFound { .. }
        | Rejection::AlreadyExists { .. } => {}
    }
    detail
}

/// Why a confirm past the TTL did not re-hold, as the API's enum.
pub fn rehold_refusal(reason: ExpiredReason) -> v1::ReholdRefusal {
    match reason {
        ExpiredReason::ReholdLimitReached => v1::ReholdRefusal::LimitReached,
        ExpiredReason::GraceWindowPassed => v1::ReholdRefusal::GraceWindowPassed,
        ExpiredReason::NoStockForRehold => v1::ReholdRefusal::NoStock,
    }
}

pub fn hold_state(state: HoldState) -> v1::HoldState {
    match state {
        HoldState::Held => v1::HoldState::Held,
        HoldState::Confirmed => v1::HoldState::Confirmed,
        HoldState::Shipped => v1::HoldState::Shipped,
        HoldState::Released => v1::HoldState::Released,
        HoldState::Expired => v1::HoldState::Expired,
        HoldState::Cancelled => v1::HoldState::Cancelled,
    }
}

pub fn hold_reply(state: &State, receipt: &HoldReceipt) -> v1::HoldReply {
    v1::HoldReply {
        hold_id: receipt.hold.to_string(),
        state: hold_state(receipt.state) as i32,
        expires_at_ms: receipt.expires_at_ms,
        allocations: receipt
            .allocations
            .iter()
            .map(|a| {
                let view = state.allocation_view(a);
                v1::Allocation {
                    item_id: view.item.to_string(),
                    warehouse_id: view.warehouse.to_string(),
                    quantity: view.quantity,
                }
            })
            .collect(),
        reheld: receipt.reheld,
        log_index: receipt.log_index,
        waitlist_position: None,
        raffle_entries: None,
    }
}

pub fn hold(view: &core::HoldView) -> v1::Hold {
    v1::Hold {
        hold_id: view.hold.to_string(),
        buyer_id: view.buyer.to_string(),
        state: hold_state(view.state) as i32,
        lines: view
            .lines
            .iter()
            .map(|l| v1::Line { sku_id: l.sku.to_string(), quantity: i64::from(l.quantity) })
            .collect(),
        allocations: view
            .allocations
            .iter()
            .map(|a| v1::Allocation {
                item_id: a.item.to_string(),
                warehouse_id: a.warehouse.to_string(),
                quantity: a.quantity,
            })
            .collect(),
        created_at_ms: view.created_at_ms,
        expires_at_ms: view.expires_at_ms,
        closed_at_ms: view.closed_at_ms,
        rehold_count: view.rehold_count,
        identity_keys: view.identity_keys.iter().map(ToString::to_string).collect(),
        waitlist_position: None,
    }
}

pub fn raffle_refusal(refusal: core::RaffleRefusal) -> v1::RaffleRefusal {
    match refusal {
        core::RaffleRefusal::SoldByRaffle => v1::RaffleRefusal::SoldByRaffle,
        core::RaffleRefusal::EntriesOpen => v1::RaffleRefusal::EntriesOpen,
        core::RaffleRefusal::SeedMismatch => v1::RaffleRefusal::SeedMismatch,
        core::RaffleRefusal::AlreadyDrawn => v1::RaffleRefusal::AlreadyDrawn,
        core::RaffleRefusal::InProgress => v1::RaffleRefusal::InProgress,
    }
}

pub fn raffle(r: &core::RaffleView) -> v1::Raffle {
    v1::Raffle {
        sku_id: r.sku.to_string(),
        entries_open_at_ms: r.entries_open_at_ms,
        entries_close_at_ms: r.entries_close_at_ms,
        seed_sha256: r.seed_sha256.to_vec(),
        entries: r
            .entries
            .iter()
            .map(|e| v1::RaffleEntry {
                hold_id: e.hold.to_string(),
                buyer_id: e.buyer.to_string(),
                quantity: e.quantity,
            })
            .collect(),
        draw: r.draw.as_ref().map(|d| v1::RaffleDraw {
            seed: d.seed.clone(),
            drawn_at_ms: d.drawn_at_ms,
            log_index: d.log_index,
            order: d.order.iter().map(ToString::to_string).collect(),
        }),
    }
}

/// An order entered in a raffle not drawn yet, as the API shows it.
pub fn raffle_entry(sku: &core::SkuId, e: &core::RaffleEntryView) -> v1::Hold {
    v1::Hold {
        hold_id: e.hold.to_string(),
        buyer_id: e.buyer.to_string(),
        state: v1::HoldState::RaffleEntered as i32,
        lines: vec![v1::Line { sku_id: sku.to_string(), quantity: i64::from(e.quantity) }],
        ..v1::Hold::default()
    }
}

/// The reply to a raffle entry.
pub fn raffle_entered(receipt: &core::WaitlistReceipt) -> v1::HoldReply {
    v1::HoldReply {
        hold_id: receipt.hold.to_string(),
        state: v1::HoldState::RaffleEntered as i32,
        log_index: receipt.log_index,
        raffle_entries: Some(receipt.position),
        ..v1::HoldReply::default()
    }
}

/// A waiting order as the API shows it: a Hold in WAITLISTED with its place.
pub fn waiting(w: &core::WaitingView) -> v1::Hold {
    v1::Hold {
        hold_id: w.hold.to_string(),
        buyer_id: w.buyer.to_string(),
        state: v1::HoldState::Waitlisted as i32,
        lines: vec![v1::Line { sku_id: w.sku.to_string(), quantity: i64::from(w.quantity) }],
        created_at_ms: w.joined_at_ms,
        identity_keys: w.identity_keys.iter().map(ToString::to_string).collect(),
        waitlist_position: Some(w.position),
        ..v1::Hold::default()
    }
}

/// The reply to a reserve that took a waitlist place instead of a hold.
pub fn waitlisted(receipt: &core::WaitlistReceipt) -> v1::HoldReply {
    v1::HoldReply {
        hold_id: receipt.hold.to_string(),
        state: v1::HoldState::Waitlisted as i32,
        log_index: receipt.log_index,
        waitlist_position: Some(receipt.position),
        ..v1::HoldReply::default()
    }
}

pub fn campaign(c: &core::CampaignView, counted_units: Option<u64>) -> v1::Campaign {
    v1::Campaign {
        campaign_id: c.id.to_string(),
        sku_ids: c.skus.iter().map(ToString::to_string).collect(),
        units_per_person_max: c.units_per_person_max,
        window_ms: c.window_ms,
        people_tracked: c.people_tracked,
        counted_units,
    }
}

pub fn stock_level(item: &str, warehouse: &str, level: &core::StockLevel) -> v1::StockLevel {
    v1::StockLevel {
        item_id: item.to_string(),
        warehouse_id: warehouse.to_string(),
        on_hand: level.on_hand,
        safety_stock: level.safety_stock,
        held: level.held,
        committed: level.committed,
        in_transit: level.in_transit,
        available: level.available(),
        shortfall: level.shortfall(),
        log_index: 0,
    }
}

pub fn availability(a: &core::SkuAvailability, as_of_log_index: u64) -> v1::Availability {
    v1::Availability {
        sku_id: a.sku.to_string(),
        sellable_units: a.sellable_units,
        presale_units: a.presale_units,
        warehouses: a
            .warehouses
            .iter()
            .map(|w| v1::WarehouseAvailability {
                warehouse_id: w.warehouse.to_string(),
                sellable_units: w.sellable_units,
                with_transit_units: w.with_transit_units,
            })
            .collect(),
        as_of_log_index,
        window: sale_window(&a.window),
        waiting_buyers: a.waiting_buyers,
    }
}

/// A sale window; none for a SKU always on sale.
pub fn sale_window(w: &core::SaleWindow) -> Option<v1::SaleWindow> {
    (*w != core::SaleWindow::default())
        .then_some(v1::SaleWindow { opens_at_ms: w.opens_at_ms, closes_at_ms: w.closes_at_ms })
}

pub fn warehouse(w: &core::Warehouse) -> v1::Warehouse {
    v1::Warehouse {
        id: w.id.to_string(),
        name: w.name.to_string(),
        region: w.region.to_string(),
        priority: w.priority,
        active: Some(w.active),
    }
}

pub fn sku(state: &State, sku: &core::Sku) -> v1::Sku {
    let r = &sku.rules;
    let waitlist = state.waitlist(&sku.id).ok().flatten();
    v1::Sku {
        id: sku.id.to_string(),
        components: state
            .components_of(sku)
            .into_iter()
            .map(|(item, quantity)| v1::Component { item_id: item.to_string(), quantity: i64::from(quantity) })
            .collect(),
        rules: Some(v1::SaleRules {
            mode: match r.mode {
                DeductionMode::OnOrder => v1::DeductionMode::OnOrder,
                DeductionMode::OnPayment => v1::DeductionMode::OnPayment,
                DeductionMode::PreDeduct => v1::DeductionMode::PreDeduct,
            } as i32,
            hold_ttl_ms: r.hold_ttl_ms,
            units_per_buyer_max: r.units_per_buyer_max,
            open_holds_per_buyer_max: r.open_holds_per_buyer_max,
            rehold_limit: Some(r.rehold_limit),
            rehold_grace_ms: Some(r.rehold_grace_ms),
            risk_rules: r
                .risk_rules
                .iter()
                .map(|rule| v1::RiskRule {
                    account_age_days_below: rule.when.account_age_days_below,
                    membership_age_days_below: rule.when.membership_age_days_below,
                    orders_last_year_below: rule.when.orders_last_year_below,
                    days_since_last_activity_at_least: rule.when.days_since_last_activity_at_least,
                    action: Some(match rule.action {
                        RiskAction::Allow => v1::risk_rule::Action::Allow(true),
                        RiskAction::Cap(cap) => v1::risk_rule::Action::CapUnits(cap),
                        RiskAction::Reject => v1::risk_rule::Action::Reject(true),
                    }),
                })
                .collect(),
            allow_split: r.allow_split,
            presale_units_max: r.presale_units_max,
        }),
        presale_units_live: sku.presale_units_live,
        blocked_buyers: u32::try_from(sku.blocklist.len()).unwrap_or(u32::MAX),
        window: sale_window(&sku.window),
        waitlist_length_max: waitlist.map(|w| w.length_max),
        waiting_buyers: waitlist.map_or(0, |w| w.waiting),
    }
}

pub fn ledger_op(op: core::LedgerOp) -> v1::LedgerOp {
    use core::LedgerOp as L;
    use v1::LedgerOp as P;
    match op {
        L::ReceiveStock => P::ReceiveStock,
        L::CountStock => P::CountStock,
        L::SetSafetyStock => P::SetSafetyStock,
        L::InboundAdded => P::InboundAdded,
        L::InboundReceived => P::InboundReceived,
        L::InboundCancelled => P::InboundCancelled,
        L::Reserve => P::Reserve,
        L::Deduct => P::Deduct,
        L::Confirm => P::Confirm,
        L::Rehold => P::Rehold,
        L::Release => P::Release,
        L::Expire => P::Expire,
        L::Ship => P::Ship,
        L::Cancel => P::Cancel,
    }
}

pub fn ledger_entry(e: &core::LedgerEntryView) -> v1::LedgerEntry {
    v1::LedgerEntry {
        seq: e.seq,
        log_index: e.log_index,
        at_ms: e.at_ms,
        op: ledger_op(e.op) as i32,
        item_id: e.item.to_string(),
        warehouse_id: e.warehouse.to_string(),
        on_hand_delta: i64::from(e.deltas.on_hand),
        safety_stock_delta: i64::from(e.deltas.safety_stock),
        held_delta: i64::from(e.deltas.held),
        committed_delta: i64::from(e.deltas.committed),
        in_transit_delta: i64::from(e.deltas.in_transit),
        shortfall_after: e.shortfall_after,
        hold_id: e.hold.as_ref().map(ToString::to_string).unwrap_or_default(),
        note: e.note.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stockraft_core::{EntityKind, HoldId, LimitKind, SkuId};

    /// The match in [`reason`] covers every variant (the compiler checks that); this checks that
    /// no two kinds of refusal share a reason a client would have to tell apart by message.
    #[test]
    fn every_kind_of_refusal_has_its_own_reason() {
        let sku = SkuId::new("s").unwrap();
        let hold = HoldId::new("h").unwrap();
        let refusals = [
            Rejection::InvalidArgument(String::new()),
            Rejection::NotFound { kind: EntityKind::Sku, id: String::new() },
            Rejection::AlreadyExists { kind: EntityKind::Hold, id: String::new(), detail: String::new() },
            Rejection::OutOfStock { sku: sku.clone(), requested: 1, available: 0 },
            Rejection::HoldExpired { hold: hold.clone(), reason: ExpiredReason::GraceWindowPassed },
            Rejection::LimitExceeded { sku: sku.clone(), limit: LimitKind::UnitsPerBuyer, allowed: 1, requested: 2 },
            Rejection::RiskRejected { sku, reason: RiskReason::Blocklisted },
            Rejection::InvalidTransition { hold: hold.clone(), from: HoldState::Held, to: HoldState::Shipped },
            Rejection::NotYetArrived { hold },
            Rejection::NotYetOnSale { sku: SkuId::new("s").unwrap(), opens_at_ms: 2, now_ms: 1 },
            Rejection::SaleClosed { sku: SkuId::new("s").unwrap(), closed_at_ms: 2 },
            Rejection::Raffle {
                sku: SkuId::new("s").unwrap(),
                refusal: core::RaffleRefusal::SoldByRaffle,
                entries_close_at_ms: 3,
            },
        ];
        let mut reasons: Vec<v1::Reason> = refusals.iter().map(reason).collect();
        assert!(!reasons.contains(&v1::Reason::Unspecified), "{reasons:?}");
        reasons.sort();
        reasons.dedup();
        assert_eq!(reasons.len(), refusals.len(), "{reasons:?}");
        // A request of a refused all-or-nothing batch was not applied: bad input, like its batch.
        assert_eq!(reason(&Rejection::NotApplied { refused_at: 0 }), v1::Reason::InvalidArgument);
    }

    /// Caps counted for an identity key or a campaign, and full tables, are limits like the
    /// others (one reason for a client to handle), told apart by the fields that name them.
    #[test]
    fn key_and_campaign_caps_are_limits_that_name_the_key_the_campaign_and_the_cap() {
        let sku = SkuId::new("moutai").unwrap();
        let key = core::IdentityKey::new("phone:5f1c").unwrap();
        let campaign = core::CampaignId::new("moutai-2026").unwrap();
        let by_key = rejection_detail(
            &Rejection::KeyLimitExceeded {
                sku,
                key: key.clone(),
                limit: LimitKind::UnitsPerBuyer,
                allowed: 1,
                requested: 2,
            },
            9,
        );
        assert_eq!(by_key.reason, v1::Reason::LimitExceeded as i32);
        assert_eq!((by_key.identity_key.as_str(), by_key.limit.as_str()), ("phone:5f1c", "units_per_buyer_max"));
        let in_campaign = rejection_detail(
            &Rejection::CampaignLimitExceeded {
                campaign: campaign.clone(),
                person: core::Person::Key(key),
                allowed: 2,
                requested: 3,
                window_ms: Some(2_592_000_000),
            },
            9,
        );
        assert_eq!(in_campaign.campaign_id, "moutai-2026");
        assert_eq!((in_campaign.limit.as_str(), in_campaign.allowed), ("Campaign.units_per_person_max", 2));
        assert!(in_campaign.message.contains("per 30 days"), "{}", in_campaign.message);
        let full = rejection_detail(
            &Rejection::CapacityReached {
                capacity: core::Capacity::CampaignPeople,
                of: campaign.to_string(),
                max: 2_000_000,
            },
            9,
        );
        assert_eq!((full.reason, full.limit.as_str()), (v1::Reason::LimitExceeded as i32, "CAMPAIGN_PEOPLE_MAX"));
        assert_eq!((full.allowed, full.campaign_id.as_str()), (2_000_000, "moutai-2026"));
        assert_eq!(code_for(v1::Reason::LimitExceeded), tonic::Code::ResourceExhausted);
    }

    /// A refusal says in words and in fields which condition refused it, by the names the API
    /// uses (SaleRules fields, HoldState names), never by the ledger's Rust variant names.
    #[test]
    fn sub_reasons_travel_as_fields_and_messages_are_written_for_people() {
        let sku = SkuId::new("moutai").unwrap();
        let hold = HoldId::new("order-7").unwrap();
        let by_rule = rejection_detail(&Rejection::RiskRejected { sku: sku.clone(), reason: RiskReason::Rule(2) }, 9);
        assert_eq!(by_rule.risk_refusal, v1::RiskRefusal::Rule as i32);
        assert_eq!(by_rule.risk_rule_index, Some(2));
        assert!(by_rule.message.contains("risk rule 2"), "{}", by_rule.message);
        let blocked =
            rejection_detail(&Rejection::RiskRejected { sku: sku.clone(), reason: RiskReason::Blocklisted }, 9);
        assert_eq!((blocked.risk_refusal, blocked.risk_rule_index), (v1::RiskRefusal::Blocklisted as i32, None));
        assert!(blocked.message.contains("blocklist"), "{}", blocked.message);

        for (reason, refusal, words) in [
            (ExpiredReason::ReholdLimitReached, v1::ReholdRefusal::LimitReached, "rehold_limit"),
            (ExpiredReason::GraceWindowPassed, v1::ReholdRefusal::GraceWindowPassed, "rehold_grace_ms"),
            (ExpiredReason::NoStockForRehold, v1::ReholdRefusal::NoStock, "no stock"),
        ] {
            let detail = rejection_detail(&Rejection::HoldExpired { hold: hold.clone(), reason }, 9);
            assert_eq!((detail.rehold_refusal, detail.hold_id.as_str()), (refusal as i32, "order-7"));
            assert!(detail.message.contains(words), "{}", detail.message);
        }

        let capped =
            Rejection::LimitExceeded { sku: sku.clone(), limit: LimitKind::UnitsPerBuyer, allowed: 2, requested: 3 };
        let detail = rejection_detail(&capped, 9);
        assert_eq!(detail.limit, "units_per_buyer_max");
        assert!(detail.message.contains("units_per_buyer_max is 2"), "{}", detail.message);

        let refusals = [
            capped,
            Rejection::LimitExceeded { sku: sku.clone(), limit: LimitKind::RiskCap, allowed: 1, requested: 2 },
            Rejection::NotFound { kind: EntityKind::Sku, id: "moutai".into() },
            Rejection::InvalidTransition { hold: hold.clone(), from: HoldState::Released, to: HoldState::Confirmed },
            Rejection::HoldExpired { hold, reason: ExpiredReason::ReholdLimitReached },
            Rejection::RiskRejected { sku, reason: RiskReason::Rule(0) },
        ];
        let debug_names = [
            "UnitsPerBuyer",
            "RiskCap",
            "Rule(",
            "Blocklisted",
            "ReholdLimitReached",
            "GraceWindowPassed",
            "NoStockForRehold",
            "Sku ",
            "Released",
            "Confirmed",
        ];
        for refusal in &refusals {
            let message = refusal.to_string();
            assert!(!debug_names.iter().any(|name| message.contains(name)), "a Rust name in: {message}");
        }
        assert!(refusals[3].to_string().contains("from RELEASED to CONFIRMED"), "{}", refusals[3]);
    }

    #[test]
    fn a_quantity_out_of_range_is_told_the_real_range() {
        let line = v1::ReserveRequest {
            request_id: "r-1".into(),
            hold_id: "h-1".into(),
            buyer_id: "b-1".into(),
            lines: vec![v1::Line { sku_id: "moutai".into(), quantity: -1 }],
            ..v1::ReserveRequest::default()
        };
        let refused = crate::to_core::reserve_op(&line).expect_err("-1 units");
        assert_eq!(refused.to_string(), "invalid argument: line quantity must be 1 to 10000, got -1");
    }
}
