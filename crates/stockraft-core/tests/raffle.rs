//! An auditable raffle: entries in a window, a draw by a seed committed before the entries and
//! revealed at the draw, winners' holds as stock allows, and unpaid holds passing down the draw
//! order.

mod support;

use stockraft_core::raffle::{commitment, draw_order};
use stockraft_core::*;
use support::*;

const TTL_MS: u64 = 60_000;
const SEED: &[u8] = b"32 bytes of the back office seed";

/// 3 Moutai for a raffle whose entries open in a minute and close an hour later.
fn raffled_release() -> (Shop, u64, u64) {
    let rules = SaleRules { hold_ttl_ms: TTL_MS, units_per_buyer_max: Some(1), ..SaleRules::default() };
    let mut shop = Shop::with_one_sku(3, rules);
    let (opens, closes) = (shop.now_ms + 60_000, shop.now_ms + 3_660_000);
    let create = CreateRaffle {
        sku: sku_id("moutai"),
        entries_open_at_ms: opens,
        entries_close_at_ms: closes,
        seed_sha256: commitment(SEED),
    };
    assert_eq!(shop.apply(Op::CreateRaffle(create)), Ok(Applied::Updated));
    (shop, opens, closes)
}

fn enter(shop: &mut Shop, hold: &str, buyer: &str, keys: &[&str]) -> Outcome {
    let keys = keys.iter().map(|k| key(k)).collect();
    shop.apply(Op::EnterRaffle(KeyedReserve { reserve: Shop::order(hold, buyer, &[("moutai", 1)]), keys }))
}

fn draw(shop: &mut Shop, seed: &[u8]) -> Outcome {
    shop.apply(Op::DrawRaffle { sku: sku_id("moutai"), seed: seed.to_vec() })
}

/// Ten entrants, entered during the window; the clock is then past the close.
fn entered(shop: &mut Shop, opens: u64, closes: u64) -> Vec<HoldId> {
    shop.now_ms = opens;
    let holds: Vec<HoldId> = (0..10).map(|n| hold_id(&format!("order-{n}"))).collect();
    for (n, hold) in holds.iter().enumerate() {
        assert!(matches!(enter(shop, hold.as_str(), &format!("buyer-{n}"), &[]), Ok(Applied::RaffleEntered(_))));
    }
    shop.now_ms = closes;
    holds
}

#[test]
fn a_raffled_sku_sells_only_through_its_raffle_and_entries_keep_to_their_window() {
    let (mut shop, opens, closes) = raffled_release();
    let refused = shop.reserve("h1", "alice", &[("moutai", 1)]).unwrap_err();
    assert!(matches!(refused, Rejection::Raffle { refusal: RaffleRefusal::SoldByRaffle, .. }), "{refused:?}");
    assert!(refused.to_string().contains("sold by raffle"), "{refused}");
    let early = enter(&mut shop, "h1", "alice", &[]).unwrap_err();
    assert!(matches!(early, Rejection::NotYetOnSale { opens_at_ms, .. } if opens_at_ms == opens), "{early:?}");
    shop.now_ms = opens;
    match enter(&mut shop, "h1", "alice", &["phone:1"]) {
        Ok(Applied::RaffleEntered(receipt)) => assert_eq!(receipt.position, 1, "the first entry"),
        other => panic!("{other:?}"),
    }
    let same_phone = enter(&mut shop, "h2", "mallory", &["phone:1"]).unwrap_err();
    assert!(matches!(same_phone, Rejection::AlreadyExists { kind: EntityKind::RaffleEntry, .. }), "{same_phone:?}");
    let same_order = enter(&mut shop, "h1", "bob", &[]).unwrap_err();
    assert!(matches!(same_order, Rejection::AlreadyExists { kind: EntityKind::Hold, .. }), "{same_order:?}");
    assert!(matches!(shop.reserve("h1", "bob", &[("moutai", 1)]), Err(Rejection::AlreadyExists { .. })));
    shop.now_ms = closes;
    let late = enter(&mut shop, "h3", "carol", &[]).unwrap_err();
    assert!(matches!(late, Rejection::SaleClosed { closed_at_ms, .. } if closed_at_ms == closes), "{late:?}");
    assert_eq!(shop.available("moutai"), 3, "entries take no stock");
}

