//! A waitlist when sold out: buyers refused for stock take places in order, and units that come
//! back go to them first, as holds, in the same command that freed them.

mod support;

use stockraft_core::*;
use support::*;

const TTL_MS: u64 = 60_000;

/// 2 Moutai, 1 per buyer, 1-minute holds, and a waitlist of 3 places.
fn sold_out_release() -> Shop {
    let rules = SaleRules { hold_ttl_ms: TTL_MS, units_per_buyer_max: Some(1), ..SaleRules::default() };
    let mut shop = Shop::with_one_sku(2, rules);
    assert_eq!(shop.apply(Op::SetWaitlist { sku: sku_id("moutai"), length_max: 3 }), Ok(Applied::Updated));
    shop.reserve("h-alice", "alice", &[("moutai", 1)]).unwrap();
    shop.reserve("h-bob", "bob", &[("moutai", 1)]).unwrap();
    shop
}

fn wait(shop: &mut Shop, hold: &str, buyer: &str, keys: &[&str]) -> Outcome {
    let keys = keys.iter().map(|k| key(k)).collect();
    shop.apply(Op::ReserveOrWait(KeyedReserve { reserve: Shop::order(hold, buyer, &[("moutai", 1)]), keys }))
}

fn position(outcome: Outcome) -> u32 {
    match outcome {
        Ok(Applied::Waitlisted(receipt)) => receipt.position,
        other => panic!("expected a waitlist place, got {other:?}"),
    }
}

#[test]
fn a_buyer_refused_for_stock_takes_the_next_place_and_is_told_it() {
    let mut shop = sold_out_release();
    assert_eq!(position(wait(&mut shop, "h-carol", "carol", &[])), 1);
    assert_eq!(position(wait(&mut shop, "h-dave", "dave", &[])), 2);
    assert_eq!(shop.state.availability(&sku_id("moutai")).unwrap().waiting_buyers, 2);
    let place = shop.state.waiting(&hold_id("h-dave")).unwrap();
    assert_eq!((place.position, place.buyer), (2, buyer_id("dave")));
    // With stock there, a reserve that may wait is an ordinary reserve.
    let mut open = Shop::with_one_sku(5, SaleRules::default());
    open.apply(Op::SetWaitlist { sku: sku_id("moutai"), length_max: 3 }).unwrap();
    assert!(matches!(wait(&mut open, "h1", "a", &[]), Ok(Applied::Hold(_))));
}

#[test]
fn a_released_bottle_goes_to_the_next_in_line_in_the_same_command() {
    let mut shop = sold_out_release();
    wait(&mut shop, "h-carol", "carol", &[]).unwrap();
    wait(&mut shop, "h-dave", "dave", &[]).unwrap();
    shop.release("h-alice").unwrap();
    // No command ran in between: the release itself granted carol's hold.
    assert_eq!(shop.hold_state("h-carol"), HoldState::Held);
    let granted = shop.state.hold(&hold_id("h-carol")).unwrap();
    assert_eq!(granted.expires_at_ms, Some(shop.now_ms + TTL_MS), "a waitlist hold has the SKU's TTL");
    assert_eq!(shop.available("moutai"), 0, "nothing returned to open sale");
    assert_eq!(shop.state.waiting(&hold_id("h-dave")).unwrap().position, 1, "dave is next");
    assert!(shop.state.waiting(&hold_id("h-carol")).is_none());
}

#[test]
fn a_bot_refreshing_faster_cannot_jump_the_queue() {
    let mut shop = sold_out_release();
    wait(&mut shop, "h-carol", "carol", &[]).unwrap();
    // Units come back through a count (a found case), one at a time: each goes to the queue.
    shop.count("bottle", "wh", 3);
    assert_eq!(shop.hold_state("h-carol"), HoldState::Held);
    // The queue is empty now: the rest is open sale again.
    assert_eq!(shop.available("moutai"), 0, "3 on hand, 3 held");
    shop.receive("bottle", "wh", 1);
    assert!(shop.reserve("h-bot", "bot", &[("moutai", 1)]).is_ok(), "no one waits: open sale");

    // While anyone waits, open sale is closed even if a unit is free: a 2-bottle place waits
    // for its second bottle, and the bot's 1-bottle reserve is refused, not served first.
    let mut shop = Shop::with_one_sku(0, SaleRules { hold_ttl_ms: TTL_MS, ..SaleRules::default() });
    shop.apply(Op::SetWaitlist { sku: sku_id("moutai"), length_max: 3 }).unwrap();
    let pair =
        Op::ReserveOrWait(KeyedReserve { reserve: Shop::order("h-pair", "erin", &[("moutai", 2)]), keys: vec![] });
    assert_eq!(position(shop.apply(pair)), 1);
    shop.receive("bottle", "wh", 1);
    let refused = shop.reserve("h-bot-2", "bot", &[("moutai", 1)]).unwrap_err();
    assert_eq!(refused, Rejection::OthersWaiting { sku: sku_id("moutai"), requested: 1, waiting: 1 });
    assert!(refused.to_string().contains("1 buyers wait on the waitlist"), "{refused}");
    shop.receive("bottle", "wh", 1);
    assert_eq!(shop.hold_state("h-pair"), HoldState::Held);
}

