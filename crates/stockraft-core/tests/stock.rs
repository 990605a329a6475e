//! Warehouse and ERP movements: receipts, counts with shortfalls, safety stock, inbound
//! shipments, and the audit ledger that records every one of them.

mod support;

use stockraft_core::*;
use support::*;

#[test]
fn a_count_below_commitments_is_a_reported_shortfall_not_negative_stock() {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    shop.reserve("o1", "alice", &[("moutai", 4)]).unwrap();
    shop.reserve("o2", "bob", &[("moutai", 3)]).unwrap();
    shop.confirm("o2").unwrap();

    let counted = shop.count("bottle", "wh", 5);
    assert_eq!(counted.shortfall, 2, "4 held + 3 committed, only 5 on the shelf");
    assert_eq!(shop.available("moutai"), 0);
    let report = shop.state.shortfalls();
    assert_eq!((report[0].item.as_str(), report[0].warehouse.as_str(), report[0].units), ("bottle", "wh", 2));

    let entry = shop.state.ledger(&LedgerQuery { op: Some(LedgerOp::CountStock), ..Default::default() }).unwrap();
    assert_eq!(entry.len(), 1);
    assert_eq!((entry[0].deltas.on_hand, entry[0].shortfall_after), (-5, 2));

    // Holds keep their units (never silently dropped); releasing one resolves the shortfall.
    assert_eq!(shop.level("bottle", "wh").held, 4);
    shop.release("o1").unwrap();
    assert!(shop.state.shortfalls().is_empty());
    assert_eq!(shop.available("moutai"), 2);
}

#[test]
fn raising_safety_stock_above_free_stock_is_reported_too() {
    let mut shop = Shop::with_one_sku(5, SaleRules::default());
    shop.reserve("o1", "alice", &[("moutai", 4)]).unwrap();
    match shop.apply(Op::SetSafetyStock(Shop::figure("bottle", "wh", 3))).unwrap() {
        Applied::Stock(change) => assert_eq!((change.level.safety_stock, change.shortfall), (3, 2)),
        other => panic!("{other:?}"),
    }
    assert_eq!(shop.available("moutai"), 0);
}

#[test]
fn receipts_add_to_on_hand() {
    let mut shop = Shop::with_one_sku(5, SaleRules::default());
    let change = shop.receive("bottle", "wh", 7);
    assert_eq!(change.level.on_hand, 12);
    assert_eq!(shop.available("moutai"), 12);
}

#[test]
fn inbound_shipments_track_transit_and_can_be_cancelled() {
    let mut shop = Shop::with_one_sku(0, SaleRules::default());
    let shipment = ShipmentId::new("po-77").unwrap();
    let add = AddInbound {
        shipment: shipment.clone(),
        item: item_id("bottle"),
        warehouse: warehouse_id("wh"),
        units: 50,
        expected_arrival_ms: shop.now_ms + 1_000,
    };
    shop.apply(Op::AddInbound(add.clone())).unwrap();
    assert_eq!(shop.level("bottle", "wh").in_transit, 50);
    assert_eq!(shop.state.inbound().len(), 1);
    assert!(matches!(
        shop.apply(Op::AddInbound(add)),
        Err(Rejection::AlreadyExists { kind: EntityKind::Shipment, .. })
    ));

    shop.apply(Op::CancelInbound { shipment: shipment.clone(), note: "supplier cancelled".into() }).unwrap();
    assert_eq!(shop.level("bottle", "wh").in_transit, 0);
    let received = Op::ReceiveInbound { shipment, received_units: 50, note: "".into() };
    assert!(matches!(shop.apply(received), Err(Rejection::NotFound { kind: EntityKind::Shipment, .. })));
}

#[test]
fn the_ledger_records_every_movement_with_position_time_and_hold() {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    shop.reserve("o1", "alice", &[("moutai", 2)]).unwrap();
    shop.advance(1_000);
    shop.confirm("o1").unwrap();
    shop.ship("o1").unwrap();

    let for_hold = shop.state.ledger(&LedgerQuery { hold: Some(hold_id("o1")), ..Default::default() }).unwrap();
    let ops: Vec<_> = for_hold.iter().map(|entry| entry.op).collect();
    assert_eq!(ops, vec![LedgerOp::Reserve, LedgerOp::Confirm, LedgerOp::Ship]);
    let deltas: Vec<_> = for_hold.iter().map(|e| (e.deltas.on_hand, e.deltas.held, e.deltas.committed)).collect();
    assert_eq!(deltas, vec![(0, 2, 0), (0, -2, 2), (-2, 0, -2)]);
    assert!(for_hold.windows(2).all(|pair| pair[0].seq < pair[1].seq && pair[0].log_index < pair[1].log_index));
    assert_eq!(for_hold[1].at_ms, for_hold[0].at_ms + 1_000);

    // Summing every delta of an item reproduces its stock level.
    let all = shop.state.ledger(&LedgerQuery { item: Some(item_id("bottle")), ..Default::default() }).unwrap();
    let on_hand: i64 = all.iter().map(|e| i64::from(e.deltas.on_hand)).sum();
    assert_eq!(on_hand, i64::from(shop.level("bottle", "wh").on_hand));

    let after_reserve = LedgerQuery { from_ms: Some(for_hold[1].at_ms), ..Default::default() };
    assert_eq!(shop.state.ledger(&after_reserve).unwrap().len(), 2, "confirm and ship");
    let before_confirm =
        LedgerQuery { until_ms: Some(for_hold[1].at_ms), hold: Some(hold_id("o1")), ..Default::default() };
    assert_eq!(shop.state.ledger(&before_confirm).unwrap()[0].op, LedgerOp::Reserve);

    let limited = shop.state.ledger(&LedgerQuery { limit: 1, from_seq: 2, ..Default::default() }).unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].seq, 2);
}

#[test]
fn ledger_queries_name_unknown_filters() {
    let shop = Shop::with_one_sku(1, SaleRules::default());
    let query = LedgerQuery { item: Some(item_id("nope")), ..Default::default() };
    assert!(matches!(shop.state.ledger(&query), Err(Rejection::NotFound { kind: EntityKind::Item, .. })));
}
