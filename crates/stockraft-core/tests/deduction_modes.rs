//! The three deduction modes and the hold lifecycle, as an order platform sees them.

mod support;

use stockraft_core::*;
use support::*;

fn pre_deduct(ttl_minutes: u64) -> SaleRules {
    SaleRules { hold_ttl_ms: ttl_minutes * MINUTE_MS, ..SaleRules::default() }
}

#[test]
fn pre_deduct_hold_takes_stock_and_confirm_commits_it() {
    let mut shop = Shop::with_one_sku(10, pre_deduct(20));
    let hold = shop.reserve("order-1", "alice", &[("moutai", 2)]).unwrap();
    assert_eq!(hold.state, HoldState::Held);
    assert_eq!(hold.expires_at_ms, Some(shop.now_ms + 20 * MINUTE_MS));
    assert_eq!(shop.picks(&hold), vec![("wh".into(), 2)]);
    assert_eq!((shop.level("bottle", "wh").held, shop.available("moutai")), (2, 8));

    shop.advance(19 * MINUTE_MS);
    let confirmed = shop.confirm("order-1").unwrap();
    assert_eq!(confirmed.state, HoldState::Confirmed);
    let level = shop.level("bottle", "wh");
    assert_eq!((level.held, level.committed, level.on_hand), (0, 2, 10));
    assert_eq!(shop.available("moutai"), 8);
}

#[test]
fn pre_deduct_hold_expires_by_command_and_units_go_back_on_sale() {
    let mut shop = Shop::with_one_sku(1, pre_deduct(20));
    shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
    assert!(matches!(shop.reserve("order-2", "bob", &[("moutai", 1)]), Err(Rejection::OutOfStock { .. })));

    shop.advance(20 * MINUTE_MS - 1);
    assert_eq!(shop.expire().holds_expired, 0, "not due yet");
    shop.advance(1);
    assert_eq!(shop.expire().holds_expired, 1);
    assert_eq!(shop.hold_state("order-1"), HoldState::Expired);
    assert_eq!(shop.available("moutai"), 1);
    shop.reserve("order-2", "bob", &[("moutai", 1)]).unwrap();
}

#[test]
fn on_order_hold_never_expires() {
    let rules = SaleRules { mode: DeductionMode::OnOrder, ..SaleRules::default() };
    let mut shop = Shop::with_one_sku(1, rules);
    let hold = shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
    assert_eq!(hold.expires_at_ms, None);
    shop.advance(30 * 24 * 60 * MINUTE_MS);
    assert_eq!(shop.expire().holds_expired, 0);
    assert_eq!(shop.hold_state("order-1"), HoldState::Held);
    assert_eq!(shop.confirm("order-1").unwrap().state, HoldState::Confirmed);
}

#[test]
fn on_payment_deducts_in_one_step_or_fails_before_payment() {
    let rules = SaleRules { mode: DeductionMode::OnPayment, ..SaleRules::default() };
    let mut shop = Shop::with_one_sku(1, rules);
    let paid = shop.deduct("order-1", "alice", &[("moutai", 1)]).unwrap();
    assert_eq!(paid.state, HoldState::Confirmed);
    assert_eq!(shop.level("bottle", "wh").committed, 1);
    // The second payment is refused before it is captured: no oversell, nothing to refund.
    assert!(matches!(shop.deduct("order-2", "bob", &[("moutai", 1)]), Err(Rejection::OutOfStock { .. })));
}

#[test]
fn each_mode_is_reached_only_through_its_own_call() {
    let mut shop = Shop::with_one_sku(5, SaleRules::default());
    shop.sku("on-payment", &[("bottle", 1)], SaleRules { mode: DeductionMode::OnPayment, ..SaleRules::default() });
    assert!(matches!(shop.deduct("d1", "alice", &[("moutai", 1)]), Err(Rejection::InvalidArgument(_))));
    assert!(matches!(shop.reserve("r1", "alice", &[("on-payment", 1)]), Err(Rejection::InvalidArgument(_))));
    assert_eq!(shop.level("bottle", "wh").held + shop.level("bottle", "wh").committed, 0);
}