#[test]
fn an_unpaid_waitlist_hold_expires_and_its_bottle_goes_to_the_next_in_line() {
    let mut shop = sold_out_release();
    wait(&mut shop, "h-carol", "carol", &[]).unwrap();
    wait(&mut shop, "h-dave", "dave", &[]).unwrap();
    shop.release("h-alice").unwrap();
    shop.confirm("h-bob").unwrap();
    shop.advance(TTL_MS);
    let report = shop.expire();
    assert_eq!(report.holds_expired, 1, "carol never paid");
    assert_eq!(shop.hold_state("h-carol"), HoldState::Expired);
    assert_eq!(shop.hold_state("h-dave"), HoldState::Held, "granted by the same Expire");
}

#[test]
fn one_place_per_buyer_and_per_identity_key_and_a_full_list_says_its_size() {
    let mut shop = sold_out_release();
    wait(&mut shop, "h-carol", "carol", &["phone:1"]).unwrap();
    let again = wait(&mut shop, "h-carol-2", "carol", &[]).unwrap_err();
    assert!(
        matches!(&again, Rejection::AlreadyExists { kind: EntityKind::WaitlistPlace, id, .. } if id == "buyer carol"),
        "{again:?}"
    );
    let same_phone = wait(&mut shop, "h-mallory", "mallory", &["phone:1"]).unwrap_err();
    assert!(same_phone.to_string().contains("identity key phone:1"), "{same_phone}");
    let same_order = wait(&mut shop, "h-carol", "zed", &[]).unwrap_err();
    assert!(matches!(same_order, Rejection::AlreadyExists { kind: EntityKind::Hold, .. }), "{same_order:?}");
    wait(&mut shop, "h-dave", "dave", &[]).unwrap();
    wait(&mut shop, "h-erin", "erin", &[]).unwrap();
    let before = shop.observable();
    let full = wait(&mut shop, "h-frank", "frank", &[]).unwrap_err();
    assert_eq!(full, Rejection::CapacityReached { capacity: Capacity::WaitlistLength, of: "moutai".into(), max: 3 });
    assert!(full.to_string().contains("its 3 places (waitlist_length_max) are taken"), "{full}");
    assert_eq!(shop.observable(), before);
    // A plain reserve cannot take a waiting order's id either.
    assert!(matches!(shop.reserve("h-dave", "dave", &[("moutai", 1)]), Err(Rejection::AlreadyExists { .. })));
}

#[test]
fn bad_waitlist_requests_are_refused_and_change_nothing() {
    let mut shop = sold_out_release();
    let before = shop.observable();
    let cart = Shop::order("h1", "carol", &[("moutai", 1), ("moutai", 1)]);
    let two_lines = shop.apply(Op::ReserveOrWait(KeyedReserve { reserve: cart, keys: vec![] })).unwrap_err();
    assert!(matches!(two_lines, Rejection::InvalidArgument(_)), "{two_lines:?}");
    let huge = shop.apply(Op::SetWaitlist { sku: sku_id("moutai"), length_max: 1_000_000 }).unwrap_err();
    assert!(huge.to_string().contains("the most is 100000"), "{huge}");
    let unknown = shop.apply(Op::LeaveWaitlist { sku: sku_id("moutai"), hold: hold_id("nobody") }).unwrap_err();
    assert!(matches!(unknown, Rejection::NotFound { kind: EntityKind::WaitlistPlace, .. }), "{unknown:?}");
    assert_eq!(shop.observable(), before);

    let mut pay = Shop::with_one_sku(0, SaleRules { mode: DeductionMode::OnPayment, ..SaleRules::default() });
    let refused = pay.apply(Op::SetWaitlist { sku: sku_id("moutai"), length_max: 3 }).unwrap_err();
    assert!(refused.to_string().contains("only PRE_DEDUCT"), "{refused}");
    let mut plain = Shop::with_one_sku(0, SaleRules::default());
    let no_list = wait(&mut plain, "h1", "a", &[]).unwrap_err();
    assert!(no_list.to_string().contains("keeps no waitlist"), "{no_list}");

    // A SKU that keeps places stays PRE_DEDUCT: its places are granted holds with a TTL.
    let pay_now = Op::UpsertSku(UpsertSku {
        id: sku_id("moutai"),
        components: vec![(item_id("bottle"), 1)],
        rules: SaleRules { mode: DeductionMode::OnPayment, ..SaleRules::default() },
    });
    let refused = shop.apply(pay_now.clone()).unwrap_err();
    assert!(refused.to_string().contains("stays PRE_DEDUCT"), "{refused}");
    // An import is tried on a copy first: the copy must know it too, and refuse the batch whole.
    let import = vec![Request::unchecked(RequestId::new("import-1").unwrap(), pay_now.clone())];
    match shop.command(CommandBody::AllOrNothing(import)) {
        Ok(Applied::Batch(outcomes)) => assert!(State::refused_in_batch(&outcomes).is_some(), "{outcomes:?}"),
        other => panic!("{other:?}"),
    }
    shop.apply(Op::SetWaitlist { sku: sku_id("moutai"), length_max: 0 }).unwrap();
    assert!(shop.apply(pay_now).is_ok(), "a closed, empty waitlist holds nothing back");
}

