//! Anti-scalper rules: per-buyer unit caps, open-hold caps, buyer-risk rules and blocklists.

mod support;

use stockraft_core::*;
use support::*;

fn scalper() -> BuyerSignals {
    BuyerSignals { account_age_days: 2, membership_age_days: 0, orders_last_year: 0, days_since_last_activity: 300 }
}

fn regular() -> BuyerSignals {
    BuyerSignals {
        account_age_days: 3_000,
        membership_age_days: 900,
        orders_last_year: 30,
        days_since_last_activity: 1,
    }
}

fn with_signals(hold: &str, buyer: &str, quantity: u32, signals: BuyerSignals) -> Reserve {
    Reserve { signals: Some(signals), ..Shop::order(hold, buyer, &[("moutai", quantity)]) }
}

#[test]
fn a_buyer_cannot_exceed_the_units_cap_across_holds_and_orders() {
    let mut shop = Shop::with_one_sku(100, SaleRules { units_per_buyer_max: Some(2), ..SaleRules::default() });
    shop.reserve("o1", "alice", &[("moutai", 1)]).unwrap();
    shop.confirm("o1").unwrap();
    shop.reserve("o2", "alice", &[("moutai", 1)]).unwrap();
    let third = shop.reserve("o3", "alice", &[("moutai", 1)]);
    let limit = LimitKind::UnitsPerBuyer;
    assert_eq!(third, Err(Rejection::LimitExceeded { sku: sku_id("moutai"), limit, allowed: 2, requested: 3 }));
    shop.reserve("b1", "bob", &[("moutai", 2)]).unwrap();

    // Releasing frees the buyer's allowance; shipping does not.
    shop.release("o2").unwrap();
    shop.reserve("o3", "alice", &[("moutai", 1)]).unwrap();
    shop.confirm("o3").unwrap();
    shop.ship("o3").unwrap();
    assert!(matches!(shop.reserve("o4", "alice", &[("moutai", 1)]), Err(Rejection::LimitExceeded { .. })));
}

#[test]
fn the_cap_applies_to_deductions_too() {
    let rules = SaleRules { mode: DeductionMode::OnPayment, units_per_buyer_max: Some(1), ..SaleRules::default() };
    let mut shop = Shop::with_one_sku(10, rules);
    shop.deduct("o1", "alice", &[("moutai", 1)]).unwrap();
    assert!(matches!(shop.deduct("o2", "alice", &[("moutai", 1)]), Err(Rejection::LimitExceeded { .. })));
}

#[test]
fn open_holds_are_capped_per_buyer() {
    let mut shop = Shop::with_one_sku(100, SaleRules { open_holds_per_buyer_max: Some(2), ..SaleRules::default() });
    shop.reserve("o1", "alice", &[("moutai", 1)]).unwrap();
    shop.reserve("o2", "alice", &[("moutai", 1)]).unwrap();
    let third = shop.reserve("o3", "alice", &[("moutai", 1)]);
    assert!(matches!(third, Err(Rejection::LimitExceeded { limit: LimitKind::OpenHoldsPerBuyer, .. })));
    // A confirmed order is no longer an open hold.
    shop.confirm("o1").unwrap();
    shop.reserve("o3", "alice", &[("moutai", 1)]).unwrap();
}

#[test]
fn risk_rules_allow_cap_or_reject_by_the_first_match() {
    let rules = SaleRules {
        units_per_buyer_max: Some(4),
        risk_rules: vec![
            RiskRule {
                when: RiskCondition {
                    account_age_days_below: Some(7),
                    orders_last_year_below: Some(1),
                    ..Default::default()
                },
                action: RiskAction::Reject,
            },
            RiskRule {
                when: RiskCondition { membership_age_days_below: Some(30), ..Default::default() },
                action: RiskAction::Cap(1),
            },
        ],
        ..SaleRules::default()
    };
    let mut shop = Shop::with_one_sku(100, rules);

    let rejected = shop.reserve_order(with_signals("s1", "scalper", 1, scalper()));
    assert_eq!(rejected, Err(Rejection::RiskRejected { sku: sku_id("moutai"), reason: RiskReason::Rule(0) }));

    let newcomer = BuyerSignals { membership_age_days: 3, ..regular() };
    shop.reserve_order(with_signals("n1", "newcomer", 1, newcomer)).unwrap();
    let capped = shop.reserve_order(with_signals("n2", "newcomer", 1, newcomer));
    assert!(matches!(capped, Err(Rejection::LimitExceeded { limit: LimitKind::RiskCap, allowed: 1, .. })));

    shop.reserve_order(with_signals("r1", "regular", 4, regular())).unwrap();
}

#[test]
fn a_sku_with_risk_rules_needs_the_buyers_signals() {
    let rules = SaleRules {
        risk_rules: vec![RiskRule { when: RiskCondition::default(), action: RiskAction::Allow }],
        ..SaleRules::default()
    };
    let mut shop = Shop::with_one_sku(10, rules);
    let before = shop.observable();
    assert!(matches!(shop.reserve("o1", "alice", &[("moutai", 1)]), Err(Rejection::InvalidArgument(_))));
    assert_eq!(before, shop.observable());
}

#[test]
fn blocklisted_buyers_are_rejected_until_unblocked() {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    let (sku, buyer) = (sku_id("moutai"), buyer_id("mallory"));
    shop.apply(Op::BlockBuyer { sku: sku.clone(), buyer: buyer.clone() }).unwrap();
    let refused = shop.reserve("m1", "mallory", &[("moutai", 1)]);
    assert_eq!(refused, Err(Rejection::RiskRejected { sku: sku.clone(), reason: RiskReason::Blocklisted }));
    shop.reserve("a1", "alice", &[("moutai", 1)]).unwrap();

    shop.apply(Op::UnblockBuyer { sku, buyer }).unwrap();
    shop.reserve("m1", "mallory", &[("moutai", 1)]).unwrap();
}

#[test]
fn caps_count_per_sku() {
    let capped = SaleRules { units_per_buyer_max: Some(1), ..SaleRules::default() };
    let mut shop = Shop::with_one_sku(10, capped.clone());
    shop.sku("moutai-gift", &[("bottle", 1)], capped);
    shop.reserve("o1", "alice", &[("moutai", 1), ("moutai-gift", 1)]).unwrap();
    assert!(matches!(shop.reserve("o2", "alice", &[("moutai-gift", 1)]), Err(Rejection::LimitExceeded { .. })));
    let usage = shop.state.buyer_usage(&sku_id("moutai"), &buyer_id("alice")).unwrap();
    assert_eq!(usage, BuyerUsage { units: 1, open_holds: 1 });
}