#[test]
fn release_returns_units_and_is_final() {
    let mut shop = Shop::with_one_sku(3, SaleRules::default());
    shop.reserve("order-1", "alice", &[("moutai", 3)]).unwrap();
    assert_eq!(shop.release("order-1").unwrap().state, HoldState::Released);
    assert_eq!(shop.available("moutai"), 3);
    let again = shop.confirm("order-1");
    assert!(matches!(again, Err(Rejection::InvalidTransition { from: HoldState::Released, .. })));
}

#[test]
fn ship_takes_units_off_the_shelf_and_cancel_refunds_before_shipping() {
    let mut shop = Shop::with_one_sku(5, SaleRules::default());
    shop.reserve("ship-me", "alice", &[("moutai", 2)]).unwrap();
    shop.reserve("refund-me", "bob", &[("moutai", 1)]).unwrap();
    shop.confirm("ship-me").unwrap();
    shop.confirm("refund-me").unwrap();

    assert_eq!(shop.ship("ship-me").unwrap().state, HoldState::Shipped);
    let level = shop.level("bottle", "wh");
    assert_eq!((level.on_hand, level.committed), (3, 1));

    assert_eq!(shop.cancel("refund-me").unwrap().state, HoldState::Cancelled);
    assert_eq!(shop.available("moutai"), 3);
    assert!(matches!(shop.cancel("ship-me"), Err(Rejection::InvalidTransition { from: HoldState::Shipped, .. })));
}

#[test]
fn illegal_transitions_are_refused_and_change_nothing() {
    let mut shop = Shop::with_one_sku(5, SaleRules::default());
    shop.reserve("held", "alice", &[("moutai", 1)]).unwrap();
    let before = shop.observable();
    for (name, outcome) in [("ship a held hold", shop.ship("held")), ("cancel a held hold", shop.cancel("held"))] {
        assert!(matches!(outcome, Err(Rejection::InvalidTransition { .. })), "{name}: {outcome:?}");
    }
    assert_eq!(before, shop.observable());

    shop.confirm("held").unwrap();
    let before = shop.observable();
    assert!(matches!(shop.release("held"), Err(Rejection::InvalidTransition { from: HoldState::Confirmed, .. })));
    assert!(matches!(shop.confirm("held"), Err(Rejection::InvalidTransition { from: HoldState::Confirmed, .. })));
    assert_eq!(before, shop.observable());
}

#[test]
fn multi_line_hold_expires_at_the_shortest_ttl_of_its_pre_deduct_lines() {
    let mut shop = Shop::with_one_sku(10, pre_deduct(30));
    shop.sku("short", &[("bottle", 1)], pre_deduct(10));
    shop.sku("forever", &[("bottle", 1)], SaleRules { mode: DeductionMode::OnOrder, ..SaleRules::default() });
    let hold = shop.reserve("cart", "alice", &[("moutai", 1), ("short", 1), ("forever", 1)]).unwrap();
    assert_eq!(hold.expires_at_ms, Some(shop.now_ms + 10 * MINUTE_MS));
}

mod rehold {
    use super::*;

    fn rules(limit: u32, grace_minutes: u64) -> SaleRules {
        SaleRules { rehold_limit: limit, rehold_grace_ms: grace_minutes * MINUTE_MS, ..pre_deduct(20) }
    }

    #[test]
    fn late_confirm_within_grace_takes_a_fresh_hold_and_confirms() {
        let mut shop = Shop::with_one_sku(1, rules(1, 5));
        shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
        shop.advance(21 * MINUTE_MS);
        shop.expire();
        assert_eq!(shop.available("moutai"), 1, "expired units are back on sale");

        let late = shop.confirm("order-1").unwrap();
        assert!(late.reheld);
        assert_eq!(late.state, HoldState::Confirmed);
        assert_eq!(shop.level("bottle", "wh").committed, 1);
        assert_eq!(shop.state.hold(&hold_id("order-1")).unwrap().rehold_count, 1);
    }