#[test]
fn a_buyer_who_leaves_gives_up_the_place_and_a_closed_list_keeps_those_waiting() {
    let mut shop = sold_out_release();
    wait(&mut shop, "h-carol", "carol", &[]).unwrap();
    wait(&mut shop, "h-dave", "dave", &[]).unwrap();
    shop.apply(Op::LeaveWaitlist { sku: sku_id("moutai"), hold: hold_id("h-carol") }).unwrap();
    assert_eq!(shop.state.waiting(&hold_id("h-dave")).unwrap().position, 1);
    shop.apply(Op::SetWaitlist { sku: sku_id("moutai"), length_max: 0 }).unwrap();
    let closed = wait(&mut shop, "h-erin", "erin", &[]).unwrap_err();
    assert!(matches!(closed, Rejection::CapacityReached { max: 0, .. }), "{closed:?}");
    shop.release("h-alice").unwrap();
    assert_eq!(shop.hold_state("h-dave"), HoldState::Held, "a closed list still serves its places");
}

#[test]
fn a_waiting_buyer_over_a_cap_now_is_passed_over_and_keeps_the_place() {
    let mut shop = sold_out_release();
    // A campaign of 1 bottle per person over the Moutai and a gift box that is in stock.
    shop.item("gift-box");
    shop.sku("moutai-gift", &[("gift-box", 1)], SaleRules::default());
    shop.receive("gift-box", "wh", 5);
    shop.campaign("moutai-2026", &["moutai", "moutai-gift"], 1, None).unwrap();
    wait(&mut shop, "h-carol", "carol", &["phone:1"]).unwrap();
    wait(&mut shop, "h-dave", "dave", &[]).unwrap();
    // While carol waits, another account on her phone buys the gift box: the phone's cap is used.
    shop.reserve_keyed("h-gift", "carol-alt", &["phone:1"], &[("moutai-gift", 1)]).unwrap();
    shop.release("h-alice").unwrap();
    assert_eq!(shop.hold_state("h-dave"), HoldState::Held, "the bottle went past carol to dave");
    assert_eq!(shop.state.waiting(&hold_id("h-carol")).unwrap().position, 1, "carol keeps her place");
    // Once the gift box is released, the phone is under its cap again, and the next bottle is hers.
    shop.release("h-gift").unwrap();
    shop.release("h-bob").unwrap();
    assert_eq!(shop.hold_state("h-carol"), HoldState::Held);
}

#[test]
fn nothing_is_granted_while_the_sale_window_is_closed() {
    let mut shop = sold_out_release();
    wait(&mut shop, "h-carol", "carol", &[]).unwrap();
    let window = SaleWindow { opens_at_ms: None, closes_at_ms: Some(shop.now_ms) };
    shop.apply(Op::SetSaleWindow { sku: sku_id("moutai"), window }).unwrap();
    shop.release("h-alice").unwrap();
    assert!(shop.state.waiting(&hold_id("h-carol")).is_some(), "no grant after the close");
    shop.apply(Op::SetSaleWindow { sku: sku_id("moutai"), window: SaleWindow::default() }).unwrap();
    assert_eq!(shop.hold_state("h-carol"), HoldState::Held, "granted by the command that reopened the sale");
}

#[test]
fn places_survive_a_snapshot_byte_for_byte() {
    let mut shop = sold_out_release();
    wait(&mut shop, "h-carol", "carol", &["phone:1"]).unwrap();
    wait(&mut shop, "h-dave", "dave", &[]).unwrap();
    let bytes = shop.state.snapshot();
    let restored = State::restore(&bytes).unwrap();
    assert_eq!(restored.snapshot(), bytes);
    shop.state = restored;
    assert!(wait(&mut shop, "h-mallory", "mallory", &["phone:1"]).is_err(), "the people index is rebuilt");
    shop.release("h-alice").unwrap();
    assert_eq!(shop.hold_state("h-carol"), HoldState::Held);
}
