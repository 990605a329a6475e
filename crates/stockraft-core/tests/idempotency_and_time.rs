//! Retries are answered, never applied twice; time comes only from the log.

mod support;

use stockraft_core::limits::*;
use stockraft_core::*;
use support::*;

fn request(id: &str) -> RequestId {
    RequestId::new(id).unwrap()
}

fn reserve_op(hold: &str, quantity: u32) -> Op {
    Op::Reserve(Shop::order(hold, "alice", &[("moutai", quantity)]))
}

#[test]
fn a_retry_with_the_same_payload_returns_the_first_result_and_applies_nothing() {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    let first = shop.apply_as(&request("retry-me"), reserve_op("o1", 2));
    let after_first = shop.observable();
    shop.advance(5_000);
    let retry = shop.apply_as(&request("retry-me"), reserve_op("o1", 2));
    assert_eq!(first, retry);
    assert_eq!(after_first, shop.observable(), "nothing applied twice");
    assert_eq!(shop.level("bottle", "wh").held, 2);
}

/// Found by the chaos run: a restock retried across a leader change was answered with the
/// retry's log index, so its acknowledgement claimed a later position than the change had.
#[test]
fn a_retry_is_answered_with_the_log_index_the_first_application_took_effect_at() {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    let restock = Op::ReceiveStock(Shop::figure("bottle", "wh", 3));
    let Ok(Applied::Stock(first)) = shop.apply_as(&request("restock-1"), restock.clone()) else {
        panic!("a restock answers with the stock change");
    };
    let held = receipt(shop.apply_as(&request("reserve-1"), reserve_op("o1", 1))).unwrap();
    assert_eq!(held.log_index, first.log_index + 1);
    shop.reserve("o2", "bob", &[("moutai", 1)]).unwrap();

    let Ok(Applied::Stock(retried)) = shop.apply_as(&request("restock-1"), restock) else {
        panic!("a retried restock answers with the stock change");
    };
    let retried_hold = receipt(shop.apply_as(&request("reserve-1"), reserve_op("o1", 1))).unwrap();
    assert_eq!(retried.log_index, first.log_index, "the restock took effect at its first index");
    assert_eq!(retried_hold.log_index, held.log_index, "the hold was taken at its first index");
    assert!(shop.state.last_log_index() > held.log_index + 2);
}

#[test]
fn a_retry_of_a_rejection_returns_the_same_rejection() {
    let mut shop = Shop::with_one_sku(1, SaleRules::default());
    let first = shop.apply_as(&request("too-many"), reserve_op("o1", 2));
    assert!(matches!(first, Err(Rejection::OutOfStock { .. })));
    shop.receive("bottle", "wh", 10);
    // Stock arrived since, but a retry is the same request: it gets the first answer.
    assert_eq!(shop.apply_as(&request("too-many"), reserve_op("o1", 2)), first);
}

#[test]
fn the_same_request_id_with_a_different_payload_is_already_exists() {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    shop.apply_as(&request("r1"), reserve_op("o1", 1)).unwrap();
    let before = shop.observable();
    let conflict = shop.apply_as(&request("r1"), reserve_op("o1", 2));
    assert!(matches!(conflict, Err(Rejection::AlreadyExists { kind: EntityKind::Request, .. })));
    assert_eq!(before, shop.observable());
}

#[test]
fn input_errors_are_not_remembered_so_a_corrected_request_may_reuse_the_id() {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    let bad = shop.apply_as(&request("r1"), reserve_op("o1", 0));
    assert!(matches!(bad, Err(Rejection::InvalidArgument(_))));
    assert!(!shop.state.remembers_request(&request("r1")));
    shop.apply_as(&request("r1"), reserve_op("o1", 1)).unwrap();
}

#[test]
fn a_second_order_with_an_existing_hold_id_is_already_exists() {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    shop.reserve("o1", "alice", &[("moutai", 1)]).unwrap();
    let twice = shop.reserve("o1", "alice", &[("moutai", 1)]);
    assert!(matches!(twice, Err(Rejection::AlreadyExists { kind: EntityKind::Hold, .. })));
    assert_eq!(shop.level("bottle", "wh").held, 1);
}

#[test]
fn request_ids_are_forgotten_after_the_window_by_the_expire_command() {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    shop.apply_as(&request("r1"), reserve_op("o1", 1)).unwrap();
    shop.advance(IDEMPOTENCY_WINDOW_MS - 1);
    assert_eq!(shop.expire().request_ids_forgotten, 0);
    assert!(shop.state.remembers_request(&request("r1")));
    shop.advance(1);
    let report = shop.expire();
    assert_eq!(report.request_ids_forgotten, 5, "the 4 set-up requests and r1");
    assert_eq!(shop.state.request_ids_remembered(), 0);
    // Even then the order cannot be applied twice: its hold id is still taken.
    let late_retry = shop.apply_as(&request("r1"), reserve_op("o1", 1));
    assert!(matches!(late_retry, Err(Rejection::AlreadyExists { kind: EntityKind::Hold, .. })));
}