    #[test]
    fn late_confirm_before_the_expire_command_is_judged_the_same_way() {
        let mut shop = Shop::with_one_sku(1, rules(1, 5));
        shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
        shop.advance(20 * MINUTE_MS);
        // No Expire has run: the confirm sees the TTL has passed and applies the re-hold rule.
        assert!(shop.confirm("order-1").unwrap().reheld);
    }

    #[test]
    fn no_stock_left_for_the_rehold_is_hold_expired() {
        let mut shop = Shop::with_one_sku(1, rules(1, 5));
        shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
        shop.advance(21 * MINUTE_MS);
        shop.expire();
        shop.reserve("order-2", "bob", &[("moutai", 1)]).unwrap();
        let late = shop.confirm("order-1");
        assert_eq!(
            late,
            Err(Rejection::HoldExpired { hold: hold_id("order-1"), reason: ExpiredReason::NoStockForRehold })
        );
        assert_eq!(shop.hold_state("order-1"), HoldState::Expired);
    }

    #[test]
    fn grace_window_passed_is_hold_expired() {
        let mut shop = Shop::with_one_sku(1, rules(1, 5));
        shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
        shop.advance(20 * MINUTE_MS + 5 * MINUTE_MS + 1);
        let late = shop.confirm("order-1");
        assert!(matches!(late, Err(Rejection::HoldExpired { reason: ExpiredReason::GraceWindowPassed, .. })));
        assert_eq!(shop.available("moutai"), 1);
    }

    #[test]
    fn rehold_limit_of_zero_means_expired_is_final() {
        let mut shop = Shop::with_one_sku(1, rules(0, 5));
        shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
        shop.advance(21 * MINUTE_MS);
        let late = shop.confirm("order-1");
        assert!(matches!(late, Err(Rejection::HoldExpired { reason: ExpiredReason::ReholdLimitReached, .. })));
    }

    #[test]
    fn a_hold_is_reheld_at_most_its_limit() {
        let mut shop = Shop::with_one_sku(1, rules(1, 5));
        shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
        shop.advance(21 * MINUTE_MS);
        assert!(shop.confirm("order-1").unwrap().reheld);
        // Refunded, then the buyer somehow confirms again: it is CANCELLED, not EXPIRED.
        shop.cancel("order-1").unwrap();
        assert!(matches!(shop.confirm("order-1"), Err(Rejection::InvalidTransition { .. })));
    }

    // The explicit re-hold: the buyer is back on the payment page, the hold gets a fresh TTL
    // and is paid for (or not) later, as a hold of its own.

    #[test]
    fn rehold_holds_the_same_lines_again_with_a_fresh_ttl() {
        let mut shop = Shop::with_one_sku(1, rules(1, 5));
        shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
        shop.advance(21 * MINUTE_MS);
        shop.expire();

        let again = shop.rehold("order-1").unwrap();
        assert!(again.reheld);
        assert_eq!(again.state, HoldState::Held);
        assert_eq!(again.expires_at_ms, Some(shop.now_ms + 20 * MINUTE_MS), "a fresh TTL from now");
        assert_eq!((shop.level("bottle", "wh").held, shop.available("moutai")), (1, 0));
        let hold = shop.state.hold(&hold_id("order-1")).unwrap();
        assert_eq!((hold.rehold_count, hold.closed_at_ms), (1, None));

        // It is an ordinary hold again: confirmed within its new TTL, it is paid for.
        shop.advance(19 * MINUTE_MS);
        let paid = shop.confirm("order-1").unwrap();
        assert_eq!((paid.state, paid.reheld), (HoldState::Confirmed, false));
        let level = shop.level("bottle", "wh");
        assert_eq!((level.held, level.committed), (0, 1));
    }

    #[test]
    fn a_rehold_limit_of_three_allows_three_reholds_and_no_fourth() {
        let mut shop = Shop::with_one_sku(1, rules(3, 5));
        shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
        for round in 1..=3 {
            shop.advance(21 * MINUTE_MS);
            shop.expire();
            assert_eq!(shop.available("moutai"), 1, "round {round}: the expired unit is back on sale");
            assert!(shop.rehold("order-1").unwrap().reheld, "round {round}");
            assert_eq!(shop.state.hold(&hold_id("order-1")).unwrap().rehold_count, round);
        }
        shop.advance(21 * MINUTE_MS);
        shop.expire();
        let fourth = shop.rehold("order-1");
        assert_eq!(
            fourth,
            Err(Rejection::HoldExpired { hold: hold_id("order-1"), reason: ExpiredReason::ReholdLimitReached })
        );
        // A late confirm is judged by the same count.
        assert_eq!(fourth, shop.confirm("order-1"));
        assert_eq!((shop.hold_state("order-1"), shop.available("moutai")), (HoldState::Expired, 1));
    }