#[test]
fn the_anti_scalper_rules_judge_every_entry() {
    let (mut shop, opens, _) = raffled_release();
    shop.now_ms = opens;
    shop.apply(Op::BlockBuyer { sku: sku_id("moutai"), buyer: buyer_id("scalper") }).unwrap();
    let blocked = enter(&mut shop, "h1", "scalper", &[]).unwrap_err();
    assert!(matches!(blocked, Rejection::RiskRejected { reason: RiskReason::Blocklisted, .. }), "{blocked:?}");
    let greedy =
        shop.apply(Op::EnterRaffle(KeyedReserve { reserve: Shop::order("h2", "g", &[("moutai", 2)]), keys: vec![] }));
    assert!(matches!(greedy, Err(Rejection::LimitExceeded { .. })), "two bottles against a cap of one: {greedy:?}");
}

#[test]
fn the_draw_reveals_the_seed_and_anyone_can_recompute_the_winners() {
    let (mut shop, opens, closes) = raffled_release();
    let holds = entered(&mut shop, opens, closes);
    shop.now_ms = closes - 1;
    let early = draw(&mut shop, SEED).unwrap_err();
    assert!(matches!(early, Rejection::Raffle { refusal: RaffleRefusal::EntriesOpen, .. }), "{early:?}");
    shop.now_ms = closes;
    let before = shop.observable();
    let wrong = draw(&mut shop, b"another seed of 32 bytes, wrong!").unwrap_err();
    assert!(matches!(wrong, Rejection::Raffle { refusal: RaffleRefusal::SeedMismatch, .. }), "{wrong:?}");
    assert_eq!(shop.observable(), before, "a refused draw changes nothing");

    assert_eq!(
        draw(&mut shop, SEED),
        Ok(Applied::RaffleDrawn { entries: 10, granted: 3, log_index: shop.state.last_log_index() })
    );
    // What anyone can do with the published entries and the revealed seed:
    let raffle = shop.state.raffle(&sku_id("moutai")).unwrap().unwrap();
    let drawn = raffle.draw.as_ref().unwrap();
    assert_eq!(commitment(&drawn.seed), raffle.seed_sha256, "the seed is the one committed to");
    let recomputed = draw_order(&drawn.seed, raffle.entries.iter().map(|e| &e.hold));
    assert_eq!(recomputed, drawn.order);
    let mut everyone = recomputed.clone();
    everyone.sort();
    assert_eq!(everyone, holds);
    // The first three in draw order hold a bottle each; the rest wait in draw order.
    for (n, hold) in drawn.order.iter().enumerate() {
        match n {
            0..3 => assert_eq!(shop.state.hold_state(hold), Ok(HoldState::Held), "winner {n}"),
            _ => assert_eq!(shop.state.waiting(hold).map(|w| w.position), Some(n as u32 - 2), "entrant {n}"),
        }
    }
    let again = draw(&mut shop, SEED).unwrap_err();
    assert!(matches!(again, Rejection::Raffle { refusal: RaffleRefusal::AlreadyDrawn, .. }), "{again:?}");
}