#[test]
fn the_clock_never_goes_back_when_a_new_leader_has_a_slower_clock() {
    let mut shop = Shop::with_one_sku(10, SaleRules { hold_ttl_ms: 60_000, ..SaleRules::default() });
    shop.reserve("o1", "alice", &[("moutai", 1)]).unwrap();
    let expires_at = shop.state.hold(&hold_id("o1")).unwrap().expires_at_ms.unwrap();
    shop.advance(60_000);
    shop.expire();
    assert_eq!(shop.hold_state("o1"), HoldState::Expired);
    let clock = shop.state.clock_ms();
    assert_eq!(clock, expires_at);

    // The next leader's clock is 30 s behind: log time stays where it was.
    shop.now_ms -= 30_000;
    let hold = shop.reserve("o2", "bob", &[("moutai", 1)]).unwrap();
    assert_eq!(shop.state.clock_ms(), clock);
    assert_eq!(hold.expires_at_ms, Some(clock + 60_000), "TTL counts from log time, not the slow clock");
}

#[test]
fn expire_works_off_a_backlog_in_bounded_steps() {
    let mut shop = Shop::with_one_sku(EXPIRE_BATCH_MAX as u32 + 5, SaleRules::default());
    shop.check_every_command = false;
    for n in 0..EXPIRE_BATCH_MAX + 5 {
        shop.reserve(&format!("o{n}"), &format!("b{n}"), &[("moutai", 1)]).unwrap();
    }
    shop.advance(SaleRules::default().hold_ttl_ms);
    let first = shop.expire();
    assert_eq!((first.holds_expired as usize, first.more_due), (EXPIRE_BATCH_MAX, true));
    let second = shop.expire();
    assert_eq!((second.holds_expired, second.more_due), (5, false));
    shop.state.check_invariants().unwrap();
}

#[test]
fn closed_holds_are_pruned_after_retention_and_shipped_units_stop_counting_then() {
    let rules = SaleRules { units_per_buyer_max: Some(1), ..SaleRules::default() };
    let mut shop = Shop::with_one_sku(10, rules);
    shop.reserve("o1", "alice", &[("moutai", 1)]).unwrap();
    shop.confirm("o1").unwrap();
    shop.ship("o1").unwrap();
    shop.advance(CLOSED_HOLD_RETENTION_MS - 1);
    assert_eq!(shop.expire().closed_holds_pruned, 0);
    assert!(matches!(shop.reserve("o2", "alice", &[("moutai", 1)]), Err(Rejection::LimitExceeded { .. })));
    shop.advance(1);
    assert_eq!(shop.expire().closed_holds_pruned, 1);
    assert!(shop.state.hold(&hold_id("o1")).is_none());
    shop.reserve("o2", "alice", &[("moutai", 1)]).unwrap();
}

#[test]
fn a_reheld_hold_is_not_pruned_by_its_stale_expiry_entry() {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    shop.reserve("o1", "alice", &[("moutai", 1)]).unwrap();
    shop.advance(SaleRules::default().hold_ttl_ms);
    shop.expire();
    shop.confirm("o1").unwrap();
    shop.advance(CLOSED_HOLD_RETENTION_MS);
    assert_eq!(shop.expire().closed_holds_pruned, 0);
    assert_eq!(shop.hold_state("o1"), HoldState::Confirmed);
}

#[test]
#[should_panic(expected = "applied after")]
fn applying_the_log_out_of_order_stops_loudly() {
    let mut state = State::new();
    state.apply(5, &Command { now_ms: 0, body: CommandBody::Expire }).unwrap();
    let _ = state.apply(4, &Command { now_ms: 0, body: CommandBody::Expire });
}

#[test]
fn the_request_table_and_the_ledger_forget_their_oldest_entries_past_their_limits() {
    let mut shop = Shop::with_one_sku(0, SaleRules::default());
    shop.check_every_command = false;
    let receipts = IDEMPOTENCY_ENTRIES_MAX.max(LEDGER_RETENTION_ENTRIES) + 1;
    for n in 0..receipts {
        shop.apply_as(&request(&format!("receipt-{n}")), Op::ReceiveStock(Shop::figure("bottle", "wh", 1))).unwrap();
    }
    assert_eq!(shop.state.request_ids_remembered(), IDEMPOTENCY_ENTRIES_MAX);
    assert!(!shop.state.remembers_request(&request("receipt-0")), "the oldest is forgotten first");
    assert!(shop.state.remembers_request(&request(&format!("receipt-{}", receipts - 1))));
    assert_eq!(shop.state.ledger_len(), LEDGER_RETENTION_ENTRIES);
    let oldest = shop.state.ledger(&LedgerQuery { limit: 1, ..Default::default() }).unwrap();
    assert_eq!(oldest[0].seq, (receipts + 1 - LEDGER_RETENTION_ENTRIES) as u64, "seq stays gapless");
    assert_eq!(shop.level("bottle", "wh").on_hand, receipts as u32);
    shop.state.check_invariants().unwrap();
}
