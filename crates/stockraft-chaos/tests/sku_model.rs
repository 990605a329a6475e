//! The SKU model against small histories whose verdict is known: the chaos checker accepts
//! what a correct cluster can answer and rejects the bugs it exists to catch.

use stockraft_chaos::model::{Input, Output, Refusal, SkuModel, Timed};
use stockraft_check::{Limits, Operation, check};

/// Wall-clock time of the examples: the sale starts at T0 ms; holds live for TTL ms.
const T0: u64 = 1_000_000;
const TTL: u64 = 1_500;

/// An operation invoked at `from` and answered at `to` (ms after T0; the search's clock is ns).
fn op(input: Input, from: u64, to: u64, output: Output) -> Operation<Timed, Output> {
    Operation {
        input: Timed { input, from_wall_ms: T0 + from, by_wall_ms: T0 + to },
        invoked_at: from * 1_000_000,
        completed: Some((to * 1_000_000, output)),
        hint: None,
    }
}

fn reserve(hold: u32, buyer: u32, quantity: u32) -> Input {
    Input::Reserve { hold, buyer, quantity }
}

fn held(at: u64) -> Output {
    Output::Held { expires_at_ms: T0 + at + TTL }
}

/// 3 units on sale; a buyer may have 2 units and 2 open holds; no re-holds.
fn linearizable(history: &[Operation<Timed, Output>]) -> bool {
    check(SkuModel::new(3, 2, 2, 0, TTL), history, Limits::default()).is_linearizable()
}

/// The same shop with one re-hold per hold.
fn linearizable_with_a_rehold(history: &[Operation<Timed, Output>]) -> bool {
    check(SkuModel::new(3, 2, 2, 1, TTL), history, Limits::default()).is_linearizable()
}

fn rehold(hold: u32) -> Input {
    Input::Rehold { hold }
}

fn lapsed(why: Refusal) -> Output {
    Output::Lapsed(Some(why))
}

#[test]
fn a_clean_sale_is_linearizable() {
    let history = [
        op(reserve(1, 1, 1), 0, 5, held(3)),
        op(reserve(2, 2, 2), 1, 6, held(4)),
        op(Input::Read, 7, 8, Output::Available(0)),
        op(reserve(3, 3, 1), 9, 10, Output::OutOfStock),
        op(Input::Release { hold: 2 }, 11, 12, Output::Released),
        op(Input::Confirm { hold: 1 }, 11, 13, Output::Confirmed),
        op(Input::Read, 14, 15, Output::Available(2)),
        op(reserve(4, 1, 2), 16, 17, Output::LimitExceeded),
        op(Input::Restock { units: 5 }, 18, 19, Output::Restocked),
        op(Input::Read, 20, 21, Output::Available(7)),
    ];
    assert!(linearizable(&history));
}

#[test]
fn an_oversell_is_caught() {
    // Three concurrent reserves of 3 units on sale: 1 + 1 + 2 held is one unit too many.
    let history =
        [op(reserve(1, 1, 1), 0, 5, held(1)), op(reserve(2, 2, 1), 0, 5, held(1)), op(reserve(3, 3, 2), 0, 5, held(1))];
    assert!(!linearizable(&history));
}

#[test]
fn a_lost_acknowledgement_is_caught() {
    // The hold was acknowledged, yet a later read (long before its TTL) shows its unit on sale:
    // what a leader that answers before the entry commits looks like after it dies.
    let history = [op(reserve(1, 1, 1), 0, 5, held(2)), op(Input::Read, 10, 11, Output::Available(3))];
    assert!(!linearizable(&history));
}

#[test]
fn holds_come_back_only_after_their_ttl() {
    let early = [op(reserve(1, 1, 1), 0, 5, held(2)), op(Input::Read, 100, 101, Output::Available(3))];
    assert!(!linearizable(&early), "back on sale 100 ms into a 1.5 s TTL");
    let late = [op(reserve(1, 1, 1), 0, 5, held(2)), op(Input::Read, 1_600, 1_601, Output::Available(3))];
    assert!(linearizable(&late), "back on sale after its TTL");
    // A reserve may succeed only because an expired hold gave its units back...
    let reuse = [
        op(reserve(1, 1, 2), 0, 5, held(2)),
        op(reserve(3, 3, 1), 0, 5, held(2)),
        op(reserve(2, 2, 1), 1_600, 1_601, held(1_600)),
        op(Input::Confirm { hold: 1 }, 1_700, 1_701, lapsed(Refusal::LimitReached)),
    ];
    assert!(linearizable(&reuse));
    // ... and a hold that expired cannot be confirmed afterwards.
    let resurrected = [
        op(reserve(1, 1, 2), 0, 5, held(2)),
        op(reserve(3, 3, 1), 0, 5, held(2)),
        op(reserve(2, 2, 1), 1_600, 1_601, held(1_600)),
        op(Input::Confirm { hold: 1 }, 1_700, 1_701, Output::Confirmed),
    ];
    assert!(!linearizable(&resurrected));
}