#[test]
fn an_unpaid_winning_hold_passes_to_the_next_entrant_in_draw_order() {
    let (mut shop, opens, closes) = raffled_release();
    entered(&mut shop, opens, closes);
    draw(&mut shop, SEED).unwrap();
    let order = shop.state.raffle(&sku_id("moutai")).unwrap().unwrap().draw.unwrap().order;
    shop.confirm(order[0].as_str()).unwrap();
    shop.release(order[1].as_str()).unwrap();
    assert_eq!(shop.state.hold_state(&order[3]), Ok(HoldState::Held), "the fourth drawn gets the released bottle");
    shop.advance(TTL_MS);
    shop.expire();
    assert_eq!(shop.state.hold_state(&order[2]), Ok(HoldState::Expired), "the third never paid");
    assert_eq!(shop.state.hold_state(&order[4]), Ok(HoldState::Held), "the fifth gets it");
    // The ledger records every grant as a reserve of the entrant's order id.
    let grants = shop.state.ledger(&LedgerQuery { hold: Some(order[4].clone()), ..LedgerQuery::default() }).unwrap();
    assert_eq!(grants.iter().map(|e| e.op).collect::<Vec<_>>(), vec![LedgerOp::Reserve]);
    // A new raffle must wait for those still waiting.
    let create = CreateRaffle {
        sku: sku_id("moutai"),
        entries_open_at_ms: shop.now_ms,
        entries_close_at_ms: shop.now_ms + 1,
        seed_sha256: commitment(SEED),
    };
    let busy = shop.apply(Op::CreateRaffle(create)).unwrap_err();
    assert!(matches!(busy, Rejection::Raffle { refusal: RaffleRefusal::InProgress, .. }), "{busy:?}");
}

#[test]
fn bad_raffles_and_short_seeds_are_refused() {
    let (mut shop, _, _) = raffled_release();
    let short = draw(&mut shop, b"1234").unwrap_err();
    assert!(short.to_string().contains("16 to 64"), "{short}");
    let backwards = CreateRaffle {
        sku: sku_id("moutai"),
        entries_open_at_ms: shop.now_ms + 10,
        entries_close_at_ms: shop.now_ms,
        seed_sha256: [0; 32],
    };
    assert!(matches!(shop.apply(Op::CreateRaffle(backwards)), Err(Rejection::InvalidArgument(_))));
    let unknown = shop.apply(Op::DrawRaffle { sku: sku_id("moutai"), seed: SEED.to_vec() });
    assert!(matches!(unknown, Err(Rejection::Raffle { refusal: RaffleRefusal::EntriesOpen, .. })), "{unknown:?}");
    let mut plain = Shop::with_one_sku(1, SaleRules::default());
    let none = plain.apply(Op::DrawRaffle { sku: sku_id("moutai"), seed: SEED.to_vec() }).unwrap_err();
    assert!(matches!(none, Rejection::NotFound { kind: EntityKind::Raffle, .. }), "{none:?}");
}

#[test]
fn a_raffle_survives_a_snapshot_before_and_after_the_draw() {
    let (mut shop, opens, closes) = raffled_release();
    entered(&mut shop, opens, closes);
    let bytes = shop.state.snapshot();
    let restored = State::restore(&bytes).unwrap();
    assert_eq!(restored.snapshot(), bytes);
    shop.state = restored;
    assert!(
        matches!(shop.reserve("order-1", "x", &[("moutai", 1)]), Err(Rejection::AlreadyExists { .. })),
        "entries are indexed"
    );
    draw(&mut shop, SEED).unwrap();
    let bytes = shop.state.snapshot();
    assert_eq!(State::restore(&bytes).unwrap().snapshot(), bytes);
}

#[test]
fn a_grant_too_large_for_one_command_is_finished_by_the_next_expire() {
    let mut shop = Shop::with_one_sku(0, SaleRules { hold_ttl_ms: TTL_MS, ..SaleRules::default() });
    shop.apply(Op::SetWaitlist { sku: sku_id("moutai"), length_max: 20_000 }).unwrap();
    shop.check_every_command = false;
    let waiting = limits::WAITLIST_GRANTS_PER_COMMAND_MAX + 5;
    for n in 0..waiting {
        let reserve = Shop::order(&format!("h{n}"), &format!("b{n}"), &[("moutai", 1)]);
        shop.apply(Op::ReserveOrWait(KeyedReserve { reserve, keys: vec![] })).unwrap();
    }
    shop.receive("bottle", "wh", waiting as u32);
    assert_eq!(shop.state.availability(&sku_id("moutai")).unwrap().waiting_buyers, 5);
    assert_eq!(shop.state.next_expire_due_ms(), Some(shop.now_ms), "the rest is due at once");
    shop.expire();
    assert_eq!(shop.state.availability(&sku_id("moutai")).unwrap().waiting_buyers, 0);
    shop.state.check_invariants().unwrap();
}