    #[test]
    fn rehold_expires_a_hold_whose_ttl_passed_before_the_expire_command() {
        let mut shop = Shop::with_one_sku(1, rules(1, 5));
        shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
        shop.advance(20 * MINUTE_MS);
        let again = shop.rehold("order-1").unwrap();
        assert_eq!((again.state, again.expires_at_ms), (HoldState::Held, Some(shop.now_ms + 20 * MINUTE_MS)));
        assert_eq!(shop.level("bottle", "wh").held, 1, "the unit is held once, not twice");
        // The old expiry no longer applies: nothing expires until the new one.
        shop.advance(19 * MINUTE_MS);
        assert_eq!(shop.expire().holds_expired, 0);
        shop.advance(MINUTE_MS);
        assert_eq!(shop.expire().holds_expired, 1);
    }

    #[test]
    fn rehold_refusals_say_which_condition_and_change_nothing() {
        // Grace window passed.
        let mut shop = Shop::with_one_sku(1, rules(1, 5));
        shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
        shop.advance(26 * MINUTE_MS);
        shop.expire();
        let before = shop.observable();
        let late = shop.rehold("order-1");
        assert!(matches!(late, Err(Rejection::HoldExpired { reason: ExpiredReason::GraceWindowPassed, .. })));
        assert_eq!(shop.observable(), before);

        // No stock: another buyer took the unit after the expiry.
        let mut shop = Shop::with_one_sku(1, rules(1, 5));
        shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
        shop.advance(21 * MINUTE_MS);
        shop.expire();
        shop.reserve("order-2", "bob", &[("moutai", 1)]).unwrap();
        let before = shop.observable();
        let late = shop.rehold("order-1");
        assert!(matches!(late, Err(Rejection::HoldExpired { reason: ExpiredReason::NoStockForRehold, .. })));
        assert_eq!(shop.observable(), before);
    }

    #[test]
    fn rehold_counts_against_the_buyers_open_hold_cap() {
        let rules = SaleRules { open_holds_per_buyer_max: Some(1), ..rules(1, 5) };
        let mut shop = Shop::with_one_sku(5, rules);
        shop.reserve("order-1", "alice", &[("moutai", 1)]).unwrap();
        shop.advance(21 * MINUTE_MS);
        shop.expire();
        shop.reserve("order-2", "alice", &[("moutai", 1)]).unwrap();
        let again = shop.rehold("order-1");
        assert!(matches!(again, Err(Rejection::LimitExceeded { limit: LimitKind::OpenHoldsPerBuyer, .. })));
        // Paying at once opens no hold: the late confirm is allowed.
        assert!(shop.confirm("order-1").unwrap().reheld);
    }

    #[test]
    fn only_an_expired_hold_can_be_reheld() {
        let mut shop = Shop::with_one_sku(3, rules(1, 5));
        shop.reserve("live", "alice", &[("moutai", 1)]).unwrap();
        let refused = shop.rehold("live");
        assert_eq!(
            refused,
            Err(Rejection::InvalidTransition { hold: hold_id("live"), from: HoldState::Held, to: HoldState::Held })
        );
        assert!(refused.unwrap_err().to_string().contains("its TTL has not passed"));
        shop.reserve("let-go", "bob", &[("moutai", 1)]).unwrap();
        shop.release("let-go").unwrap();
        assert!(matches!(
            shop.rehold("let-go"),
            Err(Rejection::InvalidTransition { from: HoldState::Released, to: HoldState::Held, .. })
        ));
        assert!(matches!(shop.rehold("ghost"), Err(Rejection::NotFound { .. })));
    }
}
