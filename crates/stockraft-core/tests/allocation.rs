//! Where units come from: region first, then priority; one warehouse per line when possible;
//! splits only where allowed; presale only up to the cap; bundles ship whole from one warehouse.

mod support;

use stockraft_core::*;
use support::*;

/// Three warehouses: `north-a` (priority 1) and `north-b` (priority 2) in the north, `south`
/// (priority 0) in the south, each with `units` bottles.
fn network(units: u32, rules: SaleRules) -> Shop {
    let mut shop = Shop::new();
    shop.warehouse("north-a", "north", 1);
    shop.warehouse("north-b", "north", 2);
    shop.warehouse("south", "south", 0);
    shop.item("bottle");
    shop.sku("moutai", &[("bottle", 1)], rules);
    for warehouse in ["north-a", "north-b", "south"] {
        shop.receive("bottle", warehouse, units);
    }
    shop
}

fn from_region(region: &str, quantity: u32) -> Reserve {
    Reserve { region: Some(region.into()), ..Shop::order("order", "alice", &[("moutai", quantity)]) }
}

#[test]
fn without_a_region_the_lowest_priority_number_wins() {
    let mut shop = network(5, SaleRules::default());
    let hold = shop.reserve("order", "alice", &[("moutai", 1)]).unwrap();
    assert_eq!(shop.picks(&hold), vec![("south".into(), 1)]);
}

#[test]
fn the_buyers_region_comes_before_priority() {
    let mut shop = network(5, SaleRules::default());
    let hold = shop.reserve_order(from_region("north", 2)).unwrap();
    assert_eq!(shop.picks(&hold), vec![("north-a".into(), 2)]);
}

#[test]
fn a_whole_line_from_one_warehouse_beats_a_preferred_partial_one() {
    let mut shop = network(5, SaleRules { allow_split: true, ..SaleRules::default() });
    shop.count("bottle", "north-a", 1);
    let hold = shop.reserve_order(from_region("north", 3)).unwrap();
    assert_eq!(shop.picks(&hold), vec![("north-b".into(), 3)], "north-b has all 3; no split needed");
}

#[test]
fn a_line_splits_only_when_the_sku_allows_it() {
    let mut shop = network(2, SaleRules::default());
    let refused = shop.reserve("order", "alice", &[("moutai", 5)]);
    assert_eq!(refused, Err(Rejection::OutOfStock { sku: sku_id("moutai"), requested: 5, available: 2 }));

    let mut shop = network(2, SaleRules { allow_split: true, ..SaleRules::default() });
    let hold = shop.reserve_order(from_region("north", 5)).unwrap();
    assert_eq!(shop.picks(&hold), vec![("north-a".into(), 2), ("north-b".into(), 2), ("south".into(), 1)]);
}

#[test]
fn inactive_warehouses_are_never_allocated_from() {
    let mut shop = network(5, SaleRules::default());
    shop.deactivate("south");
    let hold = shop.reserve("order", "alice", &[("moutai", 1)]).unwrap();
    assert_eq!(shop.picks(&hold), vec![("north-a".into(), 1)]);
    assert_eq!(shop.level("bottle", "south").on_hand, 5, "its stock is still counted");
}

#[test]
fn safety_stock_is_never_offered() {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    shop.apply(Op::SetSafetyStock(Shop::figure("bottle", "wh", 8))).unwrap();
    assert_eq!(shop.available("moutai"), 2);
    assert!(matches!(shop.reserve("big", "alice", &[("moutai", 3)]), Err(Rejection::OutOfStock { available: 2, .. })));
    shop.reserve("ok", "alice", &[("moutai", 2)]).unwrap();
}

#[test]
fn one_unit_of_a_bundle_ships_whole_from_one_warehouse() {
    let mut shop = Shop::new();
    shop.warehouse("a", "east", 0);
    shop.warehouse("b", "east", 1);
    shop.item("bottle");
    shop.item("glass");
    let rules = SaleRules { allow_split: true, ..SaleRules::default() };
    shop.sku("gift-box", &[("bottle", 2), ("glass", 1)], rules);
    // Warehouse a has bottles but no glasses; b has one box's worth.
    shop.receive("bottle", "a", 10);
    shop.receive("bottle", "b", 2);
    shop.receive("glass", "b", 5);
    assert_eq!(shop.available("gift-box"), 1);

    let hold = shop.reserve("box", "alice", &[("gift-box", 1)]).unwrap();
    assert_eq!(shop.picks(&hold), vec![("b".into(), 2), ("b".into(), 1)]);
    assert!(matches!(shop.reserve("box-2", "bob", &[("gift-box", 1)]), Err(Rejection::OutOfStock { .. })));
}

#[test]
fn a_multi_line_reserve_is_all_or_nothing() {
    let mut shop = Shop::with_one_sku(3, SaleRules::default());
    shop.item("glass");
    shop.receive("glass", "wh", 1);
    shop.sku("glass", &[("glass", 1)], SaleRules::default());
    let before = shop.observable();
    let refused = shop.reserve("cart", "alice", &[("moutai", 2), ("glass", 2)]);
    assert!(matches!(refused, Err(Rejection::OutOfStock { .. })));
    assert_eq!(before, shop.observable(), "the moutai line must not stay held");
}

