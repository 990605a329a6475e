//! The flash sale the product exists for: many buyers, one hot SKU, exactly the stock sold.

mod support;

use stockraft_core::*;
use support::*;

const UNITS: u32 = 10_000;

/// 10,000 units; 10,000 buyers each try for one, interleaved the way a leader would see them
/// arrive from many connections (each buyer's retry, some greedy buyers, some abandoned carts),
/// in batches and one by one. Exactly 10,000 are sold: never one more, never one less.
#[test]
fn ten_thousand_reserves_against_ten_thousand_units_sell_exactly_ten_thousand() {
    let rules = SaleRules { units_per_buyer_max: Some(1), ..SaleRules::default() };
    let mut shop = Shop::with_one_sku(UNITS, rules);
    shop.check_every_command = false;

    let order = |buyer: u32| Shop::order(&format!("order-{buyer}"), &format!("buyer-{buyer}"), &[("moutai", 1)]);
    let mut held = 0u32;
    let mut sold_out = 0u32;
    let mut record = |outcome: &Outcome| match outcome {
        Ok(_) => held += 1,
        Err(Rejection::OutOfStock { .. }) => sold_out += 1,
        Err(other) => panic!("unexpected {other:?}"),
    };

    // A greedy buyer goes first and is capped at one unit.
    record(&shop.apply(Op::Reserve(order(0))));
    let greedy = Reserve { hold: hold_id("greedy-2"), ..order(0) };
    assert!(matches!(shop.apply(Op::Reserve(greedy)), Err(Rejection::LimitExceeded { .. })));

    // Buyers 1..=12,000 arrive; every third one through the batch RPC, 64 at a time.
    let mut buyer = 1;
    while buyer <= 12_000 {
        if buyer % 3 == 0 {
            let batch: Vec<Request> = (buyer..(buyer + 64).min(12_001))
                .map(|b| Request::new(RequestId::new(&format!("r-{b}")).unwrap(), Op::Reserve(order(b))).unwrap())
                .collect();
            buyer += batch.len() as u32;
            let Ok(Applied::Batch(outcomes)) = shop.command(CommandBody::Batch(batch)) else { panic!() };
            outcomes.iter().for_each(&mut record);
        } else {
            let request_id = RequestId::new(&format!("r-{buyer}")).unwrap();
            let outcome = shop.apply_as(&request_id, Op::Reserve(order(buyer)));
            // A client that timed out retries with the same request id: answered, not re-applied.
            if buyer % 7 == 0 {
                assert_eq!(shop.apply_as(&request_id, Op::Reserve(order(buyer))), outcome);
            }
            record(&outcome);
            buyer += 1;
        }
    }

    assert_eq!(held, UNITS, "exactly the stock is held");
    assert_eq!(sold_out, 12_000 + 1 - UNITS);
    let level = shop.level("bottle", "wh");
    assert_eq!((level.held, level.on_hand, level.available()), (UNITS, UNITS, 0));
    shop.state.check_invariants().unwrap();

    // Abandoned carts are released; their units are sold again, still never beyond the stock.
    for abandoned in (1..=400).map(|b| b * 7) {
        shop.release(&format!("order-{abandoned}")).ok();
    }
    let released = UNITS - shop.level("bottle", "wh").held;
    let mut resold = 0;
    for late in 20_000..21_000 {
        if shop.apply(Op::Reserve(order(late))).is_ok() {
            resold += 1;
        }
    }
    assert_eq!(resold, released);
    assert_eq!(shop.level("bottle", "wh").held, UNITS);
    shop.state.check_invariants().unwrap();
}