#[test]
fn expiry_follows_expiry_order() {
    // Hold 1 (2 units) expires before hold 2 (1 unit): units come back 2, then 3.
    let history = [
        op(reserve(1, 1, 2), 0, 5, held(2)),
        op(reserve(2, 2, 1), 10, 15, held(12)),
        op(Input::Read, 2_000, 2_001, Output::Available(2)),
        op(Input::Read, 2_002, 2_003, Output::Available(3)),
    ];
    assert!(linearizable(&history));
    // One unit back means hold 2 expired while hold 1, due earlier, had not: not what the log does.
    let out_of_order = [
        op(reserve(1, 1, 2), 0, 5, held(2)),
        op(reserve(2, 2, 1), 10, 15, held(12)),
        op(Input::Read, 2_000, 2_001, Output::Available(1)),
    ];
    assert!(!linearizable(&out_of_order));
}

#[test]
fn caps_are_enforced() {
    // Buyer 1 may have 2 units: 2 then 1 more is over the cap.
    let history = [op(reserve(1, 1, 2), 0, 5, held(2)), op(reserve(2, 1, 1), 10, 15, held(12))];
    assert!(!linearizable(&history));
    let refused = [op(reserve(1, 1, 2), 0, 5, held(2)), op(reserve(2, 1, 1), 10, 15, Output::LimitExceeded)];
    assert!(linearizable(&refused));
    // Releasing gives the cap back.
    let released = [
        op(reserve(1, 1, 2), 0, 5, held(2)),
        op(Input::Release { hold: 1 }, 6, 7, Output::Released),
        op(reserve(2, 1, 2), 10, 15, held(12)),
    ];
    assert!(linearizable(&released));
}

#[test]
fn an_unknown_restock_may_or_may_not_have_happened() {
    let unknown = Operation {
        input: Timed { input: Input::Restock { units: 2 }, from_wall_ms: T0, by_wall_ms: u64::MAX },
        invoked_at: 0,
        completed: None,
        hint: None,
    };
    let applied = [unknown.clone(), op(Input::Read, 10, 11, Output::Available(5))];
    assert!(linearizable(&applied));
    let not_applied = [unknown.clone(), op(Input::Read, 10, 11, Output::Available(3))];
    assert!(linearizable(&not_applied));
    let half = [unknown, op(Input::Read, 10, 11, Output::Available(4))];
    assert!(!linearizable(&half));
}

#[test]
fn a_rehold_gives_a_fresh_ttl_and_counts_against_the_limit() {
    let history = [
        op(reserve(1, 1, 1), 0, 5, held(2)),
        op(rehold(1), 1_600, 1_601, held(1_600)),
        op(Input::Read, 1_700, 1_701, Output::Available(2)),
        // Within the fresh TTL there is nothing to re-hold.
        op(rehold(1), 1_800, 1_801, Output::InvalidTransition),
        // Past it, the one re-hold allowed has been used.
        op(rehold(1), 3_200, 3_201, lapsed(Refusal::LimitReached)),
        op(Input::Read, 3_300, 3_301, Output::Available(3)),
    ];
    assert!(linearizable_with_a_rehold(&history));
    let twice = [
        op(reserve(1, 1, 1), 0, 5, held(2)),
        op(rehold(1), 1_600, 1_601, held(1_600)),
        op(rehold(1), 3_200, 3_201, held(3_200)),
    ];
    assert!(!linearizable_with_a_rehold(&twice), "a second re-hold past a limit of 1");
    let early = [op(reserve(1, 1, 1), 0, 5, held(2)), op(rehold(1), 100, 101, held(100))];
    assert!(!linearizable_with_a_rehold(&early), "re-held 100 ms into a 1.5 s TTL");
    let stale = [op(reserve(1, 1, 1), 0, 5, held(2)), op(rehold(1), 1_600, 1_601, Output::InvalidTransition)];
    assert!(!linearizable_with_a_rehold(&stale), "told \"still within its TTL\" 100 ms after the TTL ended");
    let none_allowed = [op(reserve(1, 1, 1), 0, 5, held(2)), op(rehold(1), 1_600, 1_601, held(1_600))];
    assert!(!linearizable(&none_allowed), "re-held with a limit of 0");
}