#[test]
fn lines_sharing_an_item_see_each_others_allocations() {
    let mut shop = Shop::with_one_sku(3, SaleRules::default());
    shop.sku("twin-pack", &[("bottle", 2)], SaleRules::default());
    let refused = shop.reserve("cart", "alice", &[("moutai", 2), ("twin-pack", 1)]);
    assert!(matches!(refused, Err(Rejection::OutOfStock { .. })), "2 + 2 bottles > 3");
    shop.reserve("cart", "alice", &[("moutai", 1), ("twin-pack", 1)]).unwrap();
    assert_eq!(shop.level("bottle", "wh").held, 3);
}

mod presale {
    use super::*;

    fn presale_shop(on_hand: u32, inbound: u32, cap: u32) -> Shop {
        let mut shop = Shop::with_one_sku(on_hand, SaleRules { presale_units_max: cap, ..SaleRules::default() });
        shop.sku("no-presale", &[("bottle", 1)], SaleRules::default());
        let inbound = AddInbound {
            shipment: ShipmentId::new("ship-1").unwrap(),
            item: item_id("bottle"),
            warehouse: warehouse_id("wh"),
            units: inbound,
            expected_arrival_ms: shop.now_ms + 3 * 24 * 60 * MINUTE_MS,
        };
        shop.apply(Op::AddInbound(inbound)).unwrap();
        shop
    }

    #[test]
    fn in_transit_units_sell_only_for_presale_skus_and_only_up_to_the_cap() {
        let mut shop = presale_shop(1, 100, 3);
        let availability = shop.state.availability(&sku_id("moutai")).unwrap();
        assert_eq!((availability.sellable_units, availability.presale_units), (1, 3));
        assert!(matches!(shop.reserve("plain", "zed", &[("no-presale", 2)]), Err(Rejection::OutOfStock { .. })));

        let hold = shop.reserve("p1", "alice", &[("moutai", 3)]).unwrap();
        assert_eq!(shop.state.hold(&hold.hold).unwrap().lines[0].presale_units, 2, "1 on hand, 2 presold");
        shop.reserve("p2", "bob", &[("moutai", 1)]).unwrap();
        let over = shop.reserve("p3", "carol", &[("moutai", 1)]);
        assert!(matches!(over, Err(Rejection::OutOfStock { .. })), "cap of 3 presale units reached: {over:?}");
        // Presold units are not on-hand units: the plain SKU still sees none.
        assert_eq!(shop.available("no-presale"), 0);

        shop.release("p1").unwrap();
        assert_eq!(shop.state.availability(&sku_id("moutai")).unwrap().presale_units, 2);
    }

    #[test]
    fn receiving_the_shipment_turns_transit_into_on_hand() {
        let mut shop = presale_shop(0, 10, 5);
        shop.reserve("p1", "alice", &[("moutai", 4)]).unwrap();
        shop.confirm("p1").unwrap();
        assert_eq!(shop.ship("p1"), Err(Rejection::NotYetArrived { hold: hold_id("p1") }));

        let arrived =
            Op::ReceiveInbound { shipment: ShipmentId::new("ship-1").unwrap(), received_units: 10, note: "".into() };
        let change = shop.apply(arrived).unwrap();
        assert!(matches!(change, Applied::Stock(StockChange { shortfall: 0, .. })));
        let level = shop.level("bottle", "wh");
        assert_eq!((level.on_hand, level.in_transit, level.committed), (10, 0, 4));
        assert_eq!(shop.available("no-presale"), 6);
        shop.ship("p1").unwrap();
    }

    #[test]
    fn a_short_delivery_or_cancelled_shipment_is_reported_as_a_shortfall() {
        let mut shop = presale_shop(0, 10, 5);
        shop.reserve("p1", "alice", &[("moutai", 5)]).unwrap();
        let short =
            Op::ReceiveInbound { shipment: ShipmentId::new("ship-1").unwrap(), received_units: 3, note: "".into() };
        match shop.apply(short).unwrap() {
            Applied::Stock(change) => assert_eq!(change.shortfall, 2),
            other => panic!("{other:?}"),
        }
        let report = shop.state.shortfalls();
        assert_eq!(report.len(), 1);
        assert_eq!(report[0].units, 2);
        assert_eq!(shop.available("moutai"), 0, "available never goes negative");
    }
}

#[test]
fn stock_at_the_limits_in_many_warehouses_never_overflows() {
    use stockraft_core::limits::{LINE_QUANTITY_MAX, STOCK_QUANTITY_MAX};
    let mut shop = Shop::new();
    shop.item("bottle");
    shop.sku("moutai", &[("bottle", 1)], SaleRules { allow_split: true, ..SaleRules::default() });
    for n in 0..6 {
        let warehouse = format!("wh-{n}");
        shop.warehouse(&warehouse, "east", n);
        shop.receive("bottle", &warehouse, STOCK_QUANTITY_MAX);
    }
    // 6 x 10^9 units: more than a u32 holds. Availability saturates instead of wrapping.
    assert_eq!(shop.available("moutai"), u32::MAX);
    let hold = shop.reserve("big", "alice", &[("moutai", LINE_QUANTITY_MAX)]).unwrap();
    assert_eq!(shop.picks(&hold), vec![("wh-0".into(), LINE_QUANTITY_MAX)]);
}
