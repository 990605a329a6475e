//! Scheduled sales: a SKU's sale window opens and closes in log time, for every buyer and every
//! replica at once.

mod support;

use stockraft_core::*;
use support::*;

/// A shop of 10 Moutai whose sale opens 60 s from now and closes an hour after that.
fn scheduled() -> (Shop, u64, u64) {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    let opens = shop.now_ms + 60_000;
    let closes = opens + 3_600_000;
    let window = SaleWindow { opens_at_ms: Some(opens), closes_at_ms: Some(closes) };
    assert_eq!(shop.apply(Op::SetSaleWindow { sku: sku_id("moutai"), window }), Ok(Applied::Updated));
    (shop, opens, closes)
}

#[test]
fn nothing_sells_before_the_opening_and_the_refusal_says_when_it_opens() {
    let (mut shop, opens, _) = scheduled();
    let before = shop.observable();
    let refused = shop.reserve("early", "alice", &[("moutai", 1)]).unwrap_err();
    assert_eq!(refused, Rejection::NotYetOnSale { sku: sku_id("moutai"), opens_at_ms: opens, now_ms: shop.now_ms });
    assert!(refused.to_string().contains("in 60000 ms"), "{refused}");
    assert_eq!(shop.observable(), before, "a refused reserve changes nothing");
    assert_eq!(shop.state.availability(&sku_id("moutai")).unwrap().window.opens_at_ms, Some(opens));

    // One millisecond before, still closed; at the opening, the first buyer gets a bottle.
    shop.now_ms = opens - 1;
    assert!(matches!(shop.reserve("early-2", "bob", &[("moutai", 1)]), Err(Rejection::NotYetOnSale { .. })));
    shop.now_ms = opens;
    shop.reserve("first", "carol", &[("moutai", 1)]).unwrap();
    assert_eq!(shop.available("moutai"), 9);
}

#[test]
fn a_reserve_refused_as_early_is_taken_when_retried_with_the_same_request_id_after_the_opening() {
    let (mut shop, opens, _) = scheduled();
    let id = RequestId::new("checkout-1").unwrap();
    let early = shop.apply_as(&id, Op::Reserve(Shop::order("h1", "alice", &[("moutai", 1)])));
    assert!(matches!(early, Err(Rejection::NotYetOnSale { .. })), "{early:?}");
    shop.now_ms = opens;
    let taken = shop.apply_as(&id, Op::Reserve(Shop::order("h1", "alice", &[("moutai", 1)])));
    assert!(matches!(taken, Ok(Applied::Hold(_))), "the early refusal was not remembered: {taken:?}");
}

#[test]
fn a_client_whose_clock_runs_ahead_cannot_sell_early_because_log_time_decides() {
    let (mut shop, opens, _) = scheduled();
    // The request carries no time at all: only the leader's stamp on the command counts, and
    // the ledger's clock never runs ahead of it. Whatever a storefront believes, 1 ms early is
    // early.
    shop.now_ms = opens - 1;
    assert!(matches!(shop.reserve("eager", "mallory", &[("moutai", 1)]), Err(Rejection::NotYetOnSale { .. })));
    assert_eq!(shop.state.clock_ms(), opens - 1);
}

#[test]
fn the_close_stops_new_demand_but_holds_taken_in_the_window_may_still_be_paid() {
    let (mut shop, _, closes) = scheduled();
    shop.now_ms = closes - 1_000;
    shop.reserve("paid-late", "alice", &[("moutai", 2)]).unwrap();
    shop.now_ms = closes;
    let refused = shop.reserve("late", "bob", &[("moutai", 1)]).unwrap_err();
    assert_eq!(refused, Rejection::SaleClosed { sku: sku_id("moutai"), closed_at_ms: closes });
    assert_eq!(refused.name(), "SALE_CLOSED");
    shop.confirm("paid-late").unwrap();
    assert_eq!(shop.hold_state("paid-late"), HoldState::Confirmed);
}

#[test]
fn deducts_at_payment_keep_the_window_too() {
    let rules = SaleRules { mode: DeductionMode::OnPayment, ..SaleRules::default() };
    let mut shop = Shop::with_one_sku(5, rules);
    let opens = shop.now_ms + 1_000;
    let window = SaleWindow { opens_at_ms: Some(opens), closes_at_ms: None };
    shop.apply(Op::SetSaleWindow { sku: sku_id("moutai"), window }).unwrap();
    assert!(matches!(shop.deduct("d1", "alice", &[("moutai", 1)]), Err(Rejection::NotYetOnSale { .. })));
    shop.now_ms = opens;
    shop.deduct("d1", "alice", &[("moutai", 1)]).unwrap();
}

#[test]
fn a_window_is_a_logged_catalog_change_moved_or_cleared_like_any_other() {
    let (mut shop, opens, _) = scheduled();
    // Brought forward to now: on sale at once.
    let now = SaleWindow { opens_at_ms: Some(shop.now_ms), closes_at_ms: None };
    shop.apply(Op::SetSaleWindow { sku: sku_id("moutai"), window: now }).unwrap();
    shop.reserve("h1", "alice", &[("moutai", 1)]).unwrap();
    // Closed now: the hold already taken stays held.
    let closed = SaleWindow { opens_at_ms: None, closes_at_ms: Some(shop.now_ms) };
    shop.apply(Op::SetSaleWindow { sku: sku_id("moutai"), window: closed }).unwrap();
    assert!(matches!(shop.reserve("h2", "bob", &[("moutai", 1)]), Err(Rejection::SaleClosed { .. })));
    assert_eq!(shop.hold_state("h1"), HoldState::Held);
    // Cleared: always on sale. Upserting the SKU's rules keeps its window.
    shop.apply(Op::SetSaleWindow { sku: sku_id("moutai"), window: SaleWindow::default() }).unwrap();
    shop.reserve("h2", "bob", &[("moutai", 1)]).unwrap();
    let later = SaleWindow { opens_at_ms: Some(opens + 10_000_000), closes_at_ms: None };
    shop.apply(Op::SetSaleWindow { sku: sku_id("moutai"), window: later }).unwrap();
    shop.sku("moutai", &[("bottle", 1)], SaleRules { units_per_buyer_max: Some(2), ..SaleRules::default() });
    assert_eq!(shop.state.sku(&sku_id("moutai")).unwrap().window, later);
}

#[test]
fn a_window_that_sells_nothing_or_names_an_unknown_sku_is_refused_and_changes_nothing() {
    let (mut shop, opens, _) = scheduled();
    let before = shop.observable();
    let backwards = SaleWindow { opens_at_ms: Some(opens), closes_at_ms: Some(opens - 1) };
    let refused =
        Request::new(RequestId::new("w").unwrap(), Op::SetSaleWindow { sku: sku_id("moutai"), window: backwards });
    assert!(matches!(refused, Err(Rejection::InvalidArgument(m)) if m.contains("would sell nothing")));
    let ghost = shop.apply(Op::SetSaleWindow { sku: sku_id("ghost"), window: SaleWindow::default() });
    assert!(matches!(ghost, Err(Rejection::NotFound { kind: EntityKind::Sku, .. })), "{ghost:?}");
    assert_eq!(shop.observable(), before);
}

#[test]
fn a_window_survives_a_snapshot() {
    let (shop, opens, closes) = scheduled();
    let restored = State::restore(&shop.state.snapshot()).unwrap();
    let window = restored.sku(&sku_id("moutai")).unwrap().window;
    assert_eq!(window, SaleWindow { opens_at_ms: Some(opens), closes_at_ms: Some(closes) });
}
