//! Bad input gets a clear error and changes nothing.

mod support;

use stockraft_core::limits::*;
use stockraft_core::*;
use support::*;

/// Applies `op` (built unchecked, as a faulty leader could propose it), expects
/// `InvalidArgument` or `NotFound`, and checks nothing changed.
fn refused(shop: &mut Shop, op: Op) -> Rejection {
    let before = shop.observable();
    let rejection = shop.apply(op).expect_err("must be refused");
    assert!(rejection.is_input_error(), "{rejection:?}");
    assert_eq!(before, shop.observable());
    rejection
}

/// A shape error: refused where the request is built, so it never reaches the log, with the
/// same answer the ledger gives when it applies it anyway.
fn refused_at_the_edge(shop: &mut Shop, op: Op) -> Rejection {
    let edge = Request::new(RequestId::new("edge").unwrap(), op.clone()).expect_err("must be refused before the log");
    let applied = refused(shop, op);
    assert_eq!(edge, applied);
    applied
}

fn shop() -> Shop {
    Shop::with_one_sku(10, SaleRules::default())
}

#[test]
fn zero_and_oversized_quantities() {
    let mut shop = shop();
    refused_at_the_edge(&mut shop, Op::Reserve(Shop::order("o", "a", &[("moutai", 0)])));
    refused_at_the_edge(&mut shop, Op::Reserve(Shop::order("o", "a", &[("moutai", LINE_QUANTITY_MAX + 1)])));
    refused_at_the_edge(&mut shop, Op::ReceiveStock(Shop::figure("bottle", "wh", 0)));
    refused_at_the_edge(&mut shop, Op::ReceiveStock(Shop::figure("bottle", "wh", STOCK_QUANTITY_MAX + 1)));
    refused(&mut shop, Op::ReceiveStock(Shop::figure("bottle", "wh", STOCK_QUANTITY_MAX)));
}

#[test]
fn empty_duplicate_and_too_many_lines() {
    let mut shop = shop();
    let message = refused_at_the_edge(&mut shop, Op::Reserve(Shop::order("o", "a", &[])));
    assert!(message.to_string().contains("at least one line"), "{message}");
    refused_at_the_edge(&mut shop, Op::Reserve(Shop::order("o", "a", &[("moutai", 1), ("moutai", 1)])));
    let many: Vec<(&str, u32)> = vec![("moutai", 1); RESERVE_LINES_MAX + 1];
    refused_at_the_edge(&mut shop, Op::Reserve(Shop::order("o", "a", &many)));
}

#[test]
fn unknown_ids_are_not_found() {
    let mut shop = shop();
    let unknown = refused(&mut shop, Op::Reserve(Shop::order("o", "a", &[("ghost", 1)])));
    assert_eq!(unknown, Rejection::NotFound { kind: EntityKind::Sku, id: "ghost".into() });
    refused(&mut shop, Op::Confirm { hold: hold_id("ghost") });
    refused(&mut shop, Op::ReceiveStock(Shop::figure("ghost", "wh", 1)));
    refused(&mut shop, Op::ReceiveStock(Shop::figure("bottle", "ghost", 1)));
    refused(
        &mut shop,
        Op::UpsertSku(UpsertSku {
            id: sku_id("s"),
            components: vec![(item_id("ghost"), 1)],
            rules: SaleRules::default(),
        }),
    );
    refused(&mut shop, Op::BlockBuyer { sku: sku_id("ghost"), buyer: buyer_id("b") });
}

#[test]
fn malformed_skus_and_rules() {
    let mut shop = shop();
    let sku = |components: Vec<(ItemId, u32)>, rules: SaleRules| {
        Op::UpsertSku(UpsertSku { id: sku_id("s"), components, rules })
    };
    refused_at_the_edge(&mut shop, sku(vec![], SaleRules::default()));
    refused_at_the_edge(&mut shop, sku(vec![(item_id("bottle"), 0)], SaleRules::default()));
    refused_at_the_edge(&mut shop, sku(vec![(item_id("bottle"), 1), (item_id("bottle"), 1)], SaleRules::default()));
    refused_at_the_edge(
        &mut shop,
        sku(vec![(item_id("bottle"), 1)], SaleRules { hold_ttl_ms: 0, ..SaleRules::default() }),
    );
    let many_rules = vec![RiskRule { when: RiskCondition::default(), action: RiskAction::Allow }; RISK_RULES_MAX + 1];
    refused_at_the_edge(
        &mut shop,
        sku(vec![(item_id("bottle"), 1)], SaleRules { risk_rules: many_rules, ..SaleRules::default() }),
    );
}

#[test]
fn oversized_names_and_control_characters() {
    let mut shop = shop();
    let long = "x".repeat(NAME_LEN_MAX + 1);
    refused_at_the_edge(&mut shop, Op::UpsertItem(UpsertItem { id: item_id("i"), name: long.as_str().into() }));
    refused_at_the_edge(&mut shop, Op::UpsertItem(UpsertItem { id: item_id("i"), name: "bad\nname".into() }));
}

#[test]
fn ids_are_validated_when_built_and_when_decoded() {
    assert!(HoldId::new("").is_err());
    assert!(HoldId::new(&"x".repeat(ID_LEN_MAX + 1)).is_err());
    // A command decoded from the log with a malformed id is refused by the decoder itself.
    let good = Op::Confirm { hold: hold_id("abc") };
    let mut bytes = postcard::to_allocvec(&good).unwrap();
    let at = bytes.len() - 2;
    bytes[at] = b' ';
    assert!(postcard::from_bytes::<Op>(&bytes).is_err());
}

#[test]
fn batches_must_be_non_empty_and_within_the_limit() {
    let mut shop = shop();
    let reserve = |n: usize| {
        let op = Op::Reserve(Shop::order(&format!("o{n}"), "a", &[("moutai", 1)]));
        Request::new(RequestId::new(&format!("batch-{n}")).unwrap(), op).unwrap()
    };
    let before = shop.observable();
    assert!(matches!(shop.command(CommandBody::Batch(vec![])), Err(Rejection::InvalidArgument(_))));
    let oversized = (0..=RESERVE_BATCH_MAX).map(reserve).collect();
    assert!(matches!(shop.command(CommandBody::Batch(oversized)), Err(Rejection::InvalidArgument(_))));
    assert_eq!(before, shop.observable());

    // A valid batch: each request succeeds or fails on its own, in order. The leader packs
    // whatever calls are waiting into one batch, so kinds mix: here a reserve and its confirm.
    let mut batch: Vec<Request> = (0..12).map(reserve).collect();
    batch.insert(1, Request::new(RequestId::new("confirm-o0").unwrap(), Op::Confirm { hold: hold_id("o0") }).unwrap());
    let Ok(Applied::Batch(outcomes)) = shop.command(CommandBody::Batch(batch)) else { panic!() };
    assert!(matches!(&outcomes[1], Ok(Applied::Hold(receipt)) if receipt.state == HoldState::Confirmed));
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 11);
    assert!(outcomes[11..].iter().all(|o| matches!(o, Err(Rejection::OutOfStock { .. }))));
}