#[test]
fn a_rehold_needs_the_stock_and_the_caps() {
    // Hold 1's two units went to buyer 2 after it expired: only one unit is left.
    let sold = [
        op(reserve(1, 1, 2), 0, 5, held(2)),
        op(reserve(2, 2, 2), 1_600, 1_601, held(1_600)),
        op(rehold(1), 1_700, 1_701, lapsed(Refusal::NoStock)),
    ];
    assert!(linearizable_with_a_rehold(&sold));
    let oversold = [
        op(reserve(1, 1, 2), 0, 5, held(2)),
        op(reserve(2, 2, 2), 1_600, 1_601, held(1_600)),
        op(rehold(1), 1_700, 1_701, held(1_700)),
    ];
    assert!(!linearizable_with_a_rehold(&oversold), "four units held of three");
    let refused_wrongly = [op(reserve(1, 1, 2), 0, 5, held(2)), op(rehold(1), 1_700, 1_701, lapsed(Refusal::NoStock))];
    assert!(!linearizable_with_a_rehold(&refused_wrongly), "its own units were back on sale");
    // Buyer 1 used its cap of 2 units on a new hold while hold 1 was expired.
    let capped = [
        op(reserve(1, 1, 1), 0, 5, held(2)),
        op(reserve(2, 1, 2), 1_600, 1_601, held(1_600)),
        op(rehold(1), 1_700, 1_701, Output::LimitExceeded),
    ];
    assert!(linearizable_with_a_rehold(&capped));
    let over_cap = [
        op(reserve(1, 1, 1), 0, 5, held(2)),
        op(reserve(2, 1, 2), 1_600, 1_601, held(1_600)),
        op(rehold(1), 1_700, 1_701, held(1_700)),
    ];
    assert!(!linearizable_with_a_rehold(&over_cap), "buyer 1 at 3 units, cap 2");
}

#[test]
fn a_late_confirm_re_holds_and_pays_in_one_step() {
    let paid = [
        op(reserve(1, 1, 2), 0, 5, held(2)),
        op(Input::Confirm { hold: 1 }, 1_700, 1_701, Output::Confirmed),
        op(Input::Read, 1_800, 1_801, Output::Available(1)),
    ];
    assert!(linearizable_with_a_rehold(&paid));
    // A re-held hold that lapsed again has used its one re-hold: a late confirm is refused.
    let spent = [
        op(reserve(1, 1, 2), 0, 5, held(2)),
        op(rehold(1), 1_600, 1_601, held(1_600)),
        op(Input::Confirm { hold: 1 }, 3_200, 3_201, Output::Confirmed),
        op(Input::Read, 3_300, 3_301, Output::Available(1)),
    ];
    assert!(
        !linearizable_with_a_rehold(&spent),
        "invoked after its re-held TTL had passed, the confirm had to be refused: the one re-hold was spent"
    );
    // The same confirm while the re-held TTL may not have passed yet is paid directly.
    let in_time = [
        op(reserve(1, 1, 2), 0, 5, held(2)),
        op(rehold(1), 1_600, 1_601, held(1_600)),
        op(Input::Confirm { hold: 1 }, 3_000, 3_201, Output::Confirmed),
        op(Input::Read, 3_300, 3_301, Output::Available(1)),
    ];
    assert!(linearizable_with_a_rehold(&in_time), "it may have been HELD when the leader applied it");
    let spent_read = [
        op(reserve(1, 1, 2), 0, 5, held(2)),
        op(rehold(1), 1_600, 1_601, held(1_600)),
        op(Input::Read, 3_200, 3_201, Output::Available(3)),
        op(Input::Confirm { hold: 1 }, 3_300, 3_301, Output::Confirmed),
    ];
    assert!(!linearizable_with_a_rehold(&spent_read), "seen expired, then paid past its limit");
}

#[test]
fn a_hold_whose_expiry_is_not_a_fresh_ttl_from_when_it_was_taken_is_caught() {
    // A re-hold that kept the lapsed expiry instead of starting a fresh TTL.
    let stale = [op(reserve(1, 1, 1), 0, 5, held(2)), op(rehold(1), 1_600, 1_601, held(2))];
    assert!(!linearizable_with_a_rehold(&stale), "re-held with an expiry already past");
    // A reserve whose expiry says it was taken 100 ms before the call was even sent.
    let backdated = [op(reserve(1, 1, 1), 1_000, 1_005, held(900))];
    assert!(!linearizable(&backdated));
    // Taken anywhere inside the call's window, with the clock slack at either end: fine.
    assert!(linearizable(&[op(reserve(1, 1, 1), 1_000, 1_005, held(998))]));
    assert!(linearizable(&[op(reserve(1, 1, 1), 1_000, 1_005, held(1_007))]));
}
