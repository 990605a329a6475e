//! Bulk import: catalog and stock-figure requests in one all-or-nothing batch. Either every
//! request is applied, or the ledger (catalog, stock, audit ledger, idempotency table) is
//! exactly as it was, and the answer names the request that was refused.

mod support;

use stockraft_core::*;
use support::*;

fn request(id: &str, op: Op) -> Request {
    Request::unchecked(RequestId::new(id).unwrap(), op)
}

fn import_lines() -> Vec<Request> {
    vec![
        request(
            "w1",
            Op::UpsertWarehouse(UpsertWarehouse {
                id: warehouse_id("bj-01"),
                name: "Beijing".into(),
                region: "north".into(),
                priority: 1,
                active: true,
            }),
        ),
        request("i1", Op::UpsertItem(UpsertItem { id: item_id("tea"), name: "Tea".into() })),
        request(
            "s1",
            Op::UpsertSku(UpsertSku {
                id: sku_id("tea-box"),
                components: [(item_id("tea"), 2)].into(),
                rules: SaleRules::default(),
            }),
        ),
        request("c1", Op::CountStock(Shop::figure("tea", "bj-01", 40))),
    ]
}

/// What a refused batch must leave as it was: everything observable, the catalog (warehouses,
/// items, SKUs) and the request ids remembered. (The clock and log position always advance.)
fn unchanged(shop: &Shop) -> String {
    let warehouses = shop.state.warehouses().len();
    let items: Vec<String> = shop.state.item_ids().map(ToString::to_string).collect();
    let skus: Vec<String> = shop.state.sku_ids().map(ToString::to_string).collect();
    format!(
        "{}\nwarehouses {warehouses} items {items:?} skus {skus:?} request ids {}",
        shop.observable(),
        shop.state.request_ids_remembered()
    )
}

fn outcomes(outcome: Outcome) -> Vec<Outcome> {
    match outcome {
        Ok(Applied::Batch(outcomes)) => outcomes,
        other => panic!("an all-or-nothing batch answered {other:?}"),
    }
}

#[test]
fn a_valid_batch_is_applied_whole_in_order() {
    let mut shop = Shop::new();
    let answers = outcomes(shop.command(CommandBody::AllOrNothing(import_lines())));
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    // The SKU could name the item created two requests before it, in the same batch.
    assert_eq!(shop.available("tea-box"), 20);
    assert_eq!(shop.level("tea", "bj-01").on_hand, 40);
}

#[test]
fn one_bad_request_leaves_everything_as_it_was_and_is_named() {
    let mut shop = Shop::new();
    let before = unchanged(&shop);
    let mut lines = import_lines();
    // A count for a warehouse that neither exists nor is created by the batch.
    lines.insert(3, request("c0", Op::CountStock(Shop::figure("tea", "nowhere", 5))));
    let answers = outcomes(shop.command(CommandBody::AllOrNothing(lines.clone())));

    assert!(matches!(answers[3], Err(Rejection::NotFound { kind: EntityKind::Warehouse, .. })), "{answers:?}");
    for (n, answer) in answers.iter().enumerate().filter(|(n, _)| *n != 3) {
        assert_eq!(answer, &Err(Rejection::NotApplied { refused_at: 3 }), "request {n}");
        let message = answer.as_ref().unwrap_err().to_string();
        assert!(message.contains("not applied: request 4"), "request {n}: {message}");
    }
    assert_eq!(unchanged(&shop), before, "a refused batch changes nothing, not even the idempotency table");

    // Fixed and sent again with the same request ids: applied, because none was remembered.
    lines.remove(3);
    let answers = outcomes(shop.command(CommandBody::AllOrNothing(lines)));
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
}

#[test]
fn a_retried_batch_is_answered_from_the_idempotency_table() {
    let mut shop = Shop::new();
    outcomes(shop.command(CommandBody::AllOrNothing(import_lines())));
    // The same requests again (a client that did not see the answer): replayed, not reapplied
    // (the count would otherwise write a second audit entry).
    let answers = outcomes(shop.command(CommandBody::AllOrNothing(import_lines())));
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(shop.state.ledger_len(), 1);
}

#[test]
fn only_catalog_requests_and_bounded_batches_are_taken() {
    let mut shop = Shop::with_one_sku(10, SaleRules::default());
    let before = unchanged(&shop);
    let reserve = request("r1", Op::Reserve(Shop::order("o1", "alice", &[("moutai", 1)])));
    let refused = shop.command(CommandBody::AllOrNothing(vec![reserve])).unwrap_err();
    assert!(refused.to_string().contains("catalog and stock-figure requests only"), "{refused}");
    let refused = shop.command(CommandBody::AllOrNothing(Vec::new())).unwrap_err();
    assert!(refused.to_string().contains("1 to 500"), "{refused}");
    let too_many = (0..=limits::IMPORT_BATCH_MAX)
        .map(|n| {
            request(
                &format!("i{n}"),
                Op::UpsertItem(UpsertItem { id: item_id(&format!("item-{n}")), name: "x".into() }),
            )
        })
        .collect();
    assert!(shop.command(CommandBody::AllOrNothing(too_many)).is_err());
    assert_eq!(unchanged(&shop), before);
}

/// Found by the `command` fuzz target: two requests of one batch under the same request id
/// passed the trial (the idempotency table does not change during it) and then conflicted when
/// applied, tripping the assertion that stops a replica, on every replica at once.
#[test]
fn a_request_id_repeated_inside_a_batch_is_a_conflict_or_a_replay_as_it_is_outside() {
    let mut shop = Shop::new();
    let before = unchanged(&shop);
    let tea = Op::UpsertItem(UpsertItem { id: item_id("tea"), name: "Tea".into() });
    let cup = Op::UpsertItem(UpsertItem { id: item_id("cup"), name: "Cup".into() });
    let conflicting = vec![request("same", tea.clone()), request("same", cup)];
    let answers = outcomes(shop.command(CommandBody::AllOrNothing(conflicting)));
    assert!(matches!(answers[1], Err(Rejection::AlreadyExists { .. })), "{answers:?}");
    assert_eq!(unchanged(&shop), before, "refused whole");

    // The same request twice is one request: applied once, the repeat answered as a replay.
    let repeated = vec![request("twice", tea.clone()), request("twice", tea)];
    let answers = outcomes(shop.command(CommandBody::AllOrNothing(repeated)));
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(shop.state.items().count(), 1);
}
